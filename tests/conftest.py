"""Shared test configuration and the one backend fixture, ``datastore``.

``datastore`` is a fresh, empty datastore of each backend in :data:`tests.backends.BACKENDS` (the
test runs once per backend); a test or module marked ``@pytest.mark.backends("memory", ...)`` runs
on those only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.backends import BACKENDS, POSTGRES_BACKENDS
from tests.pg import postgres_url  # noqa: F401 - the fixture, for every test module

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend_name" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("backends")
    names = marker.args if marker is not None else tuple(BACKENDS)
    metafunc.parametrize(
        "backend_name",
        [
            pytest.param(name, id=name, marks=[pytest.mark.postgres] if name in POSTGRES_BACKENDS else [])
            for name in names
        ],
    )


@pytest.fixture
async def datastore(backend_name: str) -> AsyncIterator[Any]:
    """A fresh, empty datastore of the backend ``backend_name`` (see the module docstring)."""
    async with BACKENDS[backend_name]() as store:
        yield store
