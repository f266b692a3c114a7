"""Shared test configuration, the guard that keeps the suite inside the repository, and the one
backend fixture, ``datastore``.

``datastore`` is a fresh, empty datastore of each backend in :data:`tests.backends.BACKENDS` (the
test runs once per backend); a test or module marked ``@pytest.mark.backends("memory", ...)`` runs
on those only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.backends import BACKENDS, POSTGRES_BACKENDS
from tests.pg import postgres_url  # noqa: F401 - the fixture, for every test module

REPO_ROOT = Path(__file__).resolve().parent.parent
OPENFGA_SUITES = REPO_ROOT / "tests" / "conformance" / "openfga"
"""OpenFGA's conformance suites, vendored unchanged (origin and license in its README.md)."""

SIBLING_SHARED = REPO_ROOT.parent / "shared"  # outside-repo: the guard
"""A folder that may lie beside a checkout (CI lays one there). Tests must never read it: data
they need is vendored under tests/. ``tests/unit/test_self_contained.py`` also scans the sources."""

_REFUSED = os.path.join(str(SIBLING_SHARED), "")  # outside-repo: the guard
_WATCHED = frozenset({"open", "os.listdir", "os.scandir", "os.chdir"})


def _refuse_sibling_shared(event: str, args: tuple[object, ...]) -> None:
    if event not in _WATCHED or not args:
        return
    target = args[0]
    if isinstance(target, (str, bytes, os.PathLike)):
        path = os.path.abspath(os.fsdecode(target))
        if path == _REFUSED[:-1] or path.startswith(_REFUSED):
            raise RuntimeError(
                f"a test read {path}, outside the repository: vendor the data under tests/"
            )


sys.addaudithook(_refuse_sibling_shared)

CLIENT_PYTHON = REPO_ROOT / "clients" / "python"
"""The Python client's own distribution (``permsvc_client``), importable in the tests without
installing it: it has no dependency the server's test environment lacks."""
if str(CLIENT_PYTHON) not in sys.path:
    sys.path.insert(0, str(CLIENT_PYTHON))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend_name" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("backends")
    names = marker.args if marker is not None else tuple(BACKENDS)
    metafunc.parametrize(
        "backend_name",
        [
            pytest.param(
                name, id=name, marks=[pytest.mark.postgres] if name in POSTGRES_BACKENDS else []
            )
            for name in names
        ],
    )


@pytest.fixture
async def datastore(backend_name: str) -> AsyncIterator[Any]:
    """A fresh, empty datastore of the backend ``backend_name`` (see the module docstring)."""
    async with BACKENDS[backend_name]() as store:
        yield store
