"""The audit log tells the truth, and no secret reaches it or any log.

Two halves of one rule (``permsvc.commands.audit``):

- rows record values exactly as written: ids that merely look like a token, a key or a header
  value are data, and come back byte for byte (no pattern-based redaction);
- secrets never get there because the code never passes them: after every credential path
  (keys created, used, misused, revoked by their whole value; tokens accepted and refused;
  preshared keys) neither the audit rows nor any log record nor any error body holds a secret.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.auth.keys import parse_api_key
from tests.api.admin.v1kit import Issuer, bearer, v1_client
from tests.api.conftest import MODEL

LOOKALIKES = [
    pytest.param("eyJhbGciOiJSUzI1NiJ9", id="jwt_header_start"),
    pytest.param("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", id="whole_jwt_shape"),
    pytest.param("eyJ0eXAiOiJKV1QifQ..", id="jwt_two_dots"),
    pytest.param("psk_abcdefghij_abcdefghijklmnopqrstuvwxyz234567", id="api_key_shape"),
    pytest.param("psk_abcdefghij_abcdefgh", id="api_key_prefix_shape"),
    pytest.param("bearer", id="word_bearer"),
    pytest.param("Bearer.eyJhbGciOi", id="bearer_dot_jwt"),
    pytest.param("secret", id="word_secret"),
    pytest.param("password=hunter2", id="password_assignment"),
    pytest.param("token", id="word_token"),
    pytest.param("[redacted]", id="the_old_redaction_marker"),
]


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
async def client(issuer: Issuer) -> AsyncIterator[AsyncTestClient[Any]]:
    async for c in v1_client(
        issuer, auth_method="preshared", api_keys=("preshared-secret-0123456789",)
    ):
        yield c


async def _audit(
    client: AsyncTestClient[Any], headers: dict[str, str], store: str = ""
) -> list[dict[str, Any]]:
    params = {"page_size": "100", **({"store_id": store} if store else {})}
    response = await client.get("/v1/admin/audit", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["entries"])


def _preshared() -> dict[str, str]:
    return bearer("preshared-secret-0123456789")


@pytest.mark.parametrize("lookalike", LOOKALIKES)
async def test_ids_that_look_like_secrets_are_recorded_exactly(
    client: AsyncTestClient[Any], issuer: Issuer, lookalike: str
) -> None:
    admin = bearer(issuer.admin())
    store, _ = await _store(client)
    doc = f"document:{lookalike}"
    user = f"user:{lookalike}"
    response = await client.post(
        f"/stores/{store}/write",
        json={"writes": {"tuple_keys": [{"object": doc, "relation": "viewer", "user": user}]}},
        headers=_preshared(),
    )
    assert response.status_code == 200, response.text
    response = await client.post(
        "/v1/admin/grants",
        json={"store_id": store, "tuples": [{"object": doc, "relation": "owner", "user": user}]},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    response = await client.post(
        "/v1/admin/tuples/delete",
        json={"store_id": store, "object": doc, "relation": "owner", "user": user},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    rows = await _audit(client, admin, store)
    written = [r for r in rows if r["action"] == "write"]
    granted = [r for r in rows if r["action"] == "grant"]
    deleted = [r for r in rows if r["action"] == "delete_by_filter"]
    assert written and granted and deleted, [r["action"] for r in rows]
    assert written[0]["detail"]["writes"]["tuples"] == [
        {"object": doc, "relation": "viewer", "user": user}
    ]
    assert granted[0]["detail"]["tuples"][0]["object"] == doc
    assert granted[0]["detail"]["tuples"][0]["user"] == user
    assert deleted[0]["detail"]["filter"] == {"object": doc, "relation": "owner", "user": user}
    assert "[redacted]" not in json.dumps(rows) or lookalike == "[redacted]"


async def _store(client: AsyncTestClient[Any]) -> tuple[str, str]:
    response = await client.post("/stores", json={"name": "audit-truth"}, headers=_preshared())
    store = str(response.json()["id"])
    response = await client.post(
        f"/stores/{store}/authorization-models", json=MODEL, headers=_preshared()
    )
    assert response.status_code == 201, response.text
    return store, str(response.json()["authorization_model_id"])


async def test_no_secret_reaches_the_audit_log_or_any_log(
    client: AsyncTestClient[Any], issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin_token = issuer.admin()
    admin = bearer(admin_token)
    store, _ = await _store(client)
    bodies: list[str] = []

    created = await client.post(
        "/v1/admin/keys", json={"scope": "admin", "name": "ops"}, headers=admin
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    key_id = created.json()["info"]["id"]
    secret = parse_api_key(key).secret
    wrong = f"psk_{key_id}_{'a' * 32}"
    scoped = await client.post(
        "/v1/admin/keys", json={"scope": "check", "store_id": store}, headers=bearer(key)
    )
    assert scoped.status_code == 201, scoped.text
    scoped_key = scoped.json()["key"]

    for headers in (
        bearer(key),
        bearer(wrong),
        bearer(key + "x"),
        bearer(scoped_key),
        {"Authorization": f"Bearer {key}", "X-Request-ID": "rid-1"},
        bearer(issuer.token(scope="read", exp=1)),
        bearer(admin_token[:-5]),
        bearer("preshared-secret-0123456789"),
    ):
        response = await client.post(
            "/v1/admin/grants",
            json={
                "store_id": store,
                "tuples": [{"object": "document:a", "relation": "viewer", "user": "user:a"}],
            },
            headers=headers,
        )
        bodies.append(response.text + json.dumps(dict(response.headers)))
    response = await client.delete(f"/v1/admin/keys/{key}", headers=admin)  # the whole key pasted
    assert response.status_code == 200, response.text
    assert response.json()["id"] == key_id
    bodies.append(response.text)
    response = await client.delete(f"/v1/admin/keys/{key}", headers=bearer(key))  # revoked now
    bodies.append(response.text + json.dumps(dict(response.headers)))
    assert response.status_code == 401 and key_id in response.text
    response = await client.post(
        f"/stores/{store}/write",
        json={
            "writes": {
                "tuple_keys": [{"object": "document:p", "relation": "viewer", "user": "user:p"}]
            }
        },
        headers=_preshared(),
    )
    assert response.status_code == 200, response.text
    response = await client.post(
        f"/stores/{store}/write", json={}, headers=bearer("preshared-wrong")
    )
    bodies.append(response.text + json.dumps(dict(response.headers)))

    rows = json.dumps(await _audit(client, admin))
    logs = "\n".join(
        f"{r.getMessage()} {r.args!r} {getattr(r, 'fields', '')} {r.exc_text or ''}"
        for r in caplog.records
        if not r.name.startswith("httpx")  # the test client's own request log, not the server's
    )
    secrets = {
        "api key": key,
        "api key secret": secret,
        "wrong secret": wrong.rpartition("_")[2],
        "scoped key secret": parse_api_key(scoped_key).secret,
        "admin token": admin_token,
        "admin token signature": admin_token.rpartition(".")[2],
        "preshared key": "preshared-secret-0123456789",
    }
    for name, value in secrets.items():
        assert value not in rows, f"the {name} reached the audit log"
        assert value not in logs, f"the {name} reached a log record"
    for name in ("api key secret", "scoped key secret", "preshared key", "admin token signature"):
        for body in bodies:
            assert secrets[name] not in body, f"the {name} was echoed in an error: {body[:200]}"
    audit_rows = json.loads(rows)
    assert {"key_create", "key_revoke", "write", "grant"} <= {r["action"] for r in audit_rows}
    key_rows = [r for r in audit_rows if r["action"] in ("key_create", "key_revoke")]
    assert all(r["detail"]["key_id"] for r in key_rows)
    assert any(r["actor"] == "preshared:1" for r in audit_rows)
    assert any(r["actor"] == f"key:{key_id}" for r in audit_rows)


async def test_key_errors_name_the_key_id_and_never_the_secret(
    client: AsyncTestClient[Any], issuer: Issuer
) -> None:
    admin = bearer(issuer.admin())
    created = (await client.post("/v1/admin/keys", json={"scope": "check"}, headers=admin)).json()
    key, key_id = created["key"], created["info"]["id"]
    secret = parse_api_key(key).secret
    cases = {
        "wrong_secret": bearer(f"psk_{key_id}_{'b' * 32}"),
        "truncated": bearer(key[:-3]),
        "admin_route_with_check_key": bearer(key),
    }
    for name, headers in cases.items():
        response = await client.get("/v1/admin/keys", headers=headers)
        assert response.status_code in (401, 403), (name, response.text)
        assert secret not in response.text and secret[:-3] not in response.text, name
        assert secret not in response.headers.get("www-authenticate", ""), name
        if name != "truncated":
            assert key_id in response.text, (name, response.text)
    response = await client.delete(f"/v1/admin/keys/psk_zzzzzzzzzz_{secret}", headers=admin)
    assert response.status_code == 404 or response.status_code == 400, response.text
    assert secret not in response.text
    assert "zzzzzzzzzz" in response.text
