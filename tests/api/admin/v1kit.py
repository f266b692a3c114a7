"""Shared by the /v1 tests: a local token issuer (no network), the app configured to accept its
tokens (and a bootstrap key, :data:`ROOT_KEY`), and helpers to seed a store and create API keys."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from permsvc.auth.config import OidcSettings
from permsvc.auth.jwks import StaticKeyProvider
from permsvc.auth.jwt import JwtAuthenticator
from permsvc.commands.keys import CreateApiKeyCommand
from tests.api.conftest import MODEL, make_settings

ISSUER = "https://tenant.example.auth0.com/"
AUDIENCE = "https://permsvc.example.com"
ADMIN_SCOPE = "permsvc:admin"
CHECK_SCOPE = "permsvc:check"
ROOT_KEY = "root-bootstrap-key-for-tests"
"""The bootstrap key (``PERMSVC_API_KEYS``) of :func:`v1_client` apps: role admin, any store."""


class Issuer:
    """Signs access tokens with a local RSA key, as an Auth0 tenant would."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        jwk.update({"kid": "k1", "alg": "RS256", "use": "sig"})
        self.jwks = {"keys": [jwk]}

    def token(
        self,
        sub: str = "auth0|42",
        *,
        scope: str = "read:docs",
        client: bool = False,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "sub": f"{sub}@clients" if client else sub,
            "aud": [AUDIENCE, f"{ISSUER}userinfo"],
            "iat": now,
            "exp": now + 600,
            "azp": sub if client else "spa-client",
            "scope": scope,
        }
        if client:
            payload["gty"] = "client-credentials"
        for name, value in claims.items():
            if value is None:
                payload.pop(name, None)
            else:
                payload[name] = value
        return jwt.encode(payload, self.key, algorithm="RS256", headers={"kid": "k1", "typ": "JWT"})

    def user(self, sub: str = "auth0|42", **claims: Any) -> str:
        return self.token(sub, **claims)

    def service(self, scope: str = CHECK_SCOPE, **claims: Any) -> str:
        return self.token("svc-client", scope=scope, client=True, **claims)

    def admin(self, **claims: Any) -> str:
        return self.token("admin-client", scope=ADMIN_SCOPE, client=True, **claims)

    def authenticator(self) -> JwtAuthenticator:
        return JwtAuthenticator(self.settings(), self.keys())

    def settings(self) -> OidcSettings:
        return OidcSettings(issuer=ISSUER, audiences=(AUDIENCE,))

    def keys(self) -> StaticKeyProvider:
        return StaticKeyProvider(self.jwks)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ROOT = bearer(ROOT_KEY)


async def v1_client(issuer: Issuer | None, **settings: Any) -> AsyncIterator[AsyncTestClient[Any]]:
    """The app accepting ``issuer``'s tokens (none when ``None``) and the bootstrap key :data:`ROOT_KEY`."""
    values: dict[str, Any] = {"api_keys": (ROOT_KEY,), "check_scope": CHECK_SCOPE}
    if issuer is not None:
        values["oidc"] = issuer.settings()
    app = create_app(
        make_settings(**{**values, **settings}), token_keys=issuer.keys() if issuer else None
    )
    async with AsyncTestClient(app) as client:
        client.permsvc_app = app  # type: ignore[attr-defined]
        yield client


def state_of(client: AsyncTestClient[Any]) -> Any:
    """The Litestar state of the app under test (its ``deps`` and the /v1 security)."""
    return client.permsvc_app.state  # type: ignore[attr-defined]


async def seed_store(
    client: AsyncTestClient[Any], *tuples: tuple[str, str, str]
) -> tuple[str, str]:
    """A new store with the shared test model and ``tuples``; returns (store id, model id)."""
    response = await client.post("/stores", json={"name": "v1-store"}, headers=ROOT)
    store = str(response.json()["id"])
    response = await client.post(f"/stores/{store}/authorization-models", json=MODEL, headers=ROOT)
    model = str(response.json()["authorization_model_id"])
    if tuples:
        keys = [{"object": o, "relation": r, "user": u} for o, r, u in tuples]
        response = await client.post(
            f"/stores/{store}/write", json={"writes": {"tuple_keys": keys}}, headers=ROOT
        )
        assert response.status_code == 200, response.text
    return store, model


async def api_key(client: AsyncTestClient[Any], scope: str, store_id: str | None = None) -> str:
    """A key created directly in the app's datastore (as ``permsvc admin create-key`` does)."""
    deps = state_of(client).deps
    keys = getattr(deps.datastore, "inner", deps.datastore)
    return (await CreateApiKeyCommand(keys=keys).execute(scope, store_id=store_id)).key
