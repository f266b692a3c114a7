"""Index snapshots: a replica started from a store's snapshot plus the changelog after it holds
exactly the index one built from the tuples holds (differential over random writes and deletes),
on every backend; a snapshot that is corrupt, truncated, another store's, of another format or
ahead of the database is refused and the store is built from its tuples instead."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from permsvc.core.refs import TupleCondition, TupleKey
from permsvc.core.revision import MINIMIZE_LATENCY
from permsvc.store.common import snapshot_chunks
from permsvc.store.index import BYTES_PER_TUPLE, IndexedDatastore, TupleIndex, reader_for
from permsvc.store.index import datastore as index_datastore
from permsvc.store.index import snapshot as snap
from permsvc.store.protocol import IndexSnapshot, StartingWithUser, TupleChange
from tests.store.index.test_indexed_datastore import _all_tuples

pytestmark = pytest.mark.backends("memory", "sqlite", "postgres")

_OBJECTS = [f"doc:{i}" for i in range(40)] + [f"folder:f{i}" for i in range(8)]
_USERS = [f"user:u{i}" for i in range(12)] + ["user:*", "group:eng#member", "folder:f1"]
_RELATIONS = ["viewer", "editor", "parent"]
_CONDITION = TupleCondition(name="in_hours", context={"tz": "UTC", "days": [1, 2.5, None]})


def _random_key(rng: random.Random) -> TupleKey:
    condition = _CONDITION if rng.random() < 0.1 else None
    if condition is not None and rng.random() < 0.3:
        condition = TupleCondition(name="plain")
    return TupleKey(
        object=rng.choice(_OBJECTS),
        relation=rng.choice(_RELATIONS),
        user=rng.choice(_USERS),
        condition=condition,
    )


async def _random_writes(
    datastore: Any, store: str, rng: random.Random, rounds: int, *, deletes: bool
) -> None:
    """``rounds`` writes of a few new tuples and (with ``deletes``) deletes of a few held ones."""
    for _ in range(rounds):
        held = await _all_tuples(datastore, store)
        gone = rng.sample(held, min(len(held), rng.randrange(4))) if deletes else []
        gone_keys = {k.key for k in gone}
        fresh = {k.key: k for k in (_random_key(rng) for _ in range(rng.randrange(1, 6)))}
        writes = [k for key, k in fresh.items() if key not in gone_keys]
        await datastore.write(
            store, deletes=gone, writes=writes, on_duplicate="ignore", on_missing="ignore"
        )


def _sorted(index: TupleIndex) -> list[TupleKey]:
    return sorted(index.tuples(), key=lambda k: k.key)


def _reads(index: TupleIndex) -> list[Any]:
    """Every read shape of the index over the whole key space, for comparing two indexes."""
    out: list[Any] = []
    for obj in _OBJECTS:
        object_type = obj.partition(":")[0]
        for relation in _RELATIONS:
            out.append(sorted(index.object_relation(obj, relation), key=lambda k: k.key))
            out.append(sorted(index.userset_tuples(obj, relation), key=lambda k: k.key))
            out.append(index.count_object_relation_sync("", obj, relation))
            out.extend(index.user_tuple(obj, relation, user) for user in _USERS)
            filter = StartingWithUser(object_type=object_type, relation=relation, users=_USERS)
            out.append(sorted(index.starting_with_user(filter), key=lambda k: k.key))
    return out


@contextlib.asynccontextmanager
async def _replica(datastore: Any, **kwargs: Any) -> AsyncIterator[IndexedDatastore]:
    """A new process's index over ``datastore`` (polling: no notifications needed)."""
    kwargs.setdefault("snapshot_min_tuples", 1)
    build = kwargs.pop("build", True)
    indexed = IndexedDatastore(datastore, poll_s=0.01, **kwargs)
    await indexed.start(build=build)
    try:
        yield indexed
    finally:
        await indexed.stop_following()


