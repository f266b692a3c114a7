"""JwtAuthenticator: accepted tokens, subject mapping, scopes, token kinds, the verified cache."""

from __future__ import annotations

import time
from typing import Any

import pytest
from jwt import PyJWK

from permsvc.auth.claims import TokenKind
from permsvc.auth.errors import (
    InsufficientScopeError,
    InvalidRequestError,
    InvalidTokenError,
    MissingBearerTokenError,
)
from permsvc.auth.findings import TokenErrorReason
from permsvc.auth.jwks import StaticKeyProvider
from permsvc.auth.jwt import JwtAuthenticator, extract_bearer_token
from tests.unit.auth.tokenkit import AUDIENCE, ISSUER, Keys, TokenFactory, claims, settings


class CountingKeys(StaticKeyProvider):
    def __init__(self, keys: Any) -> None:
        super().__init__(keys)
        self.calls = 0

    async def get_key(self, kid: str | None, alg: str) -> PyJWK:
        self.calls += 1
        return await super().get_key(kid, alg)


async def test_auth0_user_token_is_accepted(
    authenticator: JwtAuthenticator, make_token: TokenFactory
) -> None:
    result = await authenticator.authenticate(make_token())
    assert result.subject == "auth0|42"
    assert result.subject_ref() == "user:auth0|42"
    assert result.token_type is TokenKind.USER
    assert result.client_id == "spa-client"
    assert result.scopes == frozenset({"openid", "profile", "read:docs"})
    assert result.audience == (AUDIENCE, f"{ISSUER}userinfo")
    assert result.issuer == ISSUER
    assert result.raw["azp"] == "spa-client"


@pytest.mark.parametrize(
    ("payload", "kind", "client_id"),
    [
        pytest.param(
            claims(sub="abc@clients", azp="abc", gty="client-credentials"),
            TokenKind.CLIENT,
            "abc",
            id="auth0_m2m_gty",
        ),
        pytest.param(
            claims(sub="abc@clients", azp="abc"),
            TokenKind.CLIENT,
            "abc",
            id="auth0_m2m_subject_suffix",
        ),
        pytest.param(
            claims(sub="m2m", client_id="m2m", azp=None),
            TokenKind.USER,
            "m2m",
            id="rfc9068_sub_equals_client_id_alone_is_a_user",
        ),
        pytest.param(
            claims(sub="evil@clients", azp="spa-client"),
            TokenKind.USER,
            "spa-client",
            id="sub_merely_ending_in_at_clients_is_a_user",
        ),
        pytest.param(
            claims(sub="spa-client@clients", azp="other"),
            TokenKind.USER,
            "other",
            id="at_clients_of_another_application_is_a_user",
        ),
        pytest.param(
            claims(sub="google-oauth2|1234", client_id="web"),
            TokenKind.USER,
            "web",
            id="rfc9068_user",
        ),
    ],
)
async def test_token_kind_heuristics(
    authenticator: JwtAuthenticator,
    make_token: TokenFactory,
    payload: dict[str, Any],
    kind: TokenKind,
    client_id: str,
) -> None:
    result = await authenticator.authenticate(make_token(payload))
    assert (result.token_type, result.client_id) == (kind, client_id)


def test_listed_machine_clients_may_use_rfc9068_subjects() -> None:
    from permsvc.auth.claims import token_kind_of

    payload = {"sub": "m2m", "client_id": "m2m"}
    assert token_kind_of(payload) is TokenKind.USER
    assert token_kind_of(payload, client_ids=("m2m",)) is TokenKind.CLIENT
    assert token_kind_of({"sub": "m2m", "client_id": "web"}, client_ids=("m2m",)) is TokenKind.USER
    assert token_kind_of({"sub": "x", "gty": "client-credentials"}, rules=()) is TokenKind.USER


async def test_permissions_array_merges_into_scopes(
    authenticator: JwtAuthenticator, make_token: TokenFactory
) -> None:
    result = await authenticator.authenticate(
        make_token(claims(scope="read:docs", permissions=["write:docs", "permsvc:admin"]))
    )
    assert result.scopes == frozenset({"read:docs", "write:docs", "permsvc:admin"})
    authenticator.require_admin(result)
    result.require_scopes("read:docs", "write:docs")


async def test_missing_scope_is_403_insufficient_scope(
    authenticator: JwtAuthenticator, make_token: TokenFactory
) -> None:
    result = await authenticator.authenticate(make_token())
    with pytest.raises(InsufficientScopeError) as caught:
        authenticator.require_admin(result)
    assert caught.value.status_code == 403
    assert caught.value.missing == ("permsvc:admin",)
    assert caught.value.www_authenticate() == (
        'Bearer realm="permsvc", error="insufficient_scope", error_description="the token lacks the '
        "scope(s) permsvc:admin; request a token with scope='permsvc:admin' (or grant the "
        'permission(s) in your identity provider)", scope="permsvc:admin"'
    )


async def test_custom_subject_type_and_claim(keys: Keys, make_token: TokenFactory) -> None:
    authenticator = JwtAuthenticator(
        settings(subject_type="employee", subject_claim="https://example.com/uid"),
        StaticKeyProvider(keys.jwks()),
    )
    result = await authenticator.authenticate(
        make_token(claims(**{"https://example.com/uid": "e-7"}))
    )
    assert result.subject_ref() == "employee:e-7"


