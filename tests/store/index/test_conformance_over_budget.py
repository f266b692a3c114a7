"""OpenFGA's conformance suites on a store beyond the index memory budget: an IndexedDatastore with
``memory_budget=0`` over SQLite and over PostgreSQL, as a server with that budget runs. Every store
with tuples is then served from the database (``reader_for`` hands out the database reader, whose
reads each request batches), never from an index. Same pass criterion as ``tests/conformance``."""

from __future__ import annotations

from typing import Any

import pytest

from permsvc.store.index import IndexedDatastore
from tests.conformance.runner import run_test
from tests.store.index.test_conformance_indexed import _cases


class _Recording(IndexedDatastore):
    """Remembers the stores it created (the PostgreSQL test database is shared by the session)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.created: list[str] = []

    async def create_store(self, name: str) -> Any:
        info = await super().create_store(name)
        self.created.append(info.id)
        return info


@pytest.mark.backends("sqlite", "postgres")
@pytest.mark.timeout(60)
@pytest.mark.parametrize("test", _cases())
async def test_conformance_served_from_the_database(datastore: Any, test: dict[str, Any]) -> None:
    served = _Recording(datastore, memory_budget=0, poll_s=3600)
    await served.start(build=False)
    try:
        results = await run_test(served, test, "stored")
        assert served.indexed_tuples() == 0
        if any(stage.get("tuples") for stage in test["stages"]):
            assert served.created and all(served.mode(s) == "database" for s in served.created)
    finally:
        await served.stop_following()
    failed = [r for r in results if not r.passed]
    assert not failed, "\n".join(f"{r.where}: {r.problem}" for r in failed)
