"""Every way the forwarded credential can be wrong gives an RFC 6750 error that says what to fix.

Over HTTP, through the /v1 check API: status, ``WWW-Authenticate`` challenge, and a message a
newcomer can act on. Tokens come from a local issuer (tests/api/admin/v1kit.py).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from litestar.testing import AsyncTestClient

from tests.api.admin.v1kit import AUDIENCE, ISSUER, Issuer, api_key, bearer, state_of, v1_client

Client = AsyncTestClient[Any]
BODY = {"relation": "viewer", "object": "document:readme"}


def _b64(data: dict[str, Any] | bytes) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jwe() -> str:
    header = {"alg": "dir", "enc": "A256GCM", "iss": ISSUER}
    return f"{_b64(header)}..{_b64(b'iv-iv-iv-iv!')}.{_b64(b'ciphertext' * 20)}.{_b64(b'tag-tag-tag-tag!')}"


def _unsigned(issuer: Issuer) -> str:
    _, payload, _ = issuer.user().split(".")
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."


def _foreign_key(issuer: Issuer) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = issuer.user()
    payload = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "k1", "typ": "JWT"})


def _unknown_kid(issuer: Issuer) -> str:
    payload = jwt.decode(issuer.user(), options={"verify_signature": False})
    return jwt.encode(
        payload, issuer.key, algorithm="RS256", headers={"kid": "rotated-away", "typ": "JWT"}
    )


TokenCase = Callable[[Issuer], str]

CASES: list[Any] = [
    pytest.param(lambda i: i.user(exp=int(time.time()) - 3600), "expired", id="expired"),
    pytest.param(lambda i: i.user(aud="https://other-api"), AUDIENCE, id="wrong_audience"),
    pytest.param(
        lambda i: i.user(iss=ISSUER.rstrip("/")), "slash", id="issuer_without_trailing_slash"
    ),
    pytest.param(lambda i: i.user(iss="https://evil.example.com/"), "issuer", id="foreign_issuer"),
    pytest.param(lambda i: _jwe(), "audience", id="auth0_jwe_without_audience"),
    pytest.param(_unsigned, "none", id="alg_none"),
    pytest.param(_foreign_key, "signature", id="signed_with_another_key"),
    pytest.param(_unknown_kid, "rotated-away", id="unknown_kid"),
    pytest.param(lambda i: "not-a-token", "", id="garbage"),
    pytest.param(lambda i: i.user(sub=None), "sub", id="no_subject"),
]


@pytest.fixture
async def client(issuer: Issuer) -> Any:
    async for c in v1_client(issuer, store="01ARZ3NDEKTSV4RRFFQ69G5FAV"):
        yield c


@pytest.mark.parametrize(("build", "hint"), CASES)
async def test_bad_token_is_401_invalid_token_with_a_fix(
    client: Client, issuer: Issuer, build: TokenCase, hint: str
) -> None:
    response = await client.post("/v1/check", json=BODY, headers=bearer(build(issuer)))
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="permsvc"') and 'error="invalid_token"' in challenge
    message = response.json()["message"]
    assert response.json()["code"] == "unauthenticated"
    assert hint.lower() in message.lower(), message
    assert 'error_description="' in challenge


@pytest.mark.parametrize(
    ("header", "status", "fragment"),
    [
        pytest.param(None, 401, "Authorization: Bearer", id="no_header"),
        pytest.param("Basic dXNlcjpwYXNz", 401, "'Basic' scheme", id="basic_scheme"),
        pytest.param("Bearer", 400, "carries no token", id="bearer_without_token"),
        pytest.param("Bearer Bearer abc", 400, "sent twice", id="bearer_twice"),
    ],
)
async def test_malformed_authorization_header(
    client: Client, header: str | None, status: int, fragment: str
) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = await client.post("/v1/check", json=BODY, headers=headers)
    assert response.status_code == status
    assert fragment in response.json()["message"]
    challenge = response.headers["www-authenticate"]
    if header is None:
        assert challenge == 'Bearer realm="permsvc"'
        assert response.json()["code"] == "unauthenticated"
    else:
        assert challenge.startswith('Bearer realm="permsvc"')


async def test_tokens_not_configured_says_which_settings(issuer: Issuer) -> None:
    async for plain in v1_client(None, store="01ARZ3NDEKTSV4RRFFQ69G5FAV"):
        response = await plain.post("/v1/check", json=BODY, headers=bearer(issuer.user()))
        assert response.status_code == 401
        assert (
            "PERMSVC_OIDC_ISSUER" in response.json()["message"]
            and "API key" in response.json()["message"]
        )


async def test_unknown_and_revoked_api_keys(client: Client) -> None:
    key = await api_key(client, "check")
    key_id = key.split("_")[1]
    wrong_secret = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")
    response = await client.post(
        "/v1/check", json={**BODY, "user": "user:a"}, headers=bearer(wrong_secret)
    )
    assert response.status_code == 401 and key_id in response.json()["message"]
    assert wrong_secret not in response.text and key not in response.text

    deps = state_of(client).deps
    await getattr(deps.datastore, "inner", deps.datastore).revoke_api_key(key_id)
    response = await client.post("/v1/check", json={**BODY, "user": "user:a"}, headers=bearer(key))
    assert response.status_code == 401 and "revoked" in response.json()["message"]


async def test_malformed_api_key_is_named_without_echoing_it(client: Client) -> None:
    response = await client.post("/v1/check", json=BODY, headers=bearer("psk_short_secret"))
    assert response.status_code == 401
    assert (
        "psk_<id>_<secret>" in response.json()["message"]
        and "psk_short_secret" not in response.text
    )
