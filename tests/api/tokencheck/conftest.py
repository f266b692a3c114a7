"""Fixtures of the token-subject check tests: a seeded default store and a local token issuer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.api.admin.v1kit import Issuer, seed_store, state_of, v1_client

TUPLES = (
    ("document:readme", "viewer", "user:auth0|42"),
    ("document:plan", "owner", "user:google-oauth2|1234"),
    ("group:eng", "member", "user:auth0|42"),
    ("document:design", "viewer", "group:eng#member"),
    ("document:public", "viewer", "user:*"),
)


@pytest.fixture(scope="session")
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
async def client(issuer: Issuer) -> AsyncIterator[AsyncTestClient[Any]]:
    """The app whose default store (PERMSVC_STORE) is seeded with TUPLES."""
    async for plain in v1_client(issuer):
        store, _ = await seed_store(plain, *TUPLES)
        state = state_of(plain)
        state.deps.settings = _with_store(state.deps.settings, store)
        state["test_store"] = store
        yield plain


def _with_store(settings: Any, store: str) -> Any:
    import msgspec

    return msgspec.structs.replace(settings, store=store)
