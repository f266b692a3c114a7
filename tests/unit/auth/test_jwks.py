"""JwksKeyProvider against an in-process HTTP transport: discovery, caching, refetch on unknown
kid with cooldown and single flight, last good set kept, and the fetch safety limits."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from permsvc.auth.errors import InvalidTokenError, KeySetUnavailableError
from permsvc.auth.findings import TokenErrorReason
from permsvc.auth.jwks import JwksKeyProvider, KeySet, StaticKeyProvider
from permsvc.auth.jwt import JwtAuthenticator
from tests.unit.auth.tokenkit import Keys, TokenFactory, claims, public_jwk, settings

ISSUER = "https://idp.example/"
DISCOVERY = "https://idp.example/.well-known/openid-configuration"
JWKS = "https://idp.example/.well-known/jwks.json"


class FakeIdp:
    """Serves discovery and a JWKS; records every request; can fail or stall on demand."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self.jwks = jwks
        self.requests: list[str] = []
        self.fail = False
        self.delay = 0.0
        self.discovery: dict[str, Any] = {"issuer": ISSUER, "jwks_uri": JWKS}

    async def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.requests.append(url)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            return httpx.Response(503)
        if url == DISCOVERY:
            return httpx.Response(200, json=self.discovery)
        if url == JWKS:
            return httpx.Response(200, json=self.jwks)
        return httpx.Response(404)

    def jwks_fetches(self) -> int:
        return sum(1 for u in self.requests if u == JWKS)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def idp(keys: Keys) -> FakeIdp:
    return FakeIdp({"keys": [public_jwk(keys.k1, "k1", "RS256")]})


def provider(idp: FakeIdp, clock: Clock | None = None, **kwargs: Any) -> JwksKeyProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(idp.handle))
    return JwksKeyProvider(issuer=ISSUER, client=client, clock=clock or Clock(), **kwargs)


async def test_discovery_then_jwks_then_cached(idp: FakeIdp) -> None:
    keys = provider(idp)
    assert (await keys.get_key("k1", "RS256")).key_id == "k1"
    assert (await keys.get_key("k1", "RS256")).key_id == "k1"
    assert idp.requests == [DISCOVERY, JWKS]
    assert keys.discovered_issuer == ISSUER


async def test_configured_jwks_url_skips_discovery(idp: FakeIdp) -> None:
    keys = provider(idp, jwks_url=JWKS)
    await keys.get_key("k1", "RS256")
    assert idp.requests == [JWKS]


async def test_ttl_expiry_refetches(idp: FakeIdp) -> None:
    clock = Clock()
    keys = provider(idp, clock, cache_ttl_s=600)
    await keys.get_key("k1", "RS256")
    clock.now += 599
    await keys.get_key("k1", "RS256")
    assert idp.jwks_fetches() == 1
    clock.now += 2
    await keys.get_key("k1", "RS256")
    assert idp.jwks_fetches() == 2


async def test_unknown_kid_refetches_once_then_respects_cooldown(idp: FakeIdp, keys: Keys) -> None:
    clock = Clock()
    jwks = provider(idp, clock, cooldown_s=30)
    await jwks.get_key("k1", "RS256")
    clock.now += 31
    for _ in range(5):
        with pytest.raises(InvalidTokenError) as caught:
            await jwks.get_key("forged", "RS256")
        assert caught.value.reason is TokenErrorReason.KID_UNKNOWN
    assert idp.jwks_fetches() == 2
    idp.jwks["keys"].append(public_jwk(keys.k2, "k2", "RS256"))
    with pytest.raises(InvalidTokenError):
        await jwks.get_key("k2", "RS256")
    assert idp.jwks_fetches() == 2
    clock.now += 31
    assert (await jwks.get_key("k2", "RS256")).key_id == "k2"
    assert idp.jwks_fetches() == 3


async def test_rotation_new_kid_is_found_by_refetch(idp: FakeIdp, keys: Keys) -> None:
    clock = Clock()
    jwks = provider(idp, clock)
    await jwks.get_key("k1", "RS256")
    clock.now += 60
    idp.jwks = {"keys": [public_jwk(keys.k2, "k2", "RS256")]}
    assert (await jwks.get_key("k2", "RS256")).key_id == "k2"
    with pytest.raises(InvalidTokenError) as caught:
        await jwks.get_key("k1", "RS256")
    assert caught.value.reason is TokenErrorReason.KID_UNKNOWN


async def test_concurrent_unknown_kid_lookups_share_one_fetch(idp: FakeIdp, keys: Keys) -> None:
    clock = Clock()
    jwks = provider(idp, clock)
    await jwks.get_key("k1", "RS256")
    clock.now += 60
    idp.jwks = {"keys": [public_jwk(keys.k1, "k1", "RS256"), public_jwk(keys.k2, "k2", "RS256")]}
    idp.delay = 0.05
    results = await asyncio.gather(*(jwks.get_key("k2", "RS256") for _ in range(20)))
    assert {r.key_id for r in results} == {"k2"}
    assert idp.jwks_fetches() == 2


async def test_concurrent_first_loads_share_one_fetch(idp: FakeIdp) -> None:
    idp.delay = 0.05
    jwks = provider(idp)
    await asyncio.gather(*(jwks.get_key("k1", "RS256") for _ in range(10)))
    assert idp.requests == [DISCOVERY, JWKS]