# -- the format, without a database --------------------------------------------------------------


def _random_index(seed: int, n: int = 400) -> TupleIndex:
    rng = random.Random(seed)
    index = TupleIndex("01ARZ3NDEKTSV4RRFFQ69G5FAV")
    keys = {k.key: k for k in (_random_key(rng) for _ in range(n))}
    many = [TupleKey(object="doc:big", relation="viewer", user=f"user:m{i}") for i in range(40)]
    index.add_batch([*keys.values(), *many])
    index.finish_build(7)
    return index


@pytest.mark.backends("memory")
@pytest.mark.parametrize("seed", range(5))
def test_decode_gives_back_the_same_index(seed: int) -> None:
    index = _random_index(seed)
    loaded = snap.decode(index.store_id, snap.encode(index))
    assert (loaded.revision, loaded.count) == (7, index.count)
    assert _sorted(loaded) == _sorted(index)
    assert _reads(loaded) == _reads(index)
    assert loaded.read_userset_tuples_sync("", "doc:big", "viewer") == []
    assert len(loaded.object_relation("doc:big", "viewer")) == 40


@pytest.mark.backends("memory")
def test_a_loaded_index_shares_its_strings_and_keeps_following() -> None:
    index = _random_index(1)
    loaded = snap.decode(index.store_id, snap.encode(index))
    (_t, _r, direct, _u, objects, _c) = next(t for t in loaded.relation_tables() if t[2] and t[4])
    object_id = next(iter(direct))
    reverse = next(v for v in objects.values() if v == object_id or object_id in v)
    shared = reverse if isinstance(reverse, str) else next(v for v in reverse if v == object_id)
    assert shared is next(k for k in direct if k == object_id)
    # the loaded index applies changes like a built one
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    changes = []
    for revision, (op, key) in enumerate(
        [
            ("write", TupleKey(object="doc:new", relation="viewer", user="user:u1")),
            ("delete", next(iter(index.tuples()))),
        ],
        start=8,
    ):
        changes.append(TupleChange(key=key, operation=op, timestamp=now, revision=revision))  # type: ignore[arg-type]
    index.apply(changes)
    loaded.apply(changes)
    assert _sorted(loaded) == _sorted(index)
    assert loaded.revision == index.revision == 9


def _tampered(snapshot: IndexSnapshot, **changes: Any) -> IndexSnapshot:
    return msgspec.structs.replace(snapshot, **changes)


@pytest.mark.backends("memory")
def test_corrupt_truncated_foreign_or_other_format_snapshots_are_refused() -> None:
    index = _random_index(2)
    good = snap.encode(index)
    data = good.data
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x01
    header_revision = bytearray(data)
    header_revision[8] ^= 0x01  # the revision field: the header no longer matches
    bad = {
        "truncated": _tampered(good, data=data[: len(data) - 1]),
        "cut to the header": _tampered(good, data=data[:20]),
        "empty": _tampered(good, data=b""),
        "longer": _tampered(good, data=data + b"\0"),
        "a flipped payload bit": _tampered(good, data=bytes(flipped)),
        "an altered header": _tampered(good, data=bytes(header_revision)),
        "another format": _tampered(good, format="tuple-index-v0"),
        "another revision": _tampered(good, revision=good.revision + 1),
        "another count": _tampered(good, tuples=good.tuples + 1),
    }
    for what, snapshot in bad.items():
        with pytest.raises(snap.SnapshotError):
            snap.decode(index.store_id, snapshot)
            pytest.fail(what)
    with pytest.raises(snap.SnapshotError, match="checksum"):
        snap.decode("01ARZ3NDEKTSV4RRFFQ69G5FAW", good)
    assert _sorted(snap.decode(index.store_id, good)) == _sorted(index)


# -- stored in each database ---------------------------------------------------------------------


