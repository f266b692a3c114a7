"""Signing-key rotation at the provider, seen through /v1/check: tokens signed with the new key are
accepted after one JWKS refetch, tokens of a retired key are refused naming both kids, a refetch
waits out the cooldown, the last good key set survives an issuer outage, and an issuer that was
never reachable makes the API answer 503 instead of blaming the token.

The permsvc app runs in-process with the JWKS provider on a fake clock, so the cooldown and the
cache lifetime are crossed deterministically; the provider is really restarted with new keys.
"""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from oidckit import API, OidcProvider

from permsvc.api.app import create_app
from permsvc.auth.config import OidcSettings
from permsvc.auth.jwks import JwksKeyProvider
from permsvc.auth.jwt import JwtAuthenticator
from tests.api.admin.v1kit import ROOT_KEY, seed_store
from tests.api.conftest import make_settings

pytestmark = pytest.mark.timeout(600)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _check(client: AsyncTestClient[Any], store: str, token: str) -> Any:
    return await client.post(
        "/v1/check",
        json={"relation": "viewer", "object": "document:readme", "store_id": store},
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_rotation_through_the_check_api(rotating_provider: OidcProvider) -> None:
    provider = rotating_provider
    clock = Clock()
    keys = JwksKeyProvider(issuer=provider.issuer, cooldown_s=30, cache_ttl_s=600, clock=clock)
    jwt = JwtAuthenticator(
        OidcSettings(issuer=provider.issuer, audiences=(API,)), keys, cache_size=0
    )
    app = create_app(make_settings(oidc=jwt.settings, api_keys=(ROOT_KEY,)), token_keys=jwt)
    try:
        async with AsyncTestClient(app) as client:
            store, _ = await seed_store(
                client,
                ("document:readme", "viewer", "user:auth0|42"),
                ("document:readme", "viewer", "user:auth0|43"),
            )

            token_a = provider.user_token("auth0|42")
            assert (await _check(client, store, token_a)).json()["allowed"] is True
            assert keys.fetch_count == 1

            clock.now += 31
            provider.restart("rot-b")
            token_b = provider.user_token("auth0|43")
            answer = await _check(client, store, token_b)
            assert answer.status_code == 200 and answer.json()["user"] == "user:auth0|43"
            assert keys.fetch_count == 2

            retired = await _check(client, store, token_a)
            assert retired.status_code == 401
            message = retired.json()["message"]
            assert "rot-a" in message and "rot-b" in message
            assert "rot-a" in retired.headers["www-authenticate"]

            provider.restart("rot-c")
            token_c = provider.user_token("auth0|42")
            assert (await _check(client, store, token_c)).status_code == 401, (
                "within the cooldown: no refetch"
            )
            assert keys.fetch_count == 2
            clock.now += 31
            assert (await _check(client, store, token_c)).json()["allowed"] is True
            assert keys.fetch_count == 3

            provider.stop()
            clock.now += 601
            still = await _check(client, store, token_c)
            assert still.status_code == 200 and still.json()["allowed"] is True, (
                "the last good key set is kept"
            )
    finally:
        await jwt.aclose()


async def test_unreachable_issuer_is_503_not_a_token_error(rotating_provider: OidcProvider) -> None:
    token = rotating_provider.user_token("auth0|42")
    rotating_provider.stop()
    jwt = JwtAuthenticator.from_settings(
        OidcSettings(issuer=rotating_provider.issuer, audiences=(API,))
    )
    app = create_app(make_settings(oidc=jwt.settings, api_keys=(ROOT_KEY,)), token_keys=jwt)
    try:
        async with AsyncTestClient(app) as client:
            store, _ = await seed_store(client)
            response = await _check(client, store, token)
            assert response.status_code == 503
            assert (
                response.json()["code"] == "unavailable" and "retry" in response.json()["message"]
            )
            assert "www-authenticate" not in response.headers
    finally:
        await jwt.aclose()
