"""Fixtures of the security suite: the world of :mod:`tests.security.kit` on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.security.kit import BACKENDS, World, database_param, open_world


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_param(request, tmp_path)


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    async for w in open_world(database_url):
        yield w