async def test_the_database_keeps_the_latest_snapshot(
    datastore: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot_chunks, "CHUNK_BYTES", 1000)  # several chunks
    store = (await datastore.create_store("s")).id
    assert await datastore.read_index_snapshot(store, snap.FORMAT) is None
    assert await datastore.index_snapshot_revision(store) is None
    first = snap.encode(_random_index(3))
    first = IndexSnapshot(revision=5, format=first.format, tuples=first.tuples, data=first.data)
    assert await datastore.write_index_snapshot(store, first)
    assert await datastore.read_index_snapshot(store, snap.FORMAT) == first
    assert await datastore.read_index_snapshot(store, "another") is None
    stale = IndexSnapshot(revision=5, format=snap.FORMAT, tuples=1, data=b"x")
    assert not await datastore.write_index_snapshot(store, stale)
    later = IndexSnapshot(revision=6, format=snap.FORMAT, tuples=1, data=b"y" * 2500)
    assert await datastore.write_index_snapshot(store, later)
    assert await datastore.read_index_snapshot(store, snap.FORMAT) == later
    assert await datastore.index_snapshot_revision(store) == 6
    await datastore.delete_index_snapshot(store)
    assert await datastore.read_index_snapshot(store, snap.FORMAT) is None


# -- replicas -------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
async def test_a_replica_from_the_snapshot_answers_exactly_like_one_built_from_tuples(
    datastore: Any, seed: int
) -> None:
    rng = random.Random(seed)
    store = (await datastore.create_store("s")).id
    await _random_writes(datastore, store, rng, 12, deletes=True)
    async with _replica(datastore) as first:
        assert not first.from_snapshot(store)
        await first.write_snapshot(store)  # written already after the build, or now
        snapshot_revision = await datastore.index_snapshot_revision(store)
        assert snapshot_revision == await datastore.head_revision(store)
    await _random_writes(datastore, store, rng, 12, deletes=True)
    assert await datastore.head_revision(store) > snapshot_revision
    async with (
        _replica(datastore) as restarted,
        _replica(datastore, snapshots=False) as rebuilt,
    ):
        assert restarted.from_snapshot(store)
        assert not rebuilt.from_snapshot(store)
        loaded, built = restarted.index_of(store), rebuilt.index_of(store)
        assert loaded is not None and built is not None
        assert loaded.revision == built.revision == await datastore.head_revision(store)
        assert _sorted(loaded) == _sorted(built) == await _all_tuples(datastore, store)
        assert loaded.count == built.count
        assert _reads(loaded) == _reads(built)


async def test_a_corrupt_or_truncated_snapshot_is_ignored_and_the_store_built_from_tuples(
    datastore: Any,
) -> None:
    rng = random.Random(5)
    store = (await datastore.create_store("s")).id
    await _random_writes(datastore, store, rng, 6, deletes=False)
    async with _replica(datastore, snapshots=False) as built:
        index = built.index_of(store)
        assert index is not None
        good = snap.encode(index)
    revision = good.revision
    for data in (good.data[:-10], good.data[:-1] + bytes([good.data[-1] ^ 0xFF])):
        await datastore.delete_index_snapshot(store)
        await datastore.write_index_snapshot(store, _tampered(good, data=data))
        async with _replica(datastore) as replica:
            assert not replica.from_snapshot(store)
            loaded = replica.index_of(store)
            assert loaded is not None and loaded.revision == revision
            assert _sorted(loaded) == await _all_tuples(datastore, store)
        async with _replica(datastore) as replica:  # the refused one was replaced
            assert replica.from_snapshot(store)
    # a snapshot ahead of the database (a restored database) is not the same history
    await datastore.delete_index_snapshot(store)
    await datastore.write_index_snapshot(store, snap.encode(_ahead(index, revision + 5)))
    async with _replica(datastore) as replica:
        assert not replica.from_snapshot(store)
        assert replica.indexed_revision(store) == revision
    assert await datastore.index_snapshot_revision(store) == revision  # replaced


