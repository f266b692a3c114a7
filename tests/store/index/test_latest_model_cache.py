"""ModelResolver over an IndexedDatastore: the store's latest model is cached per process and
invalidated by model writes and store deletions (made here or notified from another process),
by a lost listener and by age; HIGHER_CONSISTENCY and consistency tokens still see every model
written before them. Every backend; "another process" writes to the database directly."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from permsvc.commands.check import CheckParams, CheckQuery
from permsvc.commands.errors import LatestModelNotFoundError
from permsvc.commands.models import ModelResolver
from permsvc.core.refs import TupleKey
from permsvc.core.revision import HIGHER_CONSISTENCY, MINIMIZE_LATENCY, Consistency, encode_token
from permsvc.model.json import model_from_json
from permsvc.store.errors import StoreNotFoundError
from permsvc.store.index import IndexedDatastore
from permsvc.store.memory import MemoryDatastore
from permsvc.store.postgres import PostgresDatastore
from tests.pg import session_database_url

pytestmark = pytest.mark.backends("memory", "sqlite", "postgres")
"""The databases an index is built over (each test wraps its own ``IndexedDatastore``)."""

_NEVER = 3600.0
_COUNTED = ("read_latest_model", "read_model", "head_revision")


def _model(relation: str) -> Any:
    """doc#viewer is direct; ``relation`` names a second, differently named relation per model."""
    direct = {"directly_related_user_types": [{"type": "user"}]}
    return model_from_json(
        {
            "schema_version": "1.1",
            "type_definitions": [
                {"type": "user"},
                {
                    "type": "doc",
                    "relations": {"viewer": {"this": {}}, relation: {"this": {}}},
                    "metadata": {"relations": {"viewer": direct, relation: direct}},
                },
            ],
        }
    )


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _count_reads(datastore: Any) -> Counter[str]:
    """Count the model reads that reach ``datastore`` (instance attributes shadow its methods)."""
    calls: Counter[str] = Counter()
    for name in _COUNTED:
        method = getattr(datastore, name)

        async def counted(
            *args: Any, _name: str = name, _method: Any = method, **kwargs: Any
        ) -> Any:
            calls[_name] += 1
            return await _method(*args, **kwargs)

        setattr(datastore, name, counted)
    return calls


@contextlib.asynccontextmanager
async def _indexed(
    datastore: Any, *, listen: bool = False, poll_s: float = _NEVER
) -> AsyncIterator[IndexedDatastore]:
    url = session_database_url() if listen and isinstance(datastore, PostgresDatastore) else None
    indexed = IndexedDatastore(datastore, poll_s=poll_s, listen_url=url)
    await indexed.start()
    try:
        yield indexed
    finally:
        await indexed.stop_following()


