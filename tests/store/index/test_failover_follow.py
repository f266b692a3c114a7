"""What the index does across a failover, without a cluster (tests/api/test_failover.py runs the
real one): the listener retries any connection error until a host accepts, and a database whose
head is behind the index (a standby that had not replayed every commit) rebuilds the index
instead of reusing revisions."""

from __future__ import annotations

import asyncio
import copy

import asyncpg
import pytest

from permsvc.core.refs import TupleKey
from permsvc.store.index import IndexedDatastore
from permsvc.store.index.listener import PostgresChangeListener
from permsvc.store.memory import MemoryDatastore
from permsvc.store.postgres.connect import connect_options


@pytest.mark.parametrize(
    ("url", "environ", "expected"),
    [
        ("postgresql://u@h1:5432,h2:5432/db", {}, {"target_session_attrs": "read-write"}),
        ("postgresql://u:p@h1,h2/db?sslmode=require", {}, {"target_session_attrs": "read-write"}),
        ("postgresql://u@h1,h2/db?target_session_attrs=any", {}, {}),
        ("postgresql://u@h1,h2/db", {"PGTARGETSESSIONATTRS": "prefer-standby"}, {}),
        ("postgresql://u@h1:5432/db", {}, {}),
        ("postgresql://u:pa,ss@h1/db", {}, {}),
    ],
)
def test_a_multi_host_url_targets_the_primary_unless_it_says_otherwise(
    url: str, environ: dict[str, str], expected: dict[str, str]
) -> None:
    assert connect_options(url, environ) == expected


async def test_the_listener_retries_every_connection_error_until_a_host_accepts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("permsvc.store.index.listener._RECONNECT_DELAYS", (0.001,))
    reconnected = asyncio.Event()
    listener = PostgresChangeListener(
        "postgresql://u@h1,h2/db", on_change=lambda *_: None, on_reconnect=reconnected.set
    )
    failures = [
        ConnectionRefusedError(111, "refused"),
        asyncpg.TargetServerAttributeNotMatched("none of the hosts is read-write"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        TimeoutError(),
    ]
    attempts = 0

    async def connect() -> None:
        nonlocal attempts
        attempts += 1
        if failures:
            raise failures.pop(0)
        listener._lost.clear()  # connected: as the real _connect leaves it

    monkeypatch.setattr(listener, "_connect", connect)
    listener._task = asyncio.create_task(listener._supervise())
    listener._lost.set()
    try:
        await asyncio.wait_for(reconnected.wait(), 5)
    finally:
        await listener.aclose()
    assert attempts == 5


def _grant(n: int, user: str = "anne") -> TupleKey:
    return TupleKey(object=f"doc:{n}", relation="viewer", user=f"user:{user}")


async def test_a_database_behind_the_index_rebuilds_it_instead_of_catching_up() -> None:
    primary = MemoryDatastore()
    store = (await primary.create_store("s")).id
    await primary.write(store, writes=[_grant(1)])
    standby = copy.deepcopy(primary)  # replayed revision 1 only
    await primary.write(store, writes=[_grant(2)])
    await primary.write(store, writes=[_grant(3)])
    indexed = IndexedDatastore(primary, poll_s=0.01)
    await indexed.start()
    try:
        assert indexed.indexed_revision(store) == 3
        # Failover to the lagging standby, which takes another write (revision 2) before the
        # listener is back; once it is, writes go on (revision 3, 4).
        indexed.inner = standby
        await standby.write(store, writes=[_grant(20, "bob")])
        indexed._reconnected()
        for _ in range(500):
            index = indexed.index_of(store)
            if index is not None and index.revision == 2:
                break
            await asyncio.sleep(0.01)
        for n in (30, 40):
            await indexed.write(store, writes=[_grant(n, "bob")])
        index = indexed.index_of(store)
        assert index is not None and index.revision == 4
        assert index.user_tuple("doc:2", "viewer", "user:anne") is None, "a write the database lost"
        assert index.user_tuple("doc:3", "viewer", "user:anne") is None, "a write the database lost"
        for n in (1, 20, 30, 40):
            assert (
                index.user_tuple(f"doc:{n}", "viewer", f"user:{'anne' if n == 1 else 'bob'}")
                is not None
            )
    finally:
        await indexed.aclose()