def _ahead(index: TupleIndex, revision: int) -> TupleIndex:
    return TupleIndex.from_tables(index.store_id, revision, index.count, index.relation_tables())


async def test_a_snapshot_over_the_memory_budget_is_not_loaded(datastore: Any) -> None:
    store = (await datastore.create_store("s")).id
    await datastore.write(
        store,
        writes=[TupleKey(object=f"doc:{i}", relation="viewer", user="user:a") for i in range(5)],
    )
    async with _replica(datastore) as first:
        await first.write_snapshot(store)
    assert await datastore.index_snapshot_revision(store) == 1
    async with _replica(datastore, memory_budget=3 * BYTES_PER_TUPLE) as replica:
        assert replica.mode(store) == "database"
        assert not replica.from_snapshot(store)


async def test_a_starting_process_writes_a_missing_or_stale_snapshot_a_serving_one_never(
    datastore: Any,
) -> None:
    store = (await datastore.create_store("s")).id
    writes = [TupleKey(object=f"doc:{i}", relation="viewer", user="user:a") for i in range(30)]
    await datastore.write(store, writes=writes)
    small = (await datastore.create_store("small")).id
    await datastore.write(small, writes=writes[:5])
    async with _replica(datastore, snapshot_min_tuples=20) as serving:
        # built from 30 tuples (>= 20) while starting: written before it serves; 5 tuples: not
        assert await datastore.index_snapshot_revision(store) == 1
        assert await datastore.index_snapshot_revision(small) is None
        for i in range(4):  # 40 changes, applied by the serving process: no snapshot written
            more = [
                TupleKey(object=f"doc:{i}-{j}", relation="viewer", user="user:b") for j in range(10)
            ]
            await serving.write(store, writes=more)
        assert serving.indexed_revision(store) == 5
        assert await datastore.index_snapshot_revision(store) == 1
    async with _replica(datastore, snapshot_min_tuples=50) as replica:
        # 40 changes replayed after the snapshot: fewer than 50, the snapshot stays
        assert replica.from_snapshot(store)
        assert await datastore.index_snapshot_revision(store) == 1
    async with _replica(datastore, snapshot_min_tuples=20) as replica:
        # 40 changes replayed (>= 20): a new snapshot at the head, which the next one loads
        assert replica.from_snapshot(store)
        assert await datastore.index_snapshot_revision(store) == 5
    async with _replica(datastore, snapshot_min_tuples=20) as replica:
        assert replica.from_snapshot(store)
        index = replica.index_of(store)
        assert index is not None and index.count == 70


async def test_a_serving_process_loads_only_small_snapshots(
    datastore: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading holds the event loop: once serving, a big store is built from its tuples."""
    big = (await datastore.create_store("big")).id
    small = (await datastore.create_store("small")).id
    await datastore.write(big, writes=[_plain(i) for i in range(10)])
    await datastore.write(small, writes=[_plain(i) for i in range(3)])
    async with _replica(datastore) as first:
        for store in (big, small):
            await first.write_snapshot(store)
    monkeypatch.setattr(index_datastore, "SERVING_LOAD_MAX_TUPLES", 5)
    async with _replica(datastore) as starting:
        assert starting.from_snapshot(big) and starting.from_snapshot(small)
    async with _replica(datastore, build=False) as serving:
        for store in (big, small):
            await reader_for(serving, store, MINIMIZE_LATENCY)  # a request: indexed on first sight
        for _ in range(500):
            if serving.mode(big) == serving.mode(small) == "index":
                break
            await asyncio.sleep(0.01)
        assert not serving.from_snapshot(big)
        assert serving.from_snapshot(small)
        index = serving.index_of(big)
        assert index is not None and index.count == 10


def _plain(i: int) -> TupleKey:
    return TupleKey(object=f"doc:{i}", relation="viewer", user="user:a")
