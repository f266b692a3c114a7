"""BatchingTupleReader on its own: what it merges, how it splits, and what a cancelled or failed
read does to the others of its batch."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from permsvc.core.refs import parse_tuple
from permsvc.store.memory import MemoryDatastore
from permsvc.store.protocol import MAX_KEYS_PER_READ
from permsvc.store.wrappers import wrap_for_request
from permsvc.store.wrappers.batching import BatchingTupleReader
from tests.unit.engine.conftest import DatabaseLikeReader

pytestmark = pytest.mark.timeout(30)


class _Recording(DatabaseLikeReader):
    """Records every statement: ``("one", kind)`` or ``("many", keys per kind)``."""

    def __init__(self, inner: MemoryDatastore) -> None:
        super().__init__(inner)
        self.calls: list[tuple[str, Any]] = []
        self.fail: Exception | None = None
        self.gate: asyncio.Event | None = None

    async def _statement(self, call: tuple[str, Any]) -> None:
        self.calls.append(call)
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail

    async def read_user_tuple(self, store_id: str, object: str, relation: str, user: str) -> Any:
        await self._statement(("one", "user"))
        return await super().read_user_tuple(store_id, object, relation, user)

    async def read_userset_tuples(self, store_id: str, object: str, relation: str) -> Any:
        await self._statement(("one", "usersets"))
        return await super().read_userset_tuples(store_id, object, relation)

    async def read_many(self, store_id: str, keys: Any) -> Any:
        sizes = {
            "users": len(keys.users),
            "usersets": len(keys.usersets),
            "object_relations": len(keys.object_relations),
        }
        await self._statement(("many", sizes))
        return await super().read_many(store_id, keys)


async def _setup(n: int = 0) -> tuple[MemoryDatastore, str, _Recording]:
    memory = MemoryDatastore()
    store = await memory.create_store("batching")
    tuples = [parse_tuple(f"doc:{i}#viewer@user:u{i}") for i in range(n)]
    tuples += [parse_tuple("doc:0#viewer@group:eng#member"), parse_tuple("doc:0#viewer@user:*")]
    for i in range(0, len(tuples), 100):
        await memory.write(store.id, writes=tuples[i : i + 100])
    return memory, store.id, _Recording(memory)


async def test_wrap_for_request_batches_only_readers_that_wait_and_read_many() -> None:
    memory, store_id, recording = await _setup()
    assert wrap_for_request(memory, store_id) is memory
    assert isinstance(wrap_for_request(recording, store_id), BatchingTupleReader)
    overlay = wrap_for_request(recording, store_id, [parse_tuple("doc:9#viewer@user:x")])
    assert isinstance(overlay.inner, BatchingTupleReader)  # type: ignore[attr-defined]


async def test_concurrent_reads_of_all_kinds_go_out_as_one_statement() -> None:
    _, store_id, recording = await _setup(5)
    reader = BatchingTupleReader(recording)
    results = await asyncio.gather(
        *(reader.read_user_tuple(store_id, f"doc:{i}", "viewer", f"user:u{i}") for i in range(5)),
        reader.read_user_tuple(store_id, "doc:3", "viewer", "user:u3"),
        reader.read_user_tuple(store_id, "doc:1", "viewer", "user:nobody"),
        reader.read_userset_tuples(store_id, "doc:0", "viewer"),
        reader.read_userset_tuples(store_id, "doc:7", "viewer"),
        reader.read_object_relation(store_id, "doc:0", "viewer"),
    )
    assert recording.calls == [("many", {"users": 6, "usersets": 2, "object_relations": 1})]
    assert reader.queries == 1
    assert [r.user for r in results[:6]] == [
        "user:u0",
        "user:u1",
        "user:u2",
        "user:u3",
        "user:u4",
        "user:u3",
    ]
    assert results[6] is None
    assert {k.user for k in results[7]} == {"group:eng#member", "user:*"}
    assert list(results[8]) == []
    assert {k.user for k in results[9]} == {"user:u0", "group:eng#member", "user:*"}


async def test_a_lone_read_uses_its_single_key_statement() -> None:
    _, store_id, recording = await _setup(1)
    reader = BatchingTupleReader(recording)
    assert (await reader.read_user_tuple(store_id, "doc:0", "viewer", "user:u0")) is not None
    assert recording.calls == [("one", "user")]


async def test_reads_beyond_the_key_limit_are_split() -> None:
    n = MAX_KEYS_PER_READ + 500
    _, store_id, recording = await _setup(n)
    reader = BatchingTupleReader(recording)
    found = await asyncio.gather(
        *(reader.read_user_tuple(store_id, f"doc:{i}", "viewer", f"user:u{i}") for i in range(n))
    )
    assert all(k is not None for k in found)
    sizes = [call[1]["users"] for call in recording.calls]
    assert sizes == [MAX_KEYS_PER_READ, 500]


async def test_a_cancelled_read_leaves_the_others_of_its_batch_answered() -> None:
    _, store_id, recording = await _setup(3)
    recording.gate = asyncio.Event()
    reader = BatchingTupleReader(recording)
    tasks = [
        asyncio.ensure_future(reader.read_user_tuple(store_id, f"doc:{i}", "viewer", f"user:u{i}"))
        for i in range(3)
    ]
    while not recording.calls:
        await asyncio.sleep(0)
    tasks[1].cancel()
    recording.gate.set()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(done[1], asyncio.CancelledError)
    assert done[0].user == "user:u0" and done[2].user == "user:u2"  # type: ignore[union-attr]


async def test_a_failed_statement_fails_every_read_of_its_batch() -> None:
    _, store_id, recording = await _setup(2)
    recording.fail = ConnectionError("database went away")
    reader = BatchingTupleReader(recording)
    done = await asyncio.gather(
        reader.read_user_tuple(store_id, "doc:0", "viewer", "user:u0"),
        reader.read_userset_tuples(store_id, "doc:1", "viewer"),
        return_exceptions=True,
    )
    assert all(isinstance(d, ConnectionError) for d in done)
    recording.fail = None
    assert (await reader.read_user_tuple(store_id, "doc:0", "viewer", "user:u0")) is not None