async def _until(condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, f"{what} not in time"
        await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def _two_processes(url: str) -> AsyncIterator[tuple[PostgresDatastore, PostgresDatastore]]:
    """Two pools on one database, as two ``permsvc serve`` workers have."""
    one = await PostgresDatastore.open(url, migrate=False, min_size=1, max_size=4)
    try:
        two = await PostgresDatastore.open(url, migrate=False, min_size=1, max_size=4)
        try:
            yield one, two
        finally:
            await two.aclose()
    finally:
        await one.aclose()


async def test_repeated_latest_resolution_reads_the_database_once(datastore: Any) -> None:
    store = (await datastore.create_store("s")).id
    first = await datastore.write_model(store, _model("a"))
    async with _indexed(datastore) as indexed:
        calls = _count_reads(datastore)
        resolver = ModelResolver(indexed)
        for _ in range(5):
            assert (
                await resolver.resolve(store, consistency=MINIMIZE_LATENCY)
            ).model_id == first.id
        assert calls["read_latest_model"] == 1
        for _ in range(3):
            await resolver.resolve(store, first.id)
        assert calls["read_model"] == 0, "the latest read confirmed the store, the model is known"


async def test_a_model_written_through_this_process_is_seen_at_once(datastore: Any) -> None:
    store = (await datastore.create_store("s")).id
    await datastore.write_model(store, _model("a"))
    async with _indexed(datastore) as indexed:
        resolver = ModelResolver(indexed)
        await resolver.resolve(store, consistency=MINIMIZE_LATENCY)
        second = await indexed.write_model(store, _model("b"))
        assert (await resolver.resolve(store, consistency=MINIMIZE_LATENCY)).model_id == second.id


async def test_a_model_written_elsewhere_by_consistency_level(datastore: Any) -> None:
    """No notification can arrive (no listener): MINIMIZE_LATENCY keeps the cached model until it
    is older than the polling interval; HIGHER_CONSISTENCY, no consistency (writes) and a token
    of a later tuple write see the new one at once."""
    store = (await datastore.create_store("s")).id
    first = await datastore.write_model(store, _model("a"))
    async with _indexed(datastore, poll_s=5.0) as indexed:
        clock = _Clock()
        resolver = ModelResolver(indexed, clock=clock)
        assert (await resolver.resolve(store, consistency=MINIMIZE_LATENCY)).model_id == first.id
        second = await datastore.write_model(store, _model("b"))
        assert (await resolver.resolve(store, consistency=MINIMIZE_LATENCY)).model_id == first.id
        written = await datastore.write(
            store, writes=[TupleKey(object="doc:1", relation="viewer", user="user:a")]
        )
        token = Consistency(token=encode_token(store, written.revision))
        calls = _count_reads(datastore)
        assert (await resolver.resolve(store, consistency=token)).model_id == second.id
        assert calls["head_revision"] == 1
        assert (await resolver.resolve(store, consistency=token)).model_id == second.id
        assert calls["read_latest_model"] == 1, "the token's revision is covered now"
        third = await datastore.write_model(store, _model("c"))
        assert (await resolver.resolve(store, consistency=HIGHER_CONSISTENCY)).model_id == third.id
        fourth = await datastore.write_model(store, _model("d"))
        assert (await resolver.resolve(store)).model_id == fourth.id
        fifth = await datastore.write_model(store, _model("e"))
        assert (await resolver.resolve(store, consistency=MINIMIZE_LATENCY)).model_id == fourth.id
        clock.now += 5.0
        assert (await resolver.resolve(store, consistency=MINIMIZE_LATENCY)).model_id == fifth.id


async def test_notifications_invalidate_and_cover_tokens(datastore: Any) -> None:
    """What the listener hands over (called directly here): a model notification invalidates, a
    later tuple notification lets a token of its revision use the cache, a reconnect revalidates."""
    store = (await datastore.create_store("s")).id
    await datastore.write_model(store, _model("a"))
    async with _indexed(datastore) as indexed:
        resolver = ModelResolver(indexed)
        await resolver.resolve(store, consistency=MINIMIZE_LATENCY)
        second = await datastore.write_model(store, _model("b"))
        indexed._models_notified(store, False)
        written = await datastore.write(
            store, writes=[TupleKey(object="doc:1", relation="viewer", user="user:a")]
        )
        indexed._notified(store, written.revision)
        calls = _count_reads(datastore)
        assert (await resolver.resolve(store, consistency=MINIMIZE_LATENCY)).model_id == second.id
        token = Consistency(token=encode_token(store, written.revision))
        assert (await resolver.resolve(store, consistency=token)).model_id == second.id
        assert calls == Counter(read_latest_model=1)
        third = await datastore.write_model(store, _model("c"))
        indexed._reconnected()
        assert (await resolver.resolve(store, consistency=MINIMIZE_LATENCY)).model_id == third.id


async def test_a_deleted_store_stops_answering_from_the_cache(datastore: Any) -> None:
    store = (await datastore.create_store("s")).id
    other = (await datastore.create_store("t")).id
    first = await datastore.write_model(store, _model("a"))
    kept = await datastore.write_model(other, _model("a"))
    async with _indexed(datastore) as indexed:
        resolver = ModelResolver(indexed)
        for s, m in ((store, first.id), (other, kept.id)):
            await resolver.resolve(s, consistency=MINIMIZE_LATENCY)
            await resolver.resolve(s, m)
        await indexed.delete_store(store)
        with pytest.raises(StoreNotFoundError):
            await resolver.resolve(store, consistency=MINIMIZE_LATENCY)
        with pytest.raises(StoreNotFoundError):
            await resolver.resolve(store, first.id)
        await datastore.delete_store(other)  # elsewhere: notified
        assert (await resolver.resolve(other, kept.id)).model_id == kept.id
        indexed._models_notified(other, True)
        assert indexed.mode(other) == "absent"
        with pytest.raises(StoreNotFoundError):
            await resolver.resolve(other, kept.id)
        with pytest.raises(StoreNotFoundError):
            await resolver.resolve(other, consistency=MINIMIZE_LATENCY)


async def test_deletion_elsewhere_is_seen_within_the_polling_interval(datastore: Any) -> None:
    store = (await datastore.create_store("s")).id
    first = await datastore.write_model(store, _model("a"))
    async with _indexed(datastore, poll_s=5.0) as indexed:
        clock = _Clock()
        resolver = ModelResolver(indexed, clock=clock)
        await resolver.resolve(store, consistency=MINIMIZE_LATENCY)
        await datastore.delete_store(store)
        await resolver.resolve(store, first.id)
        clock.now += 5.0
        with pytest.raises(StoreNotFoundError):
            await resolver.resolve(store, first.id)
        with pytest.raises(StoreNotFoundError):
            await resolver.resolve(store, consistency=MINIMIZE_LATENCY)


async def test_a_store_without_models_is_asked_again() -> None:
    database = MemoryDatastore()
    store = (await database.create_store("s")).id
    async with _indexed(database) as indexed:
        resolver = ModelResolver(indexed)
        with pytest.raises(LatestModelNotFoundError):
            await resolver.resolve(store, consistency=MINIMIZE_LATENCY)
        first = await database.write_model(store, _model("a"))
        assert (await resolver.resolve(store, consistency=MINIMIZE_LATENCY)).model_id == first.id


async def test_without_the_index_the_latest_model_is_read_every_time() -> None:
    database = MemoryDatastore()
    store = (await database.create_store("s")).id
    await database.write_model(store, _model("a"))
    calls = _count_reads(database)
    resolver = ModelResolver(database)
    await resolver.resolve(store, consistency=MINIMIZE_LATENCY)
    second = await database.write_model(store, _model("b"))
    assert (await resolver.resolve(store, consistency=MINIMIZE_LATENCY)).model_id == second.id
    assert calls["read_latest_model"] == 2


# -- PostgreSQL: two processes' indexes on one database --------------------------------------------


@pytest.mark.postgres
async def test_a_model_written_by_one_process_reaches_the_other_by_notification(
    postgres_url: str,
) -> None:
    async with _two_processes(postgres_url) as (one, two):
        store = (await one.create_store("s")).id
        first = await one.write_model(store, _model("a"))
        async with _indexed(one, listen=True) as writer, _indexed(two, listen=True) as reader:
            resolver = ModelResolver(reader)

            async def resolves_latest(model_id: str) -> bool:
                return (
                    await resolver.resolve(store, consistency=MINIMIZE_LATENCY)
                ).model_id == model_id

            assert await resolves_latest(first.id)
            second = await writer.write_model(store, _model("b"))
            await _until(lambda: resolves_latest(second.id), "the new model")
            written = await writer.write(
                store, writes=[TupleKey(object="doc:1", relation="viewer", user="user:a")]
            )

            async def notified() -> bool:
                return reader.model_versions.notified_revision(store) >= written.revision

            await _until(notified, "the tuple notification")
            calls = _count_reads(two)
            token = Consistency(token=encode_token(store, written.revision))
            assert (await resolver.resolve(store, consistency=token)).model_id == second.id
            assert not calls, (
                "the notification of the token's revision vouches for the cached model"
            )
            await writer.delete_store(store)

            async def gone() -> bool:
                try:
                    await resolver.resolve(store, second.id)
                except StoreNotFoundError:
                    return True
                return False

            await _until(gone, "the deletion")
            assert reader.mode(store) == "absent"


@pytest.mark.postgres
async def test_higher_consistency_sees_another_process_model_at_once(postgres_url: str) -> None:
    """The reader hears nothing (no listener, no polling): only HIGHER_CONSISTENCY sees the model."""
    async with _two_processes(postgres_url) as (one, two):
        store = (await one.create_store("s")).id
        first = await one.write_model(store, _model("a"))
        async with _indexed(one, listen=True) as writer, _indexed(two) as reader:
            resolver = ModelResolver(reader)
            assert (
                await resolver.resolve(store, consistency=MINIMIZE_LATENCY)
            ).model_id == first.id
            second = await writer.write_model(store, _model("b"))
            assert (
                await resolver.resolve(store, consistency=MINIMIZE_LATENCY)
            ).model_id == first.id
            assert (
                await resolver.resolve(store, consistency=HIGHER_CONSISTENCY)
            ).model_id == second.id


class _CountingPool:
    """Stands in for the datastore's asyncpg pool and counts every use."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        self.calls[name] += 1
        return getattr(self._pool, name)


@pytest.mark.postgres
async def test_a_repeated_check_without_model_id_sends_no_query(postgres_url: str) -> None:
    database = await PostgresDatastore.open(postgres_url, migrate=False, min_size=1, max_size=4)
    try:
        store = (await database.create_store("s")).id
        await database.write_model(store, _model("a"))
        await database.write(
            store, writes=[TupleKey(object="doc:1", relation="viewer", user="user:a")]
        )
        async with _indexed(database, listen=True) as indexed:
            check = CheckQuery(reader=indexed, resolver=ModelResolver(indexed))
            params = CheckParams(
                store_id=store, tuple_key=TupleKey(object="doc:1", relation="viewer", user="user:a")
            )
            assert (await check.execute(params)).allowed
            pool = _CountingPool(database.pool)
            database._pool = pool  # type: ignore[assignment]
            for _ in range(3):
                assert (await check.execute(params)).allowed
            assert not pool.calls, f"the database was asked: {dict(pool.calls)}"
    finally:
        await database.aclose()


def _gate_reads(datastore: Any, gate: asyncio.Event) -> Counter[str]:
    """Count the model reads reaching ``datastore`` and hold each until ``gate`` is set."""
    calls: Counter[str] = Counter()
    for name in ("read_latest_model", "read_model"):
        method = getattr(datastore, name)

        async def gated(*args: Any, _name: str = name, _method: Any = method, **kwargs: Any) -> Any:
            calls[_name] += 1
            await gate.wait()
            return await _method(*args, **kwargs)

        setattr(datastore, name, gated)
    return calls


@contextlib.asynccontextmanager
async def _aged_resolver(
    *, by_id: bool
) -> AsyncIterator[tuple[MemoryDatastore, str, str, ModelResolver]]:
    """A resolver whose entries for a fresh store (one model, resolved once) have all aged out."""
    database = MemoryDatastore()
    store = (await database.create_store("s")).id
    first = await database.write_model(store, _model("a"))
    async with _indexed(database) as indexed:
        clock = _Clock()
        resolver = ModelResolver(indexed, clock=clock)
        await (
            resolver.resolve(store, first.id)
            if by_id
            else resolver.resolve(store, consistency=MINIMIZE_LATENCY)
        )
        clock.now += 3600.0  # every entry older than the polling interval
        yield database, store, first.id, resolver


async def test_aged_entries_are_revalidated_by_one_read_for_all_requests_in_flight() -> None:
    async with _aged_resolver(by_id=False) as (database, store, first_id, resolver):
        gate = asyncio.Event()
        calls = _gate_reads(database, gate)
        waiting = [asyncio.ensure_future(resolver.resolve(store, first_id)) for _ in range(20)]
        waiting += [
            asyncio.ensure_future(resolver.resolve(store, consistency=MINIMIZE_LATENCY))
            for _ in range(20)
        ]
        await asyncio.sleep(0.01)
        waiting[0].cancel()  # one caller gives up: the shared read goes on for the others
        gate.set()
        results = await asyncio.gather(*waiting[1:])
        assert {ts.model_id for ts in results} == {first_id}
        assert calls == {"read_model": 1, "read_latest_model": 1}
        # HIGHER_CONSISTENCY never joins a read in flight: each asks the database itself.
        gate.clear()
        strong = [
            asyncio.ensure_future(resolver.resolve(store, consistency=HIGHER_CONSISTENCY))
            for _ in range(3)
        ]
        await asyncio.sleep(0.01)
        gate.set()
        await asyncio.gather(*strong)
        assert calls["read_latest_model"] == 4


async def test_a_failed_shared_read_fails_every_request_that_joined_it() -> None:
    async with _aged_resolver(by_id=True) as (database, store, first_id, resolver):
        gate = asyncio.Event()
        calls = _gate_reads(database, gate)
        await database.delete_store(store)  # behind the index's back: only the read can tell
        waiting = [asyncio.ensure_future(resolver.resolve(store, first_id)) for _ in range(5)]
        await asyncio.sleep(0.01)
        gate.set()
        outcomes = await asyncio.gather(*waiting, return_exceptions=True)
        assert all(isinstance(o, StoreNotFoundError) for o in outcomes), outcomes
        assert calls["read_model"] == 1
