"""Read-replica routing without a server: the rule (:func:`plan`), the setting's parsing, and
:class:`ReplicatedDatastore`'s choice among replicas over stand-in pools that answer what a
replica has replayed (the real thing: ``tests/store/test_read_replicas.py`` and
``tests/api/test_read_replicas.py``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from permsvc.settings import Settings, SettingsError, split_database_urls
from permsvc.store.postgres import queries as q
from permsvc.store.postgres.replicas import (
    PRIMARY_LSN,
    REPLAY_LSN,
    Probe,
    Replica,
    ReplicaReader,
    ReplicatedDatastore,
    plan,
    replica_connect_options,
)
from permsvc.store.protocol import AuditEntry, AuditFilter, ReadFilter

PG = "postgresql://u:p@primary:5432/db"


def _plan(**overrides: Any) -> str:
    args: dict[str, Any] = {
        "latest": False,
        "required": 5,
        "probe": Probe(5, 10.0),
        "now": 10.01,
        "ttl_s": 0.05,
        "down_until": 0.0,
    }
    return plan(**{**args, **overrides})


def test_plan_reads_the_replica_only_when_it_has_replayed_the_revision() -> None:
    assert _plan() == "replica"
    assert _plan(probe=Probe(9, 10.0)) == "replica"
    assert _plan(probe=Probe(4, 10.0)) == "behind"
    assert _plan(probe=Probe(None, 10.0)) == "behind"  # the replica has not got the store
    assert _plan(required=0, probe=Probe(None, 10.0)) == "behind"


def test_plan_asks_again_once_the_last_answer_is_older_than_its_ttl() -> None:
    assert _plan(probe=None) == "probe"
    assert _plan(now=10.04) == "replica"
    assert _plan(now=10.06) == "probe"
    assert _plan(probe=Probe(4, 10.0), now=10.06) == "probe"
    assert _plan(ttl_s=0.0, now=10.0) == "replica"  # an answer just received is always used


def test_plan_sends_higher_consistency_and_failed_replicas_to_the_primary() -> None:
    assert _plan(latest=True) == "higher_consistency"
    assert _plan(latest=True, down_until=99.0) == "higher_consistency"
    assert _plan(down_until=10.02) == "down"
    assert _plan(down_until=10.02, probe=None) == "down"
    assert _plan(down_until=10.01) == "replica"


def test_read_urls_split_between_urls_not_between_the_hosts_of_one() -> None:
    assert split_database_urls("") == ()
    assert split_database_urls("postgresql://a/db") == ("postgresql://a/db",)
    assert split_database_urls("postgresql://a:1,b:2/db, postgres://c/db") == (
        "postgresql://a:1,b:2/db",
        "postgres://c/db",
    )


def test_read_database_url_setting() -> None:
    env = {
        "PERMSVC_DATABASE_URL": PG,
        "PERMSVC_READ_DATABASE_URL": "postgresql://r1,r2/db,postgresql://r3/db",
    }
    assert Settings.from_env(env).read_database_url == (
        "postgresql://r1,r2/db",
        "postgresql://r3/db",
    )
    assert Settings.from_env({"PERMSVC_DATABASE_URL": PG}).read_database_url == ()
    with pytest.raises(SettingsError, match="PERMSVC_READ_DATABASE_URL"):
        Settings.from_env({"PERMSVC_READ_DATABASE_URL": "postgresql://r/db"})  # SQLite primary
    with pytest.raises(SettingsError, match="PERMSVC_READ_DATABASE_URL"):
        Settings(database_url=PG, read_database_url=("sqlite:///x.db",))


def test_a_multi_host_read_url_prefers_a_standby() -> None:
    assert replica_connect_options("postgresql://u:p@a:1,b:2/db") == {
        "target_session_attrs": "prefer-standby"
    }
    assert replica_connect_options("postgresql://a:1,b:2/db?target_session_attrs=any") == {}
    assert replica_connect_options("postgresql://u:p@a:1/db") == {}


class FakePool:
    """Answers what a replica has replayed: ``revisions[store]``, or raises ``error``."""

    def __init__(self, revisions: dict[str, int] | None = None, lsn: int = 0) -> None:
        self.revisions = revisions or {}
        self.lsn = lsn
        self.error: BaseException | None = None
        self.fetch_error: BaseException | None = None
        self.asked = 0
        self.fetched = 0

    async def fetchval(self, sql: str, *args: Any, timeout: float | None = None) -> Any:
        self.asked += 1
        if self.error is not None:
            raise self.error
        if sql == q.HEAD_REVISION:
            return self.revisions.get(args[0])
        if sql == q.LIVE_STORE:
            self.fetched += 1
            if self.fetch_error is not None:
                raise self.fetch_error
            return 1
        if sql.startswith("INSERT INTO audit_log"):
            return 1
        assert sql in (REPLAY_LSN, PRIMARY_LSN), sql
        return self.lsn

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        """Pages of tuples or audit rows: none."""
        self.fetched += 1
        if self.fetch_error is not None:
            raise self.fetch_error
        return []

    async def close(self) -> None:
        return None


def _replicated(
    *replicas: FakePool, primary: FakePool | None = None, probe_s: float = 0.0
) -> tuple[ReplicatedDatastore, list[tuple[str, str]]]:
    db = ReplicatedDatastore(
        primary or FakePool(),  # type: ignore[arg-type]
        [Replica(f"r{i}", pool) for i, pool in enumerate(replicas)],  # type: ignore[arg-type]
        probe_s=probe_s,
        retry_s=60.0,
    )
    reads: list[tuple[str, str]] = []
    db.on_read = lambda target, reason: reads.append((target, reason))
    return db, reads


async def test_a_replica_that_has_replayed_the_revision_is_chosen() -> None:
    behind, ahead = FakePool({"s": 3}), FakePool({"s": 5})
    db, reads = _replicated(behind, ahead)
    for _ in range(3):  # whichever replica is tried first
        found = await db.replica_reader("s", 4)
        assert found is not None
        reader, revision = found
        assert isinstance(reader, ReplicaReader) and reader.replica.name == "r1"
        assert revision == 5
    assert reads == [("replica", "caught_up")] * 3
    assert await db.replica_reader("s", 6) is None
    assert reads[-1] == ("primary", "behind")
    assert await db.replica_reader("other-store", 0) is None  # no replica has it
    assert reads[-1] == ("primary", "behind")


async def test_the_revision_this_process_knows_is_required_too() -> None:
    primary = FakePool({"s": 7})
    db, reads = _replicated(FakePool({"s": 6}), primary=primary)
    assert await db.replica_reader("s", 0) is not None
    assert await db.head_revision("s") == 7  # read on the primary: revision 7 exists
    assert db.known_revision("s") == 7
    assert await db.replica_reader("s", 0) is None
    assert reads == [("replica", "caught_up"), ("primary", "behind")]


async def test_higher_consistency_never_asks_a_replica() -> None:
    replica = FakePool({"s": 9})
    db, reads = _replicated(replica)
    assert await db.replica_reader("s", 0, latest=True) is None
    assert reads == [("primary", "higher_consistency")] and replica.asked == 0


async def test_a_failing_replica_is_left_out_until_its_retry_time() -> None:
    failing, healthy = FakePool({"s": 5}), FakePool({"s": 5})
    failing.error = OSError("connection refused")
    db, reads = _replicated(failing, healthy)
    for _ in range(4):
        found = await db.replica_reader("s", 5)
        assert found is not None and found[0].replica.name == "r1"  # type: ignore[attr-defined]
    assert failing.asked == 1  # down for retry_s after its failure: not asked again
    healthy.error = ConnectionResetError()
    assert await db.replica_reader("s", 5) is None
    assert reads[-1] == ("primary", "error")


async def test_a_recent_answer_is_trusted_for_the_probe_ttl() -> None:
    replica = FakePool({"s": 5})
    db, reads = _replicated(replica, probe_s=3600.0)
    assert await db.replica_reader("s", 5) is not None
    assert await db.replica_reader("s", 5) is not None
    assert replica.asked == 1
    replica.revisions["s"] = 6
    assert await db.replica_reader("s", 6) is None  # its last answer (5) is not enough
    assert replica.asked == 1 and reads[-1] == ("primary", "behind")


async def test_audit_reads_need_the_primary_wal_position_after_this_process_writes() -> None:
    primary, replica = FakePool(lsn=100), FakePool(lsn=90)
    db, reads = _replicated(replica, primary=primary)
    await db.read_audit(AuditFilter(), page_size=10)
    assert reads[-1] == ("replica", "caught_up") and replica.fetched == 1
    assert primary.asked == 0  # this process has written no audit row yet
    primary.lsn = 120
    await db.append_audit(
        AuditEntry(at=dt.datetime.now(dt.UTC), actor="key:k", actor_kind="key", action="key_create")
    )
    assert primary.asked == 2  # the row, then the WAL position right after it
    await db.read_audit(AuditFilter(), page_size=10)
    assert reads[-1] == ("primary", "behind") and primary.fetched == 1
    replica.lsn = 120
    await db.read_audit(AuditFilter(), page_size=10)
    assert reads[-1] == ("replica", "caught_up") and replica.fetched == 2
    assert primary.asked == 2


async def test_a_read_the_replica_fails_is_read_on_the_primary() -> None:
    primary, replica = FakePool({"s": 5}), FakePool({"s": 5})
    db, reads = _replicated(replica, primary=primary)
    replica.fetch_error = ConnectionResetError("gone")
    page = await db.read_page("s", ReadFilter(), page_size=10)
    assert page.items == [] and primary.fetched == 2  # the store check, then the page
    assert reads == [("replica", "caught_up"), ("primary", "error")]
