"""Optional store capabilities are found with unwrap() through declared wrappers (store/protocol.py)."""

from __future__ import annotations

from typing import Any

import pytest

from permsvc.core.refs import parse_tuple
from permsvc.store.index import IndexedDatastore
from permsvc.store.memory import MemoryDatastore
from permsvc.store.protocol import (
    ApiKeyStore,
    AuditedWrites,
    AuditLog,
    ClaimSpecStore,
    ConsistentReads,
    ManyRelationsSyncReader,
    RelationVersions,
    SyncTupleReader,
    TupleWriteRevisions,
    inline_reads,
    unwrap,
)
from permsvc.store.wrappers.contextual import ContextualTupleReader
from permsvc.store.wrappers.proxy import TupleReaderProxy


class _Opaque:
    """A layer with an ``inner`` that does not declare it wraps anything (no ``unwrap``)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner


async def test_the_index_hands_out_its_databases_capabilities() -> None:
    memory = MemoryDatastore()
    indexed = IndexedDatastore(memory)
    for capability in (ApiKeyStore, AuditLog, ClaimSpecStore, AuditedWrites, TupleWriteRevisions):
        assert unwrap(indexed, capability) is memory
    assert unwrap(indexed, ConsistentReads) is indexed


async def test_a_layer_that_does_not_declare_what_it_wraps_hides_it() -> None:
    opaque = _Opaque(MemoryDatastore())
    assert unwrap(opaque, ApiKeyStore) is None
    assert unwrap(opaque, AuditedWrites) is None


async def test_read_capabilities_are_never_taken_from_below_a_reading_layer() -> None:
    memory = MemoryDatastore()
    # Reading the memory store directly would bypass the contextual tuples: the overlay offers
    # synchronous reads itself, and nothing it does not offer (several relations per call).
    overlay = ContextualTupleReader(memory, "store", ())
    assert unwrap(overlay, SyncTupleReader) is overlay
    assert unwrap(overlay, ManyRelationsSyncReader) is None
    assert unwrap(overlay, RelationVersions) is None
    assert unwrap(TupleReaderProxy(memory), SyncTupleReader) is None
    # ... while what is not about reads is found below it.
    assert unwrap(overlay, ApiKeyStore) is memory
    # An index over the memory store reads tuples itself: the memory store's reads are not its.
    assert unwrap(IndexedDatastore(memory), SyncTupleReader) is None


async def test_inline_reads_follow_the_reading_layer() -> None:
    memory = MemoryDatastore()
    assert inline_reads(memory)
    assert inline_reads(ContextualTupleReader(memory, "store", ()))
    assert not inline_reads(IndexedDatastore(memory))
    assert not inline_reads(_Opaque(memory))


@pytest.mark.backends("memory", "sqlite", "postgres", "indexed")
async def test_tuple_write_revisions_name_the_live_write(datastore: Any) -> None:
    """Every backend tells the revision each live tuple was written at (explanations read it)."""
    store = unwrap(datastore, TupleWriteRevisions)
    assert store is not None
    first, second, gone = (parse_tuple(f"doc:{i}#viewer@user:a") for i in range(3))
    s = (await datastore.create_store("revisions")).id
    await datastore.write(s, writes=[first, gone])  # 1
    await datastore.write(s, writes=[second])  # 2
    await datastore.write(s, deletes=[first, gone])  # 3
    await datastore.write(s, writes=[first])  # 4: written again
    found = await store.tuple_write_revisions(s, [first, second, gone])
    assert found == {first.key: 4, second.key: 2}
    assert await store.tuple_write_revisions(s, []) == {}
    assert await store.tuple_write_revisions("01NOSUCHSTORE0000000000000", [first]) == {}
