"""Fixtures of the auth tests: session-wide keys and a token factory (no network)."""

from __future__ import annotations

import pytest

from permsvc.auth.jwks import StaticKeyProvider
from permsvc.auth.jwt import JwtAuthenticator
from tests.unit.auth.tokenkit import Keys, TokenFactory, settings


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="session")
def make_token(keys: Keys) -> TokenFactory:
    return TokenFactory(keys)


@pytest.fixture
def authenticator(keys: Keys) -> JwtAuthenticator:
    return JwtAuthenticator(settings(), StaticKeyProvider(keys.jwks()))