@pytest.mark.parametrize(
    ("alg", "key_name", "kid"),
    [
        pytest.param("PS256", "k2", "k2", id="ps256_with_rsa_key_without_alg"),
        pytest.param("ES256", "e1", "e1", id="es256_configured"),
        pytest.param("RS256", "k2", "k2", id="rs256_with_rsa_key_without_alg"),
    ],
)
async def test_configured_algorithms_verify(
    keys: Keys, make_token: TokenFactory, alg: str, key_name: str, kid: str
) -> None:
    authenticator = JwtAuthenticator(
        settings(algorithms=("RS256", "PS256", "ES256")), StaticKeyProvider(keys.jwks())
    )
    result = await authenticator.authenticate(
        make_token(key=getattr(keys, key_name), alg=alg, kid=kid)
    )
    assert result.subject == "auth0|42"


async def test_strict_mode_accepts_rfc9068_token(keys: Keys, make_token: TokenFactory) -> None:
    authenticator = JwtAuthenticator(settings(strict=True), StaticKeyProvider(keys.jwks()))
    token = make_token(claims(client_id="web", jti="id-1"), typ="application/at+jwt")
    result = await authenticator.authenticate(token)
    assert result.token_id == "id-1"


async def test_kid_may_be_absent_when_the_set_has_one_key(
    keys: Keys, make_token: TokenFactory
) -> None:
    single = {"keys": [keys.jwks()["keys"][0]]}
    result = await JwtAuthenticator(settings(), StaticKeyProvider(single)).authenticate(
        make_token(kid=None)
    )
    assert result.subject == "auth0|42"


async def test_leeway_accepts_just_expired_token(
    authenticator: JwtAuthenticator, make_token: TokenFactory
) -> None:
    now = int(time.time())
    result = await authenticator.authenticate(make_token(claims(exp=now - 2, nbf=now + 2)))
    assert result.expires_at == now - 2


async def test_verified_tokens_are_cached_until_exp(keys: Keys, make_token: TokenFactory) -> None:
    provider = CountingKeys(keys.jwks())
    clock = [time.time()]
    authenticator = JwtAuthenticator(settings(leeway_s=0), provider, clock=lambda: clock[0])
    token = make_token(claims(exp=int(clock[0]) + 60))
    first = await authenticator.authenticate(token)
    assert await authenticator.authenticate(token) is first
    assert authenticator.cache_hits == 1
    assert provider.calls == 2  # a hit still confirms its key is published (no signature work)
    clock[0] += 61
    with pytest.raises(InvalidTokenError) as caught:
        await authenticator.authenticate(token)
    assert caught.value.reason is TokenErrorReason.EXPIRED
    assert "expired 1 s ago" in caught.value.description


async def test_verified_cache_is_bounded(keys: Keys, make_token: TokenFactory) -> None:
    provider = CountingKeys(keys.jwks())
    authenticator = JwtAuthenticator(settings(), provider, cache_size=2)
    tokens = [make_token(claims(jti=str(i))) for i in range(3)]
    for token in tokens:
        await authenticator.authenticate(token)
    await authenticator.authenticate(tokens[0])
    assert provider.calls == 4
    assert authenticator.cache_hits == 0  # tokens[0] was evicted and verified again


async def test_rejected_tokens_are_not_cached(keys: Keys, make_token: TokenFactory) -> None:
    provider = CountingKeys(keys.jwks())
    authenticator = JwtAuthenticator(settings(), provider)
    token = make_token(key=keys.attacker)
    for _ in range(2):
        with pytest.raises(InvalidTokenError):
            await authenticator.authenticate(token)
    assert provider.calls == 2
    assert authenticator.cache_hits == 0


@pytest.mark.parametrize(
    ("header", "error"),
    [
        pytest.param(None, MissingBearerTokenError, id="no_header"),
        pytest.param("   ", MissingBearerTokenError, id="blank_header"),
        pytest.param("Basic dXNlcjpwYXNz", MissingBearerTokenError, id="basic_scheme"),
        pytest.param("Bearer", InvalidRequestError, id="bearer_without_token"),
        pytest.param("Bearer Bearer abc.def.ghi", InvalidRequestError, id="bearer_twice"),
        pytest.param("Bearer abc def", InvalidRequestError, id="two_tokens"),
    ],
)
def test_authorization_header_errors(header: str | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        extract_bearer_token(header)


def test_bearer_twice_says_so() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        extract_bearer_token("Bearer Bearer abc.def.ghi")
    assert "sent twice" in str(caught.value)
    assert caught.value.status_code == 400
    assert 'error="invalid_request"' in (caught.value.www_authenticate() or "")


def test_missing_token_challenge_has_no_error_code() -> None:
    with pytest.raises(MissingBearerTokenError) as caught:
        extract_bearer_token(None)
    assert caught.value.www_authenticate() == 'Bearer realm="permsvc"'
    assert caught.value.status_code == 401


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
async def test_authenticate_header(
    authenticator: JwtAuthenticator, make_token: TokenFactory, scheme: str
) -> None:
    result = await authenticator.authenticate_header(f"{scheme}  {make_token()} ")
    assert result.subject == "auth0|42"
