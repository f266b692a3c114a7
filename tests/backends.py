"""The datastore backends that backend-parametrized suites (storage, conformance) run against.

Each entry maps a backend name to an async context-manager factory yielding a fresh, empty
:class:`~permsvc.store.protocol.Datastore`. Suites parametrize a ``datastore`` fixture over
``BACKENDS``; adding a backend here runs every such suite against it.

- ``memory``: a new in-process store.
- ``sqlite``: a new database file in a temporary directory, migrated, deleted afterwards.
- ``postgres``: a new pool on the session's fresh database (``tests/pg.py``). The database is
  shared by the whole session, so "empty" means: no store exists that the test did not create
  (tests address stores only by the ids they created). Skips where no PostgreSQL is available,
  fails instead under ``CI=true``.
- ``indexed``: the in-memory index (:class:`~permsvc.store.index.IndexedDatastore`, started, as a
  server worker runs it) over a new memory store: tuple reads are served by its replicas.

``POSTGRES_BACKENDS`` names the entries that need a PostgreSQL server; mark their params with
``pytest.mark.postgres``. The ``datastore`` fixture (``tests/conftest.py``) runs a test once per
backend; ``@pytest.mark.backends("sqlite", "postgres")`` narrows it.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from permsvc.store.index import IndexedDatastore
from permsvc.store.memory import MemoryDatastore
from permsvc.store.postgres import PostgresDatastore
from permsvc.store.sqlite import SqliteDatastore
from tests.pg import session_database_url


@contextlib.asynccontextmanager
async def memory_backend(**_: Any) -> AsyncIterator[MemoryDatastore]:
    store = MemoryDatastore()
    try:
        yield store
    finally:
        await store.aclose()


@contextlib.asynccontextmanager
async def sqlite_backend(**_: Any) -> AsyncIterator[SqliteDatastore]:
    folder = Path(tempfile.mkdtemp(prefix="permsvc-sqlite-"))
    try:
        store = await SqliteDatastore.open(folder / "permsvc.db")
        try:
            yield store
        finally:
            await store.aclose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.asynccontextmanager
async def postgres_backend(*, database_url: str = "", **_: Any) -> AsyncIterator[PostgresDatastore]:
    """``database_url``: a database of the caller's own (e.g. :func:`tests.pg.fresh_database_url`)
    instead of the session's shared one."""
    store = await PostgresDatastore.open(
        database_url or session_database_url(), migrate=False, min_size=1, max_size=8
    )
    try:
        yield store
    finally:
        await store.aclose()


@contextlib.asynccontextmanager
async def indexed_backend(**_: Any) -> AsyncIterator[IndexedDatastore]:
    store = IndexedDatastore(MemoryDatastore())
    await store.start()
    try:
        yield store
    finally:
        await store.aclose()


BACKENDS: dict[str, Callable[..., contextlib.AbstractAsyncContextManager[Any]]] = {
    "memory": memory_backend,
    "sqlite": sqlite_backend,
    "postgres": postgres_backend,
    "indexed": indexed_backend,
}

POSTGRES_BACKENDS = frozenset({"postgres"})
