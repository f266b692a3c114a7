"""Fixtures of the CLI tests: a token factory for ``permsvc token explain`` (no network)."""

from __future__ import annotations

import pytest

from tests.unit.auth.tokenkit import Keys, TokenFactory


@pytest.fixture(scope="session")
def make_token() -> TokenFactory:
    return TokenFactory(Keys())
