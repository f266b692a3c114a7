"""The index memory budget is one budget for all the stores of a process: stores are indexed in
the order they are met while their tuples fit in what the indexed ones leave (no eviction), the
rest are served from the database, and deleting an indexed store gives its room back."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from permsvc.core.refs import TupleKey
from permsvc.core.revision import MINIMIZE_LATENCY
from permsvc.store.index import BYTES_PER_TUPLE, IndexedDatastore, reader_for

pytestmark = pytest.mark.backends("memory", "sqlite")


def _keys(n: int, user: str = "user:a") -> list[TupleKey]:
    return [TupleKey(object=f"doc:{i}", relation="viewer", user=user) for i in range(n)]


async def test_stores_share_one_budget_in_creation_order_and_a_deletion_frees_room(
    datastore: Any,
) -> None:
    first = (await datastore.create_store("first")).id
    second = (await datastore.create_store("second")).id
    third = (await datastore.create_store("third")).id
    for store in (first, second, third):
        await datastore.write(store, writes=_keys(4))
    indexed = IndexedDatastore(
        datastore, poll_s=0.01, memory_budget=9 * BYTES_PER_TUPLE, snapshots=False
    )
    await indexed.start()
    try:
        # 4 + 4 fit in 9; the third does not (4 more), and nothing is evicted for it
        assert [indexed.mode(s) for s in (first, second, third)] == ["index", "index", "database"]
        stats = indexed.stats()
        assert (stats.indexed_stores, stats.database_stores, stats.tuples) == (2, 1, 8)
        assert stats.estimated_bytes == 8 * BYTES_PER_TUPLE
        assert stats.budget_bytes == 9 * BYTES_PER_TUPLE
        reader, _ = await reader_for(indexed, third, MINIMIZE_LATENCY)
        assert reader is datastore
        assert indexed.mode(third) == "database"
        await indexed.delete_store(first)
        # its room is offered again: the store left out is indexed when a request next reads it
        await reader_for(indexed, third, MINIMIZE_LATENCY)
        for _ in range(200):
            if indexed.mode(third) == "index":
                break
            await asyncio.sleep(0.01)
        assert indexed.mode(third) == "index"
        assert indexed.stats().tuples == 8
    finally:
        await indexed.stop_following()
