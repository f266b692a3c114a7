"""IndexedDatastore on every backend: build from a snapshot, follow writes made elsewhere (another
process is simulated by writing to the database directly), catch up when notifications are missed,
consistency levels and tokens, the memory budget, restarts, and the snapshot guarantee."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from permsvc.commands.check import CheckParams, CheckQuery
from permsvc.commands.models import ModelResolver
from permsvc.core.refs import TupleKey
from permsvc.core.revision import (
    HIGHER_CONSISTENCY,
    MINIMIZE_LATENCY,
    Consistency,
    InvalidConsistencyTokenError,
    encode_token,
)
from permsvc.model.json import model_from_json
from permsvc.store.index import (
    BYTES_PER_TUPLE,
    IndexedDatastore,
    IndexedReader,
    TupleIndex,
    reader_for,
)
from permsvc.store.memory import MemoryDatastore
from permsvc.store.postgres import PostgresDatastore
from permsvc.store.protocol import ReadFilter
from tests.pg import session_database_url

pytestmark = pytest.mark.backends("memory", "sqlite", "postgres")
"""The databases an index is built over (each test wraps its own ``IndexedDatastore``)."""

_NEVER = 3600.0

_MODEL = {
    "schema_version": "1.1",
    "type_definitions": [
        {"type": "user"},
        {
            "type": "group",
            "relations": {"member": {"this": {}}},
            "metadata": {
                "relations": {"member": {"directly_related_user_types": [{"type": "user"}]}}
            },
        },
        {
            "type": "doc",
            "relations": {"viewer": {"this": {}}},
            "metadata": {
                "relations": {
                    "viewer": {
                        "directly_related_user_types": [
                            {"type": "user"},
                            {"type": "user", "wildcard": {}},
                            {"type": "group", "relation": "member"},
                        ]
                    }
                }
            },
        },
    ],
}


def _key(obj: str, user: str, relation: str = "viewer") -> TupleKey:
    return TupleKey(object=obj, relation=relation, user=user)


@contextlib.asynccontextmanager
async def _indexed(
    datastore: Any, *, poll_s: float = 0.02, listen: bool = True, build: bool = True, **kwargs: Any
) -> AsyncIterator[IndexedDatastore]:
    url = session_database_url() if listen and isinstance(datastore, PostgresDatastore) else None
    indexed = IndexedDatastore(datastore, poll_s=poll_s, listen_url=url, **kwargs)
    await indexed.start(build=build)
    try:
        yield indexed
    finally:
        await indexed.stop_following()


async def _eventually(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


async def _all_tuples(datastore: Any, store_id: str) -> list[TupleKey]:
    out: list[TupleKey] = []
    token = ""
    while True:
        page = await datastore.read_page(
            store_id, ReadFilter(), page_size=100, continuation_token=token
        )
        out.extend(t.key for t in page.items)
        token = page.continuation_token
        if not token:
            return sorted(out, key=lambda k: k.key)


async def test_start_indexes_every_store_at_its_snapshot_revision(datastore: Any) -> None:
    store = (await datastore.create_store("s")).id
    await datastore.write(store, writes=[_key(f"doc:{i}", f"user:{i % 3}") for i in range(25)])
    await datastore.write(
        store, writes=[_key("doc:1", "group:eng#member"), _key("doc:2", "user:*")]
    )
    await datastore.write(store, deletes=[_key("doc:3", "user:0")])
    async with _indexed(datastore) as indexed:
        assert indexed.mode(store) == "index"
        assert indexed.indexed_revision(store) == await datastore.head_revision(store) == 3
        index = indexed.index_of(store)
        assert index is not None
        assert sorted(index.tuples(), key=lambda k: k.key) == await _all_tuples(datastore, store)


async def test_follows_writes_made_by_another_process(datastore: Any) -> None:
    store = (await datastore.create_store("s")).id
    async with _indexed(datastore) as indexed:
        result = await datastore.write(store, writes=[_key("doc:1", "user:anne")])
        await _eventually(lambda: indexed.indexed_revision(store) == result.revision)
        reader, revision = await reader_for(indexed, store, MINIMIZE_LATENCY)
        assert isinstance(reader, IndexedReader)
        assert revision == result.revision
        assert await reader.read_user_tuple(store, "doc:1", "viewer", "user:anne") == _key(
            "doc:1", "user:anne"
        )
        result = await datastore.write(store, deletes=[_key("doc:1", "user:anne")])
        await _eventually(lambda: indexed.indexed_revision(store) == result.revision)
        assert await indexed.read_user_tuple(store, "doc:1", "viewer", "user:anne") is None


async def test_missed_notifications_are_caught_up_by_consistency_and_polling(
    datastore: Any,
) -> None:
    store = (await datastore.create_store("s")).id
    async with _indexed(datastore, poll_s=_NEVER, listen=False) as indexed:
        await asyncio.sleep(0)
        granted = await datastore.write(store, writes=[_key("doc:1", "user:anne")])
        reader, revision = await reader_for(indexed, store, MINIMIZE_LATENCY)
        assert revision == 0, "MINIMIZE_LATENCY answers from the index as it is"
        assert await reader.read_user_tuple(store, "doc:1", "viewer", "user:anne") is None
        reader, revision = await reader_for(indexed, store, HIGHER_CONSISTENCY)
        assert isinstance(reader, IndexedReader)
        assert revision == granted.revision
        assert await reader.read_user_tuple(store, "doc:1", "viewer", "user:anne") is not None
        revoked = await datastore.write(store, deletes=[_key("doc:1", "user:anne")])
        token = Consistency(token=encode_token(store, revoked.revision))
        reader, revision = await reader_for(indexed, store, token)
        assert revision == revoked.revision
        assert await reader.read_user_tuple(store, "doc:1", "viewer", "user:anne") is None
    async with _indexed(datastore, poll_s=0.01, listen=False) as polling:
        again = await datastore.write(store, writes=[_key("doc:9", "user:bob")])
        await _eventually(lambda: polling.indexed_revision(store) == again.revision)


async def test_writes_through_the_index_are_visible_to_the_writer_at_once(datastore: Any) -> None:
    store = (await datastore.create_store("s")).id
    async with _indexed(datastore, poll_s=_NEVER, listen=False) as indexed:
        result = await indexed.write(store, writes=[_key("doc:1", "user:anne")])
        assert indexed.indexed_revision(store) == result.revision
        _, revision = await reader_for(indexed, store, MINIMIZE_LATENCY)
        assert revision == result.revision


async def test_new_enemy_revoke_then_check_with_its_token_is_denied(datastore: Any) -> None:
    store = (await datastore.create_store("s")).id
    stored = await datastore.write_model(store, model_from_json(_MODEL))
    async with _indexed(datastore, poll_s=_NEVER, listen=False) as indexed:
        check = CheckQuery(reader=indexed, resolver=ModelResolver(indexed))
        tuple_key = _key("doc:1", "user:anne")
        granted = await datastore.write(
            store,
            writes=[_key("doc:1", "group:eng#member"), _key("group:eng", "user:anne", "member")],
        )
        params = CheckParams(store_id=store, tuple_key=tuple_key, model_id=stored.id)
        outcome = await check.execute(
            msgspec_replace(
                params, consistency=Consistency(token=encode_token(store, granted.revision))
            )
        )
        assert outcome.allowed
        assert outcome.revision == granted.revision
        revoked = await datastore.write(store, deletes=[_key("group:eng", "user:anne", "member")])
        stale = await check.execute(params)
        assert stale.allowed and stale.revision == granted.revision, (
            "the index has not followed yet"
        )
        fresh = await check.execute(
            msgspec_replace(
                params, consistency=Consistency(token=encode_token(store, revoked.revision))
            )
        )
        assert not fresh.allowed
        assert fresh.revision == revoked.revision


def msgspec_replace(params: CheckParams, **changes: Any) -> CheckParams:
    import msgspec

    return msgspec.structs.replace(params, **changes)


async def test_tokens_of_another_store_or_from_the_future_are_rejected(datastore: Any) -> None:
    store = (await datastore.create_store("s")).id
    other = (await datastore.create_store("t")).id
    async with _indexed(datastore, poll_s=_NEVER, listen=False, wait_s=0.05) as indexed:
        with pytest.raises(InvalidConsistencyTokenError, match="another store"):
            await reader_for(indexed, store, Consistency(token=encode_token(other, 0)))
        with pytest.raises(InvalidConsistencyTokenError, match="latest revision is 0"):
            await reader_for(indexed, store, Consistency(token=encode_token(store, 7)))
        with pytest.raises(InvalidConsistencyTokenError, match="invalid consistency token"):
            await reader_for(indexed, store, Consistency(token="v1.garbage!"))


async def test_store_over_the_memory_budget_is_evaluated_against_the_database(
    datastore: Any,
) -> None:
    big = (await datastore.create_store("big")).id
    small = (await datastore.create_store("small")).id
    await datastore.write(big, writes=[_key(f"doc:{i}", "user:anne") for i in range(5)])
    await datastore.write(small, writes=[_key("doc:1", "user:anne")])
    budget = 3 * BYTES_PER_TUPLE
    async with _indexed(
        datastore, poll_s=0.01, listen=False, build=False, memory_budget=budget
    ) as indexed:
        for store in (big, small):
            reader, revision = await reader_for(indexed, store, MINIMIZE_LATENCY)
            assert reader is datastore
            assert revision == 1
        await _eventually(
            lambda: indexed.mode(big) == "database" and indexed.mode(small) == "index"
        )
        reader, _ = await reader_for(indexed, big, MINIMIZE_LATENCY)
        assert reader is datastore
        assert await reader.read_user_tuple(big, "doc:4", "viewer", "user:anne") is not None
        await datastore.write(small, writes=[_key(f"doc:{i}", "user:bob") for i in range(5)])
        await _eventually(lambda: indexed.mode(small) == "database")
        reader, _ = await reader_for(indexed, small, MINIMIZE_LATENCY)
        assert reader is datastore


_BOTH_MODEL = {
    "schema_version": "1.1",
    "type_definitions": [
        {"type": "user"},
        {
            "type": "doc",
            "relations": {
                "a": {"this": {}},
                "b": {"this": {}},
                "viewer": {
                    "intersection": {
                        "child": [
                            {"computedUserset": {"relation": "a"}},
                            {"computedUserset": {"relation": "b"}},
                        ]
                    }
                },
            },
            "metadata": {
                "relations": {
                    "a": {"directly_related_user_types": [{"type": "user"}]},
                    "b": {"directly_related_user_types": [{"type": "user"}]},
                }
            },
        },
    ],
}


async def test_a_check_never_sees_half_of_a_write() -> None:
    """Every write moves ``user:u`` from ``a`` to ``b`` or back in one revision, so ``a and b``
    holds at no revision; a check that read ``a`` before a batch landed and ``b`` after it would
    answer allowed. Checks run concurrently with the writes and a follower polling every 0.5 ms."""
    database = MemoryDatastore()
    store = (await database.create_store("s")).id
    model = await database.write_model(store, model_from_json(_BOTH_MODEL))
    on_a, on_b = _key("doc:1", "user:u", "a"), _key("doc:1", "user:u", "b")
    await database.write(store, writes=[on_a])
    async with _indexed(database, poll_s=0.0005, listen=False) as indexed:
        check = CheckQuery(reader=indexed, resolver=ModelResolver(indexed))
        params = CheckParams(store_id=store, tuple_key=_key("doc:1", "user:u"), model_id=model.id)
        done = asyncio.Event()

        async def toggle() -> None:
            for n in range(300):
                old, new = (on_a, on_b) if n % 2 == 0 else (on_b, on_a)
                await database.write(store, deletes=[old], writes=[new])
                await asyncio.sleep(0.0002)
            done.set()

        async def checks() -> set[int]:
            seen: set[int] = set()
            while not done.is_set():
                outcome = await check.execute(params)
                assert not outcome.allowed, f"a check mixed two revisions around {outcome.revision}"
                seen.add(outcome.revision)
                await asyncio.sleep(0)
            return seen

        results = await asyncio.gather(toggle(), *(checks() for _ in range(4)))
        revisions = set().union(*results[1:])
        assert len(revisions) > 10, "checks ran at many revisions while the index followed"


async def test_restart_rebuilds_at_the_head(datastore: Any) -> None:
    store = (await datastore.create_store("s")).id
    async with _indexed(datastore) as first:
        await first.write(
            store, writes=[_key("doc:1", "user:anne"), _key("doc:2", "group:eng#member")]
        )
        await first.write(store, deletes=[_key("doc:1", "user:anne")])
        before = sorted(first.index_of(store).tuples(), key=lambda k: k.key)  # type: ignore[union-attr]
    await datastore.write(store, writes=[_key("doc:3", "user:*")])
    async with _indexed(datastore) as second:
        assert second.indexed_revision(store) == 3
        after = sorted(second.index_of(store).tuples(), key=lambda k: k.key)  # type: ignore[union-attr]
        assert after == sorted([*before, _key("doc:3", "user:*")], key=lambda k: k.key)


async def test_store_created_elsewhere_is_indexed_on_first_read(datastore: Any) -> None:
    async with _indexed(datastore, poll_s=_NEVER, listen=False) as indexed:
        store = (await datastore.create_store("later")).id
        await datastore.write(store, writes=[_key("doc:1", "user:anne")])
        assert indexed.mode(store) == "absent"
        reader, revision = await reader_for(indexed, store, MINIMIZE_LATENCY)
        assert reader is datastore, "read from the database while the index is built"
        assert revision == 1
        await _eventually(lambda: indexed.mode(store) == "index")
        reader, revision = await reader_for(indexed, store, MINIMIZE_LATENCY)
        assert isinstance(reader, IndexedReader)
        assert revision == 1


@pytest.mark.postgres
async def test_listener_reconnects_and_catches_up_what_it_missed(postgres_url: str) -> None:
    database = await PostgresDatastore.open(postgres_url, migrate=False, min_size=1, max_size=4)
    try:
        store = (await database.create_store("s")).id
        async with _indexed(database, poll_s=_NEVER, build=False) as indexed:
            await reader_for(indexed, store, MINIMIZE_LATENCY)
            await _eventually(lambda: indexed.mode(store) == "index")
            listener = indexed._listener
            assert listener is not None and listener.connected
            pid = listener._conn.get_server_pid()  # type: ignore[union-attr]
            await database.pool.execute("SELECT pg_terminate_backend($1)", pid)
            missed = await database.write(store, writes=[_key("doc:1", "user:anne")])
            await _eventually(
                lambda: indexed.indexed_revision(store) == missed.revision, timeout=10
            )
            assert listener.connected
            notified = await database.write(store, writes=[_key("doc:2", "user:anne")])
            await _eventually(lambda: indexed.indexed_revision(store) == notified.revision)
    finally:
        await database.aclose()


class _SlowChangelog(MemoryDatastore):
    """A database whose changelog reads take longer than the index may wait."""

    async def changes_since(self, store_id: str, revision: int, *, limit: int) -> Any:
        await asyncio.sleep(2.0)
        return await super().changes_since(store_id, revision, limit=limit)


async def test_an_index_that_cannot_catch_up_in_time_hands_the_read_to_the_database_and_keeps_going() -> (
    None
):
    database = _SlowChangelog()
    store = (await database.create_store("s")).id
    async with _indexed(database, poll_s=_NEVER, listen=False, wait_s=0.05) as indexed:
        written = await database.write(store, writes=[_key("doc:1", "user:anne")])
        token = Consistency(token=encode_token(store, written.revision))
        for consistency in (HIGHER_CONSISTENCY, token):
            reader, revision = await reader_for(indexed, store, consistency)
            assert reader is database
            assert revision == written.revision
            assert await reader.read_user_tuple(store, "doc:1", "viewer", "user:anne") is not None
        reader, revision = await reader_for(indexed, store, MINIMIZE_LATENCY)
        assert isinstance(reader, IndexedReader)
        assert revision == 0
        await _eventually(lambda: indexed.indexed_revision(store) == written.revision)


async def test_snapshot_is_exactly_the_state_at_its_revision_while_writes_go_on(
    datastore: Any,
) -> None:
    store = (await datastore.create_store("s")).id
    await datastore.write(store, writes=[_key(f"doc:{i}", "user:anne") for i in range(100)])
    for start in range(100, 1000, 100):
        await datastore.write(
            store, writes=[_key(f"doc:{i}", "user:anne") for i in range(start, start + 100)]
        )
    stop = asyncio.Event()
    churned = [0]

    async def churn() -> None:
        while not stop.is_set():
            i = churned[0]
            await datastore.write(
                store,
                deletes=[_key(f"doc:{i}", "user:anne")],
                writes=[_key(f"doc:{i}", "user:bob")],
            )
            churned[0] += 1
            await asyncio.sleep(0)

    writer = asyncio.create_task(churn())
    snapshot = TupleIndex(store)
    try:
        await _eventually(lambda: churned[0] >= 3)
        revision = await datastore.snapshot_tuples(store, snapshot.add_batch, batch_size=50)
    finally:
        stop.set()
        await writer
    snapshot.finish_build(revision)
    replayed = TupleIndex(store)
    replayed.finish_build(0)
    changes = [
        c for c in await datastore.changes_since(store, 0, limit=100_000) if c.revision <= revision
    ]
    replayed.apply(changes)
    assert replayed.revision == revision
    assert sorted(snapshot.tuples(), key=lambda k: k.key) == sorted(
        replayed.tuples(), key=lambda k: k.key
    )
    assert revision >= 13, "the scan started after the churn had written"
    if not isinstance(datastore, MemoryDatastore):
        assert await datastore.head_revision(store) > revision, "writes went on while the scan ran"


async def test_without_notifications_the_index_falls_back_to_polling() -> None:
    database = MemoryDatastore()
    store = (await database.create_store("s")).id
    indexed = IndexedDatastore(database, listen_url="postgresql://nobody@127.0.0.1:1/none")
    await indexed.start()
    try:
        written = await database.write(store, writes=[_key("doc:1", "user:anne")])
        await _eventually(lambda: indexed.indexed_revision(store) == written.revision)
    finally:
        await indexed.stop_following()
