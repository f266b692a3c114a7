"""Tokens and keys, as an attacker tries them.

- The forged-token battery: every kind of the unit battery (``tests/unit/auth/test_bad_tokens.py``,
  which checks each kind's precise reason) plus the kinds added here, all sent through the front
  door of a real app (an admin route and a check route) with ``0`` accepted, and through the
  authenticator directly. Header-level forgeries (two ``Authorization`` headers, scheme variants)
  run over HTTP only.
- A verified token dies with its key: two app instances (two workers) each refetch the JWKS on
  their own schedule; once the issuer drops the ``kid`` (or re-uses it for another key), each
  refuses the token from its first refetch on, and keeps refusing it.
- An unknown ``kid`` while the JWKS cannot be fetched says that the keys could not be refreshed.
- API keys: stored hashed, compared in constant time (unknown id and wrong secret alike);
  configured ``PERMSVC_API_KEYS`` are kept only as digests.
- ``permsvc token explain`` takes a pasted header value and diagnoses the token inside.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from permsvc.api.security import Security
from permsvc.auth.config import OidcSettings
from permsvc.auth.errors import (
    InvalidApiKeyError,
    InvalidTokenError,
    KeySetUnavailableError,
    KeysNotRefreshedError,
)
from permsvc.auth.jwks import JwksKeyProvider, StaticKeyProvider
from permsvc.auth.jwt import JwtAuthenticator
from permsvc.auth.keys import ApiKey, hash_api_key
from permsvc.cli.main import main
from permsvc.commands.keys import CreateApiKeyCommand, VerifyApiKeyQuery
from permsvc.store.memory import MemoryDatastore
from tests.api.conftest import MODEL, make_settings
from tests.security.apps import CHECK_SCOPE, accept_tokens
from tests.unit.auth import test_bad_tokens
from tests.unit.auth.test_bad_tokens import CASES as UNIT_CASES
from tests.unit.auth.tokenkit import (
    AUDIENCE,
    ISSUER,
    Keys,
    TokenFactory,
    b64,
    claims,
    compact,
    public_jwk,
)

KEYS = Keys()
MAKE = TokenFactory(KEYS)


def _raw(header: str, payload: str, signature: bytes = b"x" * 64) -> str:
    """A token from raw JSON text (to forge what a JSON library would never emit)."""
    enc = lambda text: base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()
    return f"{enc(header)}.{enc(payload)}.{b64(signature)}"


def _signed_raw(header: str, payload: str, key: Any) -> str:
    enc = lambda text: base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()
    signing_input = f"{enc(header)}.{enc(payload)}"
    from cryptography.hazmat.primitives.asymmetric import padding

    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64(signature)}"


def _splice(k: Keys, m: TokenFactory) -> str:
    """The header and payload of one token with the (valid) signature of another."""
    victim = m(claims(sub="auth0|admin", scope="permsvc:admin"))
    donor = m(claims(sub="auth0|nobody"))
    return victim.rsplit(".", 1)[0] + "." + donor.rsplit(".", 1)[1]


def _self_signed_cert(key: Any) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(dt.datetime(2020, 1, 1))
        .not_valid_after(dt.datetime(2040, 1, 1))
        .sign(key, hashes.SHA256())
    )
    from cryptography.hazmat.primitives.serialization import Encoding

    return base64.b64encode(cert.public_bytes(Encoding.DER)).decode()


_NOT_UTF8 = bytes([0xFF, 0xFE, 0x7B])


def _flip(token: str) -> str:
    """One character of the signature changed (a flipped bit, still valid base64url)."""
    return token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]


def _now() -> int:
    return int(time.time())


# (id, builder, settings overrides) - kinds the unit battery does not have.
@pytest.fixture(autouse=True)
def _refresh_battery_now() -> None:
    """The unit battery's builders read its ``NOW`` when they run; its own autouse fixture refreshes
    it only for its own tests. Refreshed here too, so ``nbf = NOW + 600`` is still in the future
    however long the suite has run before this module."""
    test_bad_tokens.NOW = int(time.time())


NEW_KINDS: list[tuple[str, Callable[[Keys, TokenFactory], str], dict[str, Any]]] = [
    (
        "kid_path_traversal",
        lambda k, m: m(key=k.attacker, kid="/".join(["." * 2] * 4) + "/dev/null"),
        {},
    ),
    ("kid_sql_injection", lambda k, m: m(key=k.attacker, kid="' OR '1'='1"), {}),
    ("kid_url", lambda k, m: m(key=k.attacker, kid="https://attacker.example/jwks.json"), {}),
    ("kid_empty_string", lambda k, m: m(key=k.attacker, kid=""), {}),
    ("kid_of_another_rsa_key", lambda k, m: m(kid="k2"), {}),
    ("kid_of_the_ec_key_with_rs256", lambda k, m: m(kid="e1"), {}),
    ("kid_with_nul", lambda k, m: m(key=k.attacker, kid="k1\x00"), {}),
    ("nbf_in_the_future", lambda k, m: m(claims(nbf=_now() + 600)), {}),
    ("exp_as_string", lambda k, m: m(claims(exp=str(_now() + 600))), {}),
    ("exp_as_boolean", lambda k, m: m(claims(exp=True)), {}),
    ("exp_missing", lambda k, m: m(claims(exp=None)), {}),
    ("iat_missing", lambda k, m: m(claims(iat=None)), {}),
    ("expired_one_second_past_leeway", lambda k, m: m(claims(exp=_now() - 61)), {"leeway_s": 60}),
    ("iss_case_variant", lambda k, m: m(claims(iss=ISSUER.upper())), {}),
    (
        "iss_as_list",
        lambda k, m: _signed_raw(
            '{"alg":"RS256","kid":"k1"}', json.dumps(claims(iss=[ISSUER])), k.k1
        ),
        {},
    ),
    ("aud_number", lambda k, m: m(claims(aud=42)), {}),
    ("aud_empty_list", lambda k, m: m(claims(aud=[])), {}),
    ("aud_prefix_of_the_right_one", lambda k, m: m(claims(aud=AUDIENCE[:-1])), {}),
    ("typ_id_token", lambda k, m: m(typ="id_token+jwt"), {}),
    ("typ_logout_token", lambda k, m: m(typ="logout+jwt"), {}),
    ("typ_secevent", lambda k, m: m(typ="secevent+jwt"), {}),
    ("typ_jwe_on_a_jws", lambda k, m: m(typ="JWE"), {}),
    ("jwe_five_segments_of_garbage", lambda k, m: ".".join(b64(f"p{i}") for i in range(5)), {}),
    ("four_segments_appended", lambda k, m: m() + ".extra", {}),
    ("signature_of_another_token", _splice, {}),
    ("signature_bit_flipped", lambda k, m: _flip(m()), {}),
    ("signature_base64_padding", lambda k, m: m() + "==", {}),
    (
        "x5c_self_signed_certificate",
        lambda k, m: m(key=k.attacker, x5c=[_self_signed_cert(k.attacker)]),
        {},
    ),
    (
        "jwk_embedded_with_real_kid",
        lambda k, m: m(key=k.attacker, jwk=public_jwk(k.attacker, "k1", "RS256")),
        {},
    ),
    (
        "jku_with_real_kid",
        lambda k, m: m(key=k.attacker, jku="https://attacker.example/jwks.json"),
        {},
    ),
    (
        "duplicated_sub_claim",
        lambda k, m: _signed_raw(
            '{"alg":"RS256","kid":"k1","typ":"JWT"}',
            json.dumps(claims())[:-1] + ', "sub": "auth0|admin"}',
            k.attacker,
        ),
        {},
    ),
    (
        "duplicated_alg_header_none_then_rs256",
        lambda k, m: _raw('{"alg":"none","alg":"RS256","kid":"k1"}', json.dumps(claims())),
        {},
    ),
    (
        "duplicated_alg_header_rs256_then_none",
        lambda k, m: _raw('{"alg":"RS256","kid":"k1","alg":"none"}', json.dumps(claims())),
        {},
    ),
    ("crit_b64_false", lambda k, m: m(b64=False, crit=["b64"]), {}),
    ("crit_empty_list", lambda k, m: m(crit=[]), {}),
    ("zip_deflate_header", lambda k, m: m(key=k.attacker, zip="DEF"), {}),
    ("sub_integer", lambda k, m: m(claims(sub=42)), {}),
    ("sub_list", lambda k, m: m(claims(sub=["auth0|1", "auth0|2"])), {}),
    ("sub_object", lambda k, m: m(claims(sub={"id": "auth0|1"})), {}),
    ("sub_empty", lambda k, m: m(claims(sub="")), {}),
    ("sub_wildcard", lambda k, m: m(claims(sub="*")), {}),
    ("sub_with_nul", lambda k, m: m(claims(sub="auth0|1\x00admin")), {}),
    ("sub_missing", lambda k, m: m(claims(sub=None)), {}),
    ("scope_list_not_string", lambda k, m: m(claims(scope=["permsvc:admin"])), {}),
    ("gty_not_string", lambda k, m: m(claims(gty=["client-credentials"])), {}),
    ("huge_claim", lambda k, m: m(claims(pad="x" * 20_000)), {}),
    ("huge_header", lambda k, m: m(pad="x" * 20_000), {}),
    ("header_json_array", lambda k, m: f"{b64([1, 2])}.{b64(claims())}.{b64(b'x' * 64)}", {}),
    (
        "header_with_nan",
        lambda k, m: _raw('{"alg":"RS256","kid":"k1","x":NaN}', json.dumps(claims())),
        {},
    ),
    (
        "payload_utf8_invalid",
        lambda k, m: ".".join([b64({"alg": "RS256", "kid": "k1"}), b64(_NOT_UTF8), b64(b"x" * 64)]),
        {},
    ),
    (
        "alg_lowercase_rs256",
        lambda k, m: compact({"alg": "rs256", "kid": "k1"}, claims(), b"x" * 256),
        {},
    ),
    (
        "alg_trailing_space",
        lambda k, m: compact({"alg": "RS256 ", "kid": "k1"}, claims(), b"x" * 256),
        {},
    ),
    (
        "alg_eddsa_not_allowed",
        lambda k, m: compact({"alg": "EdDSA", "kid": "k1"}, claims(), b"x" * 64),
        {},
    ),
    ("alg_none_with_trailing_dot_only", lambda k, m: compact({"alg": "none"}, claims()), {}),
    ("token_with_nul", lambda k, m: m().replace(".", "\x00.", 1), {}),
    ("empty_token", lambda k, m: "", {}),
    ("only_dots", lambda k, m: "." * 2, {}),
    ("non_ascii_token", lambda k, m: m().replace("e", "\u0435", 1), {}),
]

ALL_KINDS: list[tuple[str, Callable[[Keys, TokenFactory], str], dict[str, Any]]] = [
    (case_id, build, overrides) for case_id, build, _reason, _needle, overrides in UNIT_CASES
] + NEW_KINDS


def test_the_battery_has_at_least_40_distinct_kinds() -> None:
    ids = [case_id for case_id, _, _ in ALL_KINDS]
    assert len(ids) == len(set(ids)), "a kind is listed twice"
    assert len(ids) >= 40, len(ids)
    assert len(NEW_KINDS) >= 40, "this module adds at least 40 kinds to the unit battery's"


def _settings(**overrides: Any) -> OidcSettings:
    values: dict[str, Any] = {
        "issuer": ISSUER,
        "audiences": (AUDIENCE,),
        "algorithms": ("RS256", "PS256"),
    }
    values.update(overrides)
    return OidcSettings(**values)


def _authenticator(**overrides: Any) -> JwtAuthenticator:
    return JwtAuthenticator(_settings(**overrides), StaticKeyProvider(KEYS.jwks()))


@pytest.mark.parametrize(
    ("build", "overrides"), [pytest.param(b, o, id=i) for i, b, o in ALL_KINDS]
)
async def test_forged_token_is_refused_by_the_authenticator(
    build: Callable[[Keys, TokenFactory], str], overrides: dict[str, Any]
) -> None:
    token = build(KEYS, MAKE)
    with pytest.raises(InvalidTokenError):
        await _authenticator(**overrides).authenticate(token)


@pytest.fixture
async def app_client() -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(make_settings())
    async with AsyncTestClient(app) as client:
        client.permsvc_app = app  # type: ignore[attr-defined]
        store = (await client.post("/stores", json={"name": "tokens"})).json()["id"]
        await client.post(f"/stores/{store}/authorization-models", json=MODEL)
        client.store_id = store  # type: ignore[attr-defined]
        yield client


def _install(client: AsyncTestClient[Any], authenticator: JwtAuthenticator) -> None:
    accept_tokens(client.permsvc_app, authenticator)  # type: ignore[attr-defined]


async def _front_door(client: AsyncTestClient[Any], headers: list[tuple[str, Any]]) -> list[int]:
    store = client.store_id  # type: ignore[attr-defined]
    check = await client.post(
        "/v1/check",
        json={"store_id": store, "object": "document:1", "relation": "viewer", "user": "user:anne"},
        headers=headers,
    )
    admin = await client.get("/v1/admin/keys", headers=headers)
    return [check.status_code, admin.status_code]


def _legit(scope: str = f"permsvc:admin {CHECK_SCOPE}") -> str:
    return MAKE(claims(sub="svc@clients", azp="svc", gty="client-credentials", scope=scope))


async def test_a_genuine_token_passes_the_front_door(app_client: AsyncTestClient[Any]) -> None:
    """The control: without it, "0 accepted" could mean "nothing is ever accepted"."""
    _install(app_client, _authenticator())
    assert await _front_door(app_client, [("Authorization", f"Bearer {_legit()}")]) == [200, 200]


async def test_no_forged_token_passes_the_front_door(app_client: AsyncTestClient[Any]) -> None:
    accepted: list[str] = []
    answers: Counter[int] = Counter()
    for case_id, build, overrides in ALL_KINDS:
        _install(app_client, _authenticator(**overrides))
        token = build(KEYS, MAKE)
        header = f"Bearer {token}".encode("utf-8", "surrogatepass")  # bytes: sent as they are
        statuses = await _front_door(app_client, [("Authorization", header)])
        answers.update(statuses)
        if any(s < 400 or s >= 500 for s in statuses):
            accepted.append(f"{case_id}: {statuses}")
    assert not accepted, f"{len(accepted)} forged tokens not refused with a 4xx: {accepted}"
    assert set(answers) <= {400, 401}, answers


HEADER_FORGERIES: list[Any] = [
    pytest.param(
        lambda t: [("Authorization", f"Bearer {t}"), ("Authorization", f"Bearer {t}")],
        400,
        id="two_headers_same_token",
    ),
    pytest.param(
        lambda t: [("Authorization", f"Bearer {t}"), ("Authorization", "Bearer forged")],
        400,
        id="two_headers_good_first",
    ),
    pytest.param(
        lambda t: [("Authorization", "Bearer forged"), ("Authorization", f"Bearer {t}")],
        400,
        id="two_headers_good_last",
    ),
    pytest.param(
        lambda t: [("Authorization", f"Bearer {t}"), ("authorization", f"Bearer {t}")],
        400,
        id="two_headers_case_variant",
    ),
    pytest.param(
        lambda t: [("Authorization", f"Bearer {t}, Bearer {t}")], 400, id="comma_joined_credentials"
    ),
    pytest.param(lambda t: [("Authorization", f"Bearer Bearer {t}")], 400, id="bearer_twice"),
    pytest.param(lambda t: [("Authorization", f"Bearer {t} extra")], 400, id="trailing_word"),
    pytest.param(lambda t: [("Authorization", "Bearer")], 400, id="bearer_without_token"),
    pytest.param(lambda t: [("Authorization", f"Bearer\t{t}")], 401, id="tab_after_scheme"),
    pytest.param(lambda t: [("Authorization", f"Bearer{t}")], 401, id="no_space_after_scheme"),
    pytest.param(lambda t: [("Authorization", f"Basic {t}")], 401, id="basic_scheme"),
    pytest.param(lambda t: [("Authorization", f"Token {t}")], 401, id="token_scheme"),
    pytest.param(lambda t: [("Authorization", f"Beare {t}")], 401, id="misspelt_scheme"),
    pytest.param(lambda t: [("Authorization", t)], 401, id="no_scheme"),
    pytest.param(lambda t: [("Authorization", "")], 401, id="empty_header"),
    pytest.param(lambda t: [("X-Authorization", f"Bearer {t}")], 401, id="other_header_name"),
    pytest.param(lambda t: [("Authorization", f'Bearer "{t}"')], 401, id="quoted_token"),
]


@pytest.mark.parametrize(("headers", "status"), HEADER_FORGERIES)
async def test_header_forgeries_with_a_genuine_token_are_refused(
    app_client: AsyncTestClient[Any], headers: Callable[[str], list[tuple[str, str]]], status: int
) -> None:
    _install(app_client, _authenticator())
    statuses = await _front_door(app_client, headers(_legit()))
    assert statuses == [status, status]


async def test_two_authorization_headers_are_invalid_request_on_every_surface() -> None:
    """The OpenFGA surface (preshared keys, incl. its fast check path) and /v1 alike."""
    app = create_app(make_settings(auth_method="preshared", api_keys=("k-one-0123456789",)))
    async with AsyncTestClient(app) as client:
        good = ("Authorization", "Bearer k-one-0123456789")
        store = (await client.post("/stores", json={"name": "two"}, headers=[good])).json()["id"]
        for method, path, body in (
            ("GET", "/stores", None),
            (
                "POST",
                f"/stores/{store}/check",
                {"tuple_key": {"object": "document:1", "relation": "viewer", "user": "user:a"}},
            ),
            (
                "POST",
                f"/stores/{store}/access/v1/evaluation",
                {
                    "subject": {"type": "user", "id": "a"},
                    "resource": {"type": "document", "id": "1"},
                    "action": {"name": "viewer"},
                },
            ),
            ("GET", "/v1/admin/keys", None),
        ):
            response = await client.request(method, path, json=body, headers=[good, good])
            assert response.status_code == 400, (path, response.text)
            assert response.json()["code"] == "invalid_request", (path, response.text)
            assert 'error="invalid_request"' in response.headers.get("www-authenticate", ""), path


# -- a verified token dies with its key, in every worker ------------------------------------------


class _Idp:
    """A JWKS endpoint whose key set the test edits."""

    def __init__(self) -> None:
        self.keys = [public_jwk(KEYS.k1, "k1", "RS256"), public_jwk(KEYS.k2, "k2", "RS256")]
        self.down = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            return httpx.Response(503)
        return httpx.Response(200, json={"keys": self.keys})


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _worker(idp: _Idp, clock: _Clock) -> JwtAuthenticator:
    provider = JwksKeyProvider(
        issuer=ISSUER,
        jwks_url="https://tenant.example.auth0.com/.well-known/jwks.json",
        client=httpx.AsyncClient(transport=httpx.MockTransport(idp.handle)),
        cache_ttl_s=600,
        cooldown_s=30,
        clock=clock,
    )
    return JwtAuthenticator(_settings(), provider)


@pytest.fixture
async def two_workers() -> AsyncIterator[
    tuple[_Idp, list[tuple[AsyncTestClient[Any], _Clock, JwtAuthenticator]]]
]:
    idp = _Idp()
    workers = []
    clients = []
    for _ in range(2):
        app = create_app(make_settings())
        client = AsyncTestClient(app)
        await client.__aenter__()
        client.permsvc_app = app  # type: ignore[attr-defined]
        response = await client.post("/stores", json={"name": "worker"})
        assert response.status_code == 201, response.text
        client.store_id = response.json()["id"]  # type: ignore[attr-defined]
        await client.post(f"/stores/{client.store_id}/authorization-models", json=MODEL)  # type: ignore[attr-defined]
        clock = _Clock()
        authenticator = _worker(idp, clock)
        _install(client, authenticator)
        workers.append((client, clock, authenticator))
        clients.append(client)
    try:
        yield idp, workers
    finally:
        for client in clients:
            await client.__aexit__(None, None, None)


def _signed_by_k2() -> str:
    return MAKE(
        # the read role: the probe names its user directly (the check role alone passes subject_token)
        claims(
            sub="svc@clients",
            azp="svc",
            gty="client-credentials",
            scope=f"{CHECK_SCOPE} permsvc:read",
        ),
        key=KEYS.k2,
        kid="k2",
    )


async def _status(client: AsyncTestClient[Any], token: str) -> int:
    return (await _front_door(client, [("Authorization", f"Bearer {token}")]))[0]


async def test_a_dropped_kid_refuses_its_cached_tokens_in_every_worker(two_workers: Any) -> None:
    idp, workers = two_workers
    token = _signed_by_k2()
    for client, _, authenticator in workers:
        assert await _status(client, token) == 200
        assert await _status(client, token) == 200
        assert authenticator.cache_hits >= 1, "the second call should come from the cache"
    idp.keys = [k for k in idp.keys if k["kid"] != "k2"]  # the issuer rotates k2 out

    (first, first_clock, _), (second, second_clock, _) = workers
    first_clock.now += 601  # worker 1 refetches now; worker 2 later, on its own schedule
    assert await _status(first, token) == 401
    assert await _status(second, token) == 200, (
        "worker 2 has not refetched: its key set still has k2"
    )
    second_clock.now += 601
    assert await _status(second, token) == 401
    for _ in range(3):  # and from then on, on every worker, cached or not
        for client, clock, _ in workers:
            clock.now += 1
            assert await _status(client, token) == 401
    fresh = _signed_by_k2()
    for client, _, _ in workers:
        assert await _status(client, fresh) == 401


async def test_a_kid_reused_for_another_key_refuses_the_cached_token(two_workers: Any) -> None:
    idp, workers = two_workers
    token = _signed_by_k2()
    client, clock, _ = workers[0]
    assert await _status(client, token) == 200
    idp.keys = [public_jwk(KEYS.k1, "k1", "RS256"), public_jwk(KEYS.attacker, "k2", "RS256")]
    clock.now += 601
    assert await _status(client, token) == 401


async def test_the_cache_serves_a_token_while_its_key_stays(two_workers: Any) -> None:
    _, workers = two_workers
    token = _signed_by_k2()
    client, clock, authenticator = workers[0]
    assert await _status(client, token) == 200
    clock.now += 601  # a refetch that keeps k2
    before = authenticator.cache_hits
    assert await _status(client, token) == 200
    assert authenticator.cache_hits == before + 2  # both requests of the front door, no re-verify


async def test_unknown_kid_while_the_jwks_is_down_says_the_keys_could_not_be_refreshed(
    two_workers: Any,
) -> None:
    idp, workers = two_workers
    client, clock, authenticator = workers[0]
    assert await _status(client, _signed_by_k2()) == 200  # keys loaded once
    idp.down = True
    clock.now += 31
    token = MAKE(
        claims(sub="svc@clients", azp="svc", gty="client-credentials", scope=CHECK_SCOPE),
        key=KEYS.attacker,
        kid="k3-new",
    )
    response = await client.post(
        "/v1/check",
        json={
            "store_id": client.store_id,
            "object": "document:1",
            "relation": "viewer",
            "user": "user:a",
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 503, response.text
    assert response.headers.get("retry-after")
    message = response.json()["message"]
    assert "could not be refreshed" in message and "k3-new" in message
    assert "fresh token" not in message
    with pytest.raises(KeysNotRefreshedError):
        await authenticator.authenticate(token)
    clock.now += 31  # within the next cooldown, still the same answer, no new fetch
    with pytest.raises(KeySetUnavailableError):
        await authenticator.authenticate(token)
    idp.down = False
    clock.now += 31
    with pytest.raises(InvalidTokenError) as caught:  # keys refreshed: now it is simply unknown
        await authenticator.authenticate(token)
    assert "fresh token" in caught.value.description


# -- API keys -------------------------------------------------------------------------------------


async def test_api_keys_are_stored_hashed() -> None:
    store = MemoryDatastore()
    created = await CreateApiKeyCommand(keys=store).execute("admin")
    record = await store.get_api_key(created.record.id)
    assert record is not None
    secret = created.key.rsplit("_", 1)[1]
    assert secret not in record.hashed_secret and created.key not in repr(record)
    assert record.hashed_secret == "sha256$" + hashlib.sha256(secret.encode()).hexdigest()


@pytest.mark.parametrize("presented", ["right", "wrong_secret", "unknown_id"])
async def test_api_keys_are_compared_in_constant_time(
    presented: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every path (match, mismatch, unknown id) hashes and compares with hmac.compare_digest, so
    timing tells an unknown id from a wrong secret no better than chance."""
    store = MemoryDatastore()
    created = await CreateApiKeyCommand(keys=store).execute("check")
    key_id, secret = created.record.id, created.key.rsplit("_", 1)[1]
    value = {
        "right": created.key,
        "wrong_secret": f"psk_{key_id}_{'a' * 32}",
        "unknown_id": f"psk_{'b' * 10}_{secret}",
    }[presented]
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("permsvc.auth.keys.hmac.compare_digest", spy)
    if presented == "right":
        await VerifyApiKeyQuery(keys=store).execute(value)
    else:
        with pytest.raises(InvalidApiKeyError):
            await VerifyApiKeyQuery(keys=store).execute(value)
    assert len(calls) == 1 and len(calls[0][0]) == len(calls[0][1])