async def test_last_good_set_kept_when_idp_fails(idp: FakeIdp) -> None:
    clock = Clock()
    jwks = provider(idp, clock)
    await jwks.get_key("k1", "RS256")
    idp.fail = True
    clock.now += 10_000
    assert (await jwks.get_key("k1", "RS256")).key_id == "k1"
    assert jwks.last_error is not None and "503" in jwks.last_error


async def test_no_key_set_and_idp_down_is_unavailable(idp: FakeIdp) -> None:
    clock = Clock()
    idp.fail = True
    jwks = provider(idp, clock)
    with pytest.raises(KeySetUnavailableError) as caught:
        await jwks.get_key("k1", "RS256")
    assert caught.value.status_code == 503
    assert "503" in str(caught.value)
    with pytest.raises(KeySetUnavailableError):
        await jwks.get_key("k1", "RS256")
    assert len(idp.requests) == 1
    idp.fail = False
    clock.now += 31
    assert (await jwks.get_key("k1", "RS256")).key_id == "k1"


@pytest.mark.parametrize(
    ("response", "jwks_url", "needle"),
    [
        pytest.param(
            httpx.Response(302, headers={"Location": "file:///etc/passwd"}),
            JWKS,
            "redirect",
            id="redirect_refused",
        ),
        pytest.param(
            httpx.Response(200, content=b"x" * 300_000),
            JWKS,
            "larger than",
            id="oversized_response",
        ),
        pytest.param(httpx.Response(200, content=b"<html>"), JWKS, "not JSON", id="not_json"),
        pytest.param(
            httpx.Response(200, json={"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "k1"}]}),
            JWKS,
            "no usable",
            id="only_hmac_keys",
        ),
        pytest.param(httpx.Response(200, json=[1]), JWKS, "not a JWK Set", id="not_a_jwk_set"),
        pytest.param(
            httpx.Response(200, json={"jwks_uri": "file:///etc/jwks.json"}),
            None,
            "not http(s)",
            id="discovery_non_http_jwks_uri",
        ),
        pytest.param(
            httpx.Response(200, json={"issuer": ISSUER}),
            None,
            "no jwks_uri",
            id="discovery_without_jwks_uri",
        ),
        pytest.param(httpx.Response(404), None, "HTTP 404", id="discovery_not_found"),
    ],
)
async def test_fetch_safety(response: httpx.Response, jwks_url: str | None, needle: str) -> None:
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: response))
    jwks = JwksKeyProvider(issuer=ISSUER, jwks_url=jwks_url, client=client)
    with pytest.raises(KeySetUnavailableError) as caught:
        await jwks.get_key("k1", "RS256")
    assert needle in str(caught.value)


async def test_timeout_is_enforced(idp: FakeIdp) -> None:
    idp.delay = 1.0
    jwks = provider(idp, timeout_s=0.05)
    with pytest.raises(KeySetUnavailableError) as caught:
        await jwks.get_key("k1", "RS256")
    assert "within 0.05 s" in str(caught.value)


def test_non_http_urls_are_refused() -> None:
    for kwargs in (
        {"issuer": "file:///etc/"},
        {"issuer": ISSUER, "jwks_url": "ftp://idp.example/jwks"},
    ):
        with pytest.raises(KeySetUnavailableError):
            JwksKeyProvider(**kwargs)  # type: ignore[arg-type]


async def test_token_header_key_urls_are_never_fetched(
    idp: FakeIdp, keys: Keys, make_token: TokenFactory
) -> None:
    jwks = provider(idp)
    authenticator = JwtAuthenticator(settings(issuer=ISSUER), jwks)
    attacker = "https://attacker.example/jwks.json"
    token = make_token(
        claims(iss=ISSUER),
        key=keys.attacker,
        kid="evil",
        jku=attacker,
        x5u=attacker,
        jwk=public_jwk(keys.attacker, "evil", "RS256"),
    )
    with pytest.raises(InvalidTokenError) as caught:
        await authenticator.authenticate(token)
    assert caught.value.reason is TokenErrorReason.KID_UNKNOWN
    assert all("attacker" not in url for url in idp.requests)


def test_key_set_drops_symmetric_and_private_members(keys: Keys) -> None:
    private = public_jwk(keys.k1, "k1", "RS256") | {"d": "AQAB", "p": "AQAB"}
    document = {
        "keys": [
            {"kty": "oct", "kid": "h1", "k": "c2VjcmV0"},
            private,
            public_jwk(keys.k2, "enc", None) | {"use": "enc"},
            public_jwk(keys.k2, "bad-alg", "HS256"),
            public_jwk(keys.k2, "list-alg", None) | {"alg": ["RS256"]},
            public_jwk(keys.e1, "list-crv", None) | {"crv": ["P-256"]},
            {"kty": "RSA", "kid": "broken", "n": 5, "e": "AQAB"},
            "not a key",
        ]
    }
    key_set = KeySet.from_jwks(document, source="test")
    assert key_set.kids == ("k1",)
    assert not {"d", "p"} & set(key_set.select("k1", "RS256")._jwk_data)


async def test_static_provider_kid_unknown_lists_known_kids(keys: Keys) -> None:
    with pytest.raises(InvalidTokenError) as caught:
        await StaticKeyProvider(keys.jwks()).get_key("nope", "RS256")
    assert "k1, k2, e1" in caught.value.description
