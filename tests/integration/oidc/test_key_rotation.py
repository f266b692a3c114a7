"""Key rotation against a real provider: refetch on unknown kid, cooldown, last good set kept.

The provider is restarted on the same port with a new pinned key; the JWKS provider's clock is
a fake monotonic clock, so the cooldown and the TTL are crossed deterministically.
"""

from __future__ import annotations

import pytest
from oidckit import API, OidcProvider

from permsvc.auth.config import OidcSettings
from permsvc.auth.errors import InvalidTokenError, KeySetUnavailableError, KeysNotRefreshedError
from permsvc.auth.findings import TokenErrorReason
from permsvc.auth.jwks import JwksKeyProvider
from permsvc.auth.jwt import JwtAuthenticator

# The first test of the session also pays for `npm install oidc-provider`.
pytestmark = pytest.mark.timeout(600)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_rotation_cooldown_and_outage(rotating_provider: OidcProvider) -> None:
    provider = rotating_provider
    clock = Clock()
    keys = JwksKeyProvider(issuer=provider.issuer, cooldown_s=30, cache_ttl_s=600, clock=clock)
    authenticator = JwtAuthenticator(
        OidcSettings(issuer=provider.issuer, audiences=(API,)), keys, cache_size=0
    )
    try:
        token_a = provider.user_token("auth0|42")
        assert (await authenticator.authenticate(token_a)).subject == "auth0|42"
        assert keys.fetch_count == 1

        clock.now += 31
        provider.restart("rot-b")
        token_b = provider.user_token("auth0|43")
        assert (await authenticator.authenticate(token_b)).subject == "auth0|43"
        assert keys.fetch_count == 2

        with pytest.raises(InvalidTokenError) as caught:
            await authenticator.authenticate(token_a)
        assert caught.value.reason is TokenErrorReason.KID_UNKNOWN
        assert "'rot-a'" in caught.value.description and "rot-b" in caught.value.description
        assert keys.fetch_count == 2

        provider.restart("rot-c")
        token_c = provider.user_token("auth0|44")
        with pytest.raises(InvalidTokenError) as caught:
            await authenticator.authenticate(token_c)
        assert caught.value.reason is TokenErrorReason.KID_UNKNOWN
        assert keys.fetch_count == 2

        clock.now += 31
        assert (await authenticator.authenticate(token_c)).subject == "auth0|44"
        assert keys.fetch_count == 3

        provider.stop()
        clock.now += 601
        assert (await authenticator.authenticate(token_c)).subject == "auth0|44"
        assert keys.fetch_count == 4
        assert keys.last_error is not None and "could not be fetched" in keys.last_error
        # An unknown kid while the key set cannot be fetched: the keys could not be refreshed (a
        # 503 at the door), not "get a fresh token".
        with pytest.raises(KeysNotRefreshedError) as refused:
            await authenticator.authenticate(token_b)
        assert "'rot-b'" in str(refused.value) and "could not be refreshed" in str(refused.value)
        assert keys.fetch_count == 4
    finally:
        await authenticator.aclose()


async def test_unreachable_issuer_without_keys_is_503(rotating_provider: OidcProvider) -> None:
    token = rotating_provider.user_token("auth0|42")
    rotating_provider.stop()
    authenticator = JwtAuthenticator.from_settings(
        OidcSettings(issuer=rotating_provider.issuer, audiences=(API,))
    )
    try:
        with pytest.raises(KeySetUnavailableError) as caught:
            await authenticator.authenticate(token)
    finally:
        await authenticator.aclose()
    assert caught.value.status_code == 503
    assert caught.value.www_authenticate() is None