def test_configured_preshared_keys_are_kept_only_as_digests() -> None:
    configured = "preshared-0123456789-abcdef"
    security = Security(make_settings(api_keys=(configured,)), keys=None, jwt=None)
    state = repr(vars(security)) + repr(security._bootstrap)
    assert configured not in state.replace(repr(security.settings), "")
    assert asyncio.run(security.authenticate(f"Bearer {configured}")).kind == "bootstrap_key"


def test_hashing_is_one_way_and_salted_for_scrypt() -> None:
    key = ApiKey(key_id="a" * 10, secret="b" * 32)
    assert hash_api_key(key, scheme="scrypt") != hash_api_key(key, scheme="scrypt")


# -- permsvc token explain with a pasted header ---------------------------------------------------


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda t: f"Bearer {t}", id="bearer"),
        pytest.param(lambda t: f"bearer   {t}", id="lowercase_spaces"),
        pytest.param(lambda t: f"Authorization: Bearer {t}", id="whole_header"),
        pytest.param(lambda t: f"'Authorization: Bearer {t}'", id="quoted_header"),
        pytest.param(lambda t: f'"Bearer {t}"\n', id="quoted_with_newline"),
        pytest.param(lambda t: f"BEARER\t{t}", id="upper_tab"),
    ],
)
def test_token_explain_reads_a_pasted_header_value(
    wrap: Callable[[str], str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PERMSVC_OIDC_ISSUER", "PERMSVC_OIDC_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)
    token = MAKE(claims(sub="auth0|pasted"))
    code = main(["token", "explain", wrap(token), "--issuer", ISSUER, "--audience", AUDIENCE])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "pasted header value" in out and "auth0|pasted" in out and "signed JWT" in out


def test_token_explain_names_a_doubled_bearer_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["token", "explain", f"Bearer Bearer {MAKE()}", "--issuer", ISSUER, "--audience", AUDIENCE]
    )
    out = capsys.readouterr().out
    assert code == 1 and "sent twice" in out
