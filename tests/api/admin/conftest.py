"""Fixtures of the admin API tests: the app on the memory datastore with /v1 security installed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.api.admin.v1kit import Issuer, api_key, bearer, v1_client


@pytest.fixture(scope="session")
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
async def client(issuer: Issuer) -> AsyncIterator[AsyncTestClient[Any]]:
    async for c in v1_client(issuer):
        yield c


@pytest.fixture
async def admin(client: AsyncTestClient[Any]) -> dict[str, str]:
    """Headers of an admin API key."""
    return bearer(await api_key(client, "admin"))
