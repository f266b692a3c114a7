"""The ``datastore`` fixture: every test in tests/store/ runs once per backend in BACKENDS."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.backends import BACKENDS, POSTGRES_BACKENDS
from tests.pg import postgres_url  # noqa: F401 - re-exported fixture

_PARAMS = [
    pytest.param(name, id=name, marks=[pytest.mark.postgres] if name in POSTGRES_BACKENDS else [])
    for name in BACKENDS
]


@pytest.fixture(params=_PARAMS)
async def datastore(request: pytest.FixtureRequest) -> AsyncIterator[object]:
    async with BACKENDS[request.param]() as store:
        yield store
