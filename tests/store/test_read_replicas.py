"""Read replicas against a real primary and hot standby (:mod:`permsvc.store.postgres.replicas`).

A private cluster on loopback (:mod:`tests.pgcluster`): a primary and an asynchronous hot standby
made with ``pg_basebackup -R``. ``pg_wal_replay_pause()`` on the standby makes it lag
deterministically (it still receives WAL, applies none): a read needing a revision it has not
replayed must be answered by the primary, with the new state, and once replay resumes the same
read goes to the standby. The standby killed with ``kill -9`` in the middle: reads already routed
to it, and every later one, are answered by the primary, correctly and without an error.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from permsvc.core.refs import TupleKey
from permsvc.core.revision import Consistency, encode_token
from permsvc.store.consistency import reader_for
from permsvc.store.errors import StoreNotFoundError
from permsvc.store.factory import open_datastore
from permsvc.store.index import index_datastore
from permsvc.store.postgres.replicas import ReplicaReader, ReplicatedDatastore
from permsvc.store.protocol import AuditEntry, AuditFilter, AuditRecord, ReadFilter
from tests.pgcluster import PgCluster, PgNode, private_cluster

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(180)]


class Nodes:
    def __init__(self, cluster: PgCluster, primary: PgNode, standby: PgNode) -> None:
        self.cluster, self.primary, self.standby = cluster, primary, standby

    def replayed(self) -> None:
        self.cluster.wait_replayed(self.primary, self.standby)


@pytest.fixture(scope="module")
def nodes() -> Iterator[Nodes]:
    for cluster in private_cluster():
        primary = cluster.start_primary()
        standby = cluster.add_standby(primary)
        yield Nodes(cluster, primary, standby)


class Opened:
    def __init__(self, datastore: ReplicatedDatastore) -> None:
        self.datastore = datastore
        self.reads: list[tuple[str, str]] = []
        datastore.on_read = lambda target, reason: self.reads.append((target, reason))
        datastore.probe_s = 0.0  # ask the replica every time: no waiting in the tests

    def last(self) -> tuple[str, str]:
        return self.reads[-1]


@pytest.fixture
async def opened(nodes: Nodes) -> AsyncIterator[Opened]:
    datastore = await open_datastore(
        nodes.primary.url, data_dir=Path("."), read_urls=[nodes.standby.url]
    )
    assert isinstance(datastore, ReplicatedDatastore)
    nodes.replayed()  # the migrations
    try:
        yield Opened(datastore)
    finally:
        if nodes.standby in nodes.cluster.nodes:  # not killed
            nodes.cluster.resume_replay(nodes.standby)
        await datastore.aclose()


def _key(n: int) -> TupleKey:
    return TupleKey(object=f"doc:{n}", relation="viewer", user=f"user:{n}")


async def _objects(reader: object, store_id: str) -> set[str]:
    found = await reader.read_object_relation(store_id, "doc:1", "viewer")  # type: ignore[attr-defined]
    found2 = await reader.read_user_tuple(store_id, "doc:2", "viewer", "user:2")  # type: ignore[attr-defined]
    return {k.object for k in found} | ({found2.object} if found2 else set())


async def test_a_lagging_replica_sends_reads_to_the_primary_until_it_has_replayed(
    nodes: Nodes, opened: Opened
) -> None:
    db = opened.datastore
    store = (await db.create_store("replicas")).id
    first = await db.write(store, writes=[_key(1)])
    nodes.replayed()
    reader, revision = await reader_for(db, store, Consistency(token=""))
    assert isinstance(reader, ReplicaReader), opened.reads
    assert opened.last() == ("replica", "caught_up")
    assert revision == first.revision
    assert await _objects(reader, store) == {"doc:1"}

    nodes.cluster.pause_replay(nodes.standby)
    second = await db.write(store, writes=[_key(2)])
    # this process wrote revision 2: even MINIMIZE_LATENCY needs it, the standby has not got it
    reader, revision = await reader_for(db, store, Consistency(token=""))
    assert not isinstance(reader, ReplicaReader) and opened.last() == ("primary", "behind")
    assert revision == second.revision
    assert await _objects(reader, store) == {"doc:1", "doc:2"}
    page = await db.read_page(store, ReadFilter(), page_size=10)
    assert opened.last() == ("primary", "behind") and len(page.items) == 2
    changes = await db.read_changes(store, page_size=10)
    assert opened.last() == ("primary", "behind") and len(changes.items) == 2

    # another process, which has not seen revision 2, with the token of that write
    other = await open_datastore(
        nodes.primary.url, data_dir=Path("."), read_urls=[nodes.standby.url]
    )
    assert isinstance(other, ReplicatedDatastore)
    try:
        # MINIMIZE_LATENCY without a token: the standby's revision 1 is all it knows of
        reader, revision = await reader_for(other, store, Consistency(token=""))
        assert isinstance(reader, ReplicaReader) and revision == first.revision
        token = encode_token(store, second.revision)
        reader, revision = await reader_for(other, store, Consistency(token=token))
        assert not isinstance(reader, ReplicaReader) and revision == second.revision
        assert await _objects(reader, store) == {"doc:1", "doc:2"}
        # the primary answered at revision 2: from now on this process needs it too
        assert other.known_revision(store) == second.revision
        reader, revision = await reader_for(other, store, Consistency(token=""))
        assert not isinstance(reader, ReplicaReader)
    finally:
        await other.aclose()

    nodes.cluster.resume_replay(nodes.standby)
    nodes.replayed()
    reader, revision = await reader_for(db, store, Consistency(token=""))
    assert isinstance(reader, ReplicaReader) and opened.last() == ("replica", "caught_up")
    assert revision == second.revision
    assert await _objects(reader, store) == {"doc:1", "doc:2"}
    page = await db.read_page(store, ReadFilter(), page_size=10)
    assert opened.last() == ("replica", "caught_up") and len(page.items) == 2
    changes = await db.read_changes(store, page_size=1)
    assert opened.last() == ("replica", "caught_up") and len(changes.items) == 1
    rest = await db.read_changes(store, page_size=10, continuation_token=changes.continuation_token)
    assert [c.key for c in rest.items] == [_key(2)]


async def test_commits_notified_to_the_index_are_needed_by_later_reads(
    nodes: Nodes, opened: Opened
) -> None:
    """Another process writes to a store this one evaluates against the database (no index
    follows it): the notification the index's listener hears is enough to keep MINIMIZE_LATENCY
    reads off a replica that has not replayed that write."""
    indexed = await index_datastore(
        opened.datastore, database_url=nodes.primary.url, memory_budget=0
    )
    writer = await open_datastore(nodes.primary.url, data_dir=Path("."))
    try:
        store = (await indexed.create_store("notified")).id
        await indexed.write(store, writes=[_key(1)])
        assert indexed.mode(store) == "database"
        nodes.replayed()
        reader, _ = await reader_for(indexed, store, Consistency(token=""))
        assert isinstance(reader, ReplicaReader)
        nodes.cluster.pause_replay(nodes.standby)
        second = await writer.write(store, writes=[_key(2)])
        for _ in range(500):
            if opened.datastore.known_revision(store) == second.revision:
                break
            await asyncio.sleep(0.01)
        assert opened.datastore.known_revision(store) == second.revision
        reader, revision = await reader_for(indexed, store, Consistency(token=""))
        assert not isinstance(reader, ReplicaReader) and revision == second.revision
        assert await _objects(reader, store) == {"doc:1", "doc:2"}
        # the other process deletes the store, which the replica (caught up to revision 2)
        # has not replayed: the notification keeps reads off it
        nodes.cluster.resume_replay(nodes.standby)
        nodes.replayed()
        assert len((await indexed.read_page(store, ReadFilter(), page_size=10)).items) == 2
        assert opened.last() == ("replica", "caught_up")
        nodes.cluster.pause_replay(nodes.standby)
        await writer.delete_store(store)
        for _ in range(500):
            if indexed.mode(store) == "absent":
                break
            await asyncio.sleep(0.01)
        with pytest.raises(StoreNotFoundError):
            await indexed.read_page(store, ReadFilter(), page_size=10)
        assert opened.last() == ("primary", "behind")
    finally:
        await writer.aclose()
        await indexed.stop_following()


async def test_higher_consistency_reads_the_primary(nodes: Nodes, opened: Opened) -> None:
    db = opened.datastore
    store = (await db.create_store("latest")).id
    await db.write(store, writes=[_key(1)])
    nodes.replayed()
    reader, _ = await reader_for(db, store, Consistency(level="HIGHER_CONSISTENCY", token=""))
    assert not isinstance(reader, ReplicaReader)
    assert opened.last() == ("primary", "higher_consistency")


async def test_a_store_the_replica_has_not_got_is_read_on_the_primary(
    nodes: Nodes, opened: Opened
) -> None:
    nodes.cluster.pause_replay(nodes.standby)
    db = opened.datastore
    store = (await db.create_store("new")).id
    page = await db.read_page(store, ReadFilter(), page_size=10)
    assert page.items == [] and opened.last() == ("primary", "behind")


async def test_a_deleted_store_is_not_read_on_a_replica_that_has_not_replayed_it(
    nodes: Nodes, opened: Opened
) -> None:
    db = opened.datastore
    store = (await db.create_store("deleted")).id
    await db.write(store, writes=[_key(1)])
    nodes.replayed()
    assert len((await db.read_page(store, ReadFilter(), page_size=10)).items) == 1
    assert opened.last() == ("replica", "caught_up")
    nodes.cluster.pause_replay(nodes.standby)
    await db.delete_store(store)
    with pytest.raises(StoreNotFoundError):
        await db.read_page(store, ReadFilter(), page_size=10)
    assert opened.last() == ("primary", "behind")


async def test_audit_reads_wait_for_this_process_writes(nodes: Nodes, opened: Opened) -> None:
    db = opened.datastore
    store = (await db.create_store("audited")).id
    audit = AuditRecord(
        at=dt.datetime.now(dt.UTC), actor="user:anne", actor_kind="user", action="grant"
    )
    await db.write(store, writes=[_key(1)], audit=audit)
    nodes.replayed()
    rows = await db.read_audit(AuditFilter(store_id=store), page_size=10)
    assert opened.last() == ("replica", "caught_up") and len(rows.items) == 1

    nodes.cluster.pause_replay(nodes.standby)
    await db.append_audit(
        AuditEntry(
            store_id=store,
            at=rows.items[0].at,
            actor="user:bob",
            actor_kind="user",
            action="model_write",
        )
    )
    rows = await db.read_audit(AuditFilter(store_id=store), page_size=10)
    assert opened.last() == ("primary", "behind") and len(rows.items) == 2
    nodes.cluster.resume_replay(nodes.standby)
    nodes.replayed()
    rows = await db.read_audit(AuditFilter(store_id=store), page_size=10)
    assert opened.last() == ("replica", "caught_up") and len(rows.items) == 2


async def test_lag_is_measured(nodes: Nodes, opened: Opened) -> None:
    db = opened.datastore
    measured: list[tuple[str, float | None]] = []
    db.on_lag = lambda name, lag: measured.append((name, lag))
    assert await db.measure_lag() == {f"127.0.0.1:{nodes.standby.port}/postgres": 0.0}
    nodes.cluster.pause_replay(nodes.standby)
    store = (await db.create_store("lagging")).id
    await db.write(store, writes=[_key(1)])
    await asyncio.sleep(0.3)  # the standby has received the commit and applies nothing
    [(name, lag)] = (await db.measure_lag()).items()
    assert lag is not None and lag >= 0.2, lag
    assert measured[-1] == (name, lag)
    nodes.cluster.resume_replay(nodes.standby)
    nodes.replayed()
    assert list((await db.measure_lag()).values()) == [0.0]


async def test_a_killed_replica_leaves_every_read_to_the_primary(
    nodes: Nodes, opened: Opened
) -> None:
    """Last in this module: the standby does not come back."""
    db = opened.datastore
    store = (await db.create_store("killed")).id
    await db.write(store, writes=[_key(1), _key(2)])
    nodes.replayed()
    reader, _ = await reader_for(db, store, Consistency(token=""))
    assert isinstance(reader, ReplicaReader)
    assert await _objects(reader, store) == {"doc:1", "doc:2"}
    nodes.cluster.kill(nodes.standby)
    # the reader already routed to the dead standby answers from the primary
    assert await _objects(reader, store) == {"doc:1", "doc:2"}
    assert opened.last() == ("primary", "error")
    await db.write(store, writes=[_key(3)])
    reader, _ = await reader_for(db, store, Consistency(token=""))
    assert not isinstance(reader, ReplicaReader) and opened.last() == ("primary", "down")
    page = await db.read_page(store, ReadFilter(), page_size=10)
    assert len(page.items) == 3
    rows = await db.read_audit(AuditFilter(store_id=store), page_size=10)
    assert rows.items == []
    db.replicas[0].down_until = 0.0  # its retry time is over: refused again, read on the primary
    page = await db.read_page(store, ReadFilter(), page_size=10)
    assert len(page.items) == 3 and opened.last() == ("primary", "error")
    assert list((await db.measure_lag()).values()) == [None]
