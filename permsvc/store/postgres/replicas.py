"""Read replicas (``PERMSVC_READ_DATABASE_URL``): reads that may use a hot standby go to one that
has replayed what the request needs, every other read and every write to the primary.

:class:`ReplicatedDatastore` is the PostgreSQL datastore on the primary plus one pool per
replica. What may go to a replica, and what it must have replayed first:

- the database path of a check, a list or an expand (a store beyond the index memory budget, a
  store whose index is not ready, or no index at all), through
  :meth:`~ReplicatedDatastore.replica_reader`: the consistency token's revision, and any revision
  of the store this process knows of (``MINIMIZE_LATENCY`` thereby reads at least what the index
  would). ``HIGHER_CONSISTENCY`` always reads the primary.
- Read pages (the Read API, an export, a list of grants) and ReadChanges pages: the revision this
  process knows of (its writes, the heads and changes it read from the primary: what the index
  has followed), and for ReadChanges the revision of the continuation token.
- audit queries: the primary's WAL position read right after this process's last audit row
  committed (the audit rows of model writes and API keys have no store revision), compared with
  the replica's replay position.

"Known" revisions come from the primary only (writes, ``head_revision``, ``changes_since``,
``snapshot_tuples``, and the commits the index's listener is notified of, including those of
stores it does not index: :meth:`~ReplicatedDatastore.revision_committed`) and from consistency
tokens a replica has been seen to have replayed, so they all exist. A replica's replayed revision of a store is its own ``store_revisions`` row, read in one
indexed lookup and trusted for :data:`~permsvc.settings.DEFAULT_REPLICA_PROBE_S`; WAL replay
applies each commit whole and in commit order, so a replica at revision ``r`` holds every tuple
and change of ``r`` and before. A replica that has not replayed enough, does not answer, or fails
a statement is skipped: the read goes to the primary (a fault also keeps the replica out for
:data:`~permsvc.settings.DEFAULT_REPLICA_RETRY_S`). So a replica never makes an answer wrong or
older than the request allows, and never turns one into an error; when the primary fails too the
request gets the primary's error (503).

Writes, models, stores, assertions, API keys, claim specs, the index's snapshots and changelog and
every read inside a transaction are the primary's (inherited unchanged).

Measured per replica every :data:`~permsvc.settings.DEFAULT_REPLICA_LAG_INTERVAL_S`: its replay
lag in seconds (0 when it has replayed everything it received), reported through ``on_lag``;
every routing decision is reported through ``on_read(target, reason)`` (the API turns both into
Prometheus metrics).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Literal, NamedTuple, TypeVar
from urllib.parse import parse_qsl, urlsplit

import asyncpg

from permsvc.settings import (
    DEFAULT_REPLICA_CONNECT_TIMEOUT_S,
    DEFAULT_REPLICA_LAG_INTERVAL_S,
    DEFAULT_REPLICA_PROBE_S,
    DEFAULT_REPLICA_RETRY_S,
)
from permsvc.store.errors import InvalidContinuationTokenError, StorageUnavailableError
from permsvc.store.postgres import queries as q
from permsvc.store.postgres.store import (
    DEFAULT_POOL_MAX_SIZE,
    PostgresDatastore,
    _reset_connection,
)
from permsvc.store.rows import decode_changes_token

if TYPE_CHECKING:
    from permsvc.core.refs import TupleKey
    from permsvc.core.revision import Revision
    from permsvc.store.protocol import (
        AuditEntry,
        AuditFilter,
        AuditRecord,
        BulkWriteRequest,
        ChangesQuery,
        ManyKeys,
        ManyReads,
        Page,
        ReadFilter,
        StartingWithUser,
        StoredTuple,
        TupleChange,
        WriteRequest,
        WriteResult,
    )

__all__ = (
    "Plan",
    "Probe",
    "ReplicatedDatastore",
    "plan",
)

T = TypeVar("T")

Plan = Literal["replica", "probe", "higher_consistency", "down", "behind"]
""":func:`plan`'s answer: read the replica, ask it first what it has replayed, or read the
primary for the reason named."""

REPLICA_FAULTS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
)
"""What a replica's statement may fail with that sends the read to the primary instead: any
server error (a recovery conflict cancels standby queries; the primary's answer is the reference
anyway), a closed pool or connection, the network (``TimeoutError`` and ``ConnectionError`` are
``OSError``)."""

_AUDIT = ""
"""Probe key of the replay position audit reads compare (no store id is empty)."""
_DELETED = 2**63 - 1
"""The revision a deleted store's reads need: one no replica reaches."""
_MAX_PROBES = 10_000
"""Stores whose replayed revision one replica remembers; beyond it the memory starts afresh."""

REPLAY_LSN = (
    "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END"
    " - '0/0'::pg_lsn)::bigint"
)
PRIMARY_LSN = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint"
# Seconds behind: 0 when everything received is replayed (an idle primary sends nothing, and an
# old last-replay time then means no lag), else the age of the last transaction replayed.
REPLAY_LAG = (
    "SELECT CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()"
    " THEN 0 ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END::float8"
)

_log = logging.getLogger("permsvc.replicas")


class Probe(NamedTuple):
    """What a replica had replayed when asked: a store's revision, or (audit) its WAL position."""

    position: int | None
    """``None``: the replica does not have the store (yet)."""
    at: float
    """``time.monotonic()`` of the answer."""


def plan(
    *,
    latest: bool,
    required: int,
    probe: Probe | None,
    now: float,
    ttl_s: float,
    down_until: float,
) -> Plan:
    """Where one read goes, given what is known of one replica (pure; the routing rule).

    ``latest`` (``HIGHER_CONSISTENCY``) reads the primary. A replica that failed less than its
    retry time ago is ``down``. A replica's last answer is trusted ``ttl_s`` long: when it has
    replayed ``required`` the read goes there, else (``behind``) to the primary; without a recent
    answer the replica must be asked (``probe``), then :func:`plan` decides with the new answer.
    """
    if latest:
        return "higher_consistency"
    if now < down_until:
        return "down"
    if probe is None or now - probe.at > ttl_s:
        return "probe"
    if probe.position is not None and probe.position >= required:
        return "replica"
    return "behind"


def _ignore(*_args: object) -> None:
    return None


class Replica:
    """One read replica: its pool, what it has replayed (per store), whether it is out."""

    def __init__(self, name: str, pool: asyncpg.Pool) -> None:
        self.name = name
        """Its hosts and database, without credentials (the metrics' ``replica`` label)."""
        self.db = PostgresDatastore(pool)
        self.probes: dict[str, Probe] = {}
        self.down_until = 0.0

    def remember(self, key: str, probe: Probe) -> None:
        if len(self.probes) >= _MAX_PROBES and key not in self.probes:
            self.probes.clear()
        self.probes[key] = probe


async def _open_replica(url: str, statement_cache_size: int) -> Replica:
    """A pool that connects on first use (``min_size`` 0): an unreachable replica must not stop
    the service from starting; its reads go to the primary until it answers."""
    pool = await asyncpg.create_pool(
        url,
        min_size=0,
        max_size=DEFAULT_POOL_MAX_SIZE,
        reset=_reset_connection,
        statement_cache_size=statement_cache_size,
        timeout=DEFAULT_REPLICA_CONNECT_TIMEOUT_S,
        **replica_connect_options(url),
    )
    return Replica(_describe(url), pool)


def replica_connect_options(url: str) -> dict[str, str]:
    """A multi-host read URL prefers a standby (``target_session_attrs=prefer-standby``) unless
    it says otherwise: reading a promoted or primary host is correct, only not what was wanted."""
    parts = urlsplit(url)
    query = {k.lower() for k, _ in parse_qsl(parts.query)}
    if "," in parts.netloc.rpartition("@")[2] and "target_session_attrs" not in query:
        return {"target_session_attrs": "prefer-standby"}
    return {}


def _describe(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.netloc.rpartition('@')[2]}{parts.path}"


class ReplicatedDatastore(PostgresDatastore):
    """The PostgreSQL datastore of the primary, with reads routed to replicas (module docstring).

    Build with :meth:`open_replicated`. ``on_read(target, reason)`` and
    ``on_lag(replica, seconds or None)`` may be replaced to observe it (``None``: unreachable).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        replicas: Sequence[Replica] = (),
        *,
        probe_s: float = DEFAULT_REPLICA_PROBE_S,
        retry_s: float = DEFAULT_REPLICA_RETRY_S,
    ) -> None:
        super().__init__(pool)
        self.replicas = list(replicas)
        self.primary = PostgresDatastore(pool)
        """The primary without routing (where every fallback reads)."""
        self.probe_s = probe_s
        self.retry_s = retry_s
        self.on_read: Callable[[str, str], None] = _ignore
        self.on_lag: Callable[[str, float | None], None] = _ignore
        self._known: dict[str, Revision] = {}
        self._audit_lsn = 0
        """The primary's WAL position after this process's last audit row (0: none yet)."""
        self._audit_dirty = False
        self._next = 0
        self._lag_task: asyncio.Task[None] | None = None

    @classmethod
    async def open_replicated(
        cls,
        url: str,
        read_urls: Sequence[str],
        *,
        migrate: bool = True,
        statement_cache_size: int,
        lag_interval_s: float = DEFAULT_REPLICA_LAG_INTERVAL_S,
    ) -> ReplicatedDatastore:
        """The primary's datastore (see :meth:`PostgresDatastore.open`) with a pool per URL of
        ``read_urls``, measuring their lag every ``lag_interval_s``."""
        store = await cls.open(url, migrate=migrate, statement_cache_size=statement_cache_size)
        assert isinstance(store, ReplicatedDatastore)  # cls(pool) built it
        try:
            for read_url in read_urls:
                store.replicas.append(await _open_replica(read_url, statement_cache_size))
        except (OSError, asyncpg.PostgresError, ValueError) as err:
            await store.aclose()
            raise StorageUnavailableError(f"cannot use read replica: {err}") from err
        store._lag_task = asyncio.create_task(
            store._measure_lag(lag_interval_s), name="permsvc-replica-lag"
        )
        return store

    # -- what this process knows the primary has --------------------------------------------------

    def known_revision(self, store_id: str) -> Revision:
        """The latest revision of ``store_id`` this process has seen on the primary."""
        return self._known.get(store_id, 0)

    def revision_committed(self, store_id: str, revision: Revision) -> None:
        """:class:`~permsvc.store.protocol.ReplicaReads`: a notified commit."""
        if revision > self._known.get(store_id, 0):
            self._known[store_id] = revision

    _know = revision_committed

    def store_deleted(self, store_id: str) -> None:
        """:class:`~permsvc.store.protocol.ReplicaReads`: reads of a deleted store go to the
        primary, which says it is gone (a replica may not have replayed the deletion)."""
        self._known[store_id] = _DELETED

    async def delete_store(self, store_id: str) -> None:
        await super().delete_store(store_id)
        self.store_deleted(store_id)

    async def _wrote(
        self, store_id: str, result: WriteResult, audit: AuditRecord | None
    ) -> WriteResult:
        self._know(store_id, result.revision)
        if audit is not None:
            await self._audit_appended()
        return result

    async def _audit_appended(self) -> None:
        """An audit row committed: audit reads need the primary's WAL position as of now (read
        right away, not at the next audit read: by then unrelated WAL, such as autovacuum's,
        would hold audit reads on the primary until the replica had that too)."""
        try:
            self._audit_lsn = max(self._audit_lsn, int(await self._pool.fetchval(PRIMARY_LSN)))
        except REPLICA_FAULTS:  # the write is done; the next audit read asks the primary again
            self._audit_dirty = True

    # -- routing --------------------------------------------------------------------------------

    async def _pick(
        self,
        key: str,
        required: int,
        position: Callable[[PostgresDatastore], Awaitable[int | None]],
        *,
        latest: bool = False,
    ) -> Replica | None:
        """A replica that has replayed ``required`` (``position`` asks one), trying each once
        from the next in turn; ``None`` (the primary) when none has."""
        reason: str = "behind"
        count = len(self.replicas)
        start, self._next = self._next, (self._next + 1) % max(count, 1)
        for i in range(count):
            replica = self.replicas[(start + i) % count]
            step = self._plan(replica, key, required, latest)
            if step == "probe":
                try:
                    found = await position(replica.db)
                except REPLICA_FAULTS as err:
                    self._failed(replica, err)
                    reason = "error"
                    continue
                probe = Probe(found, time.monotonic())
                replica.remember(key, probe)
                step = self._plan(replica, key, required, latest, now=probe.at)
            if step == "replica":
                self.on_read("replica", "caught_up")
                return replica
            reason = step
            if step == "higher_consistency":
                break
        self.on_read("primary", reason)
        return None

    def _plan(
        self, replica: Replica, key: str, required: int, latest: bool, *, now: float | None = None
    ) -> Plan:
        return plan(
            latest=latest,
            required=required,
            probe=replica.probes.get(key),
            now=time.monotonic() if now is None else now,
            ttl_s=self.probe_s,
            down_until=replica.down_until,
        )

    def _failed(self, replica: Replica, err: BaseException) -> None:
        if time.monotonic() >= replica.down_until:
            _log.warning(
                "read replica %s failed (%s: %s): its reads go to the primary for %.1fs",
                replica.name,
                type(err).__name__,
                err,
                self.retry_s,
            )
        replica.down_until = time.monotonic() + self.retry_s
        replica.probes.clear()

    async def on_replica(
        self, replica: Replica | None, read: Callable[[PostgresDatastore], Awaitable[T]]
    ) -> T:
        """``read`` on ``replica``; on the primary when there is none, it is out, or it fails."""
        if replica is not None and time.monotonic() >= replica.down_until:
            try:
                return await read(replica.db)
            except REPLICA_FAULTS as err:
                self._failed(replica, err)
                self.on_read("primary", "error")
        return await read(self.primary)

    async def _store_revision(self, store_id: str, required: Revision) -> Replica | None:
        async def replayed(db: PostgresDatastore) -> int | None:
            revision = await db.pool.fetchval(q.HEAD_REVISION, store_id, timeout=self.retry_s)
            return None if revision is None else int(revision)

        return await self._pick(store_id, max(required, self.known_revision(store_id)), replayed)

    async def replica_reader(
        self, store_id: str, required: Revision, *, latest: bool = False
    ) -> tuple[ReplicaReader, Revision] | None:
        """:class:`~permsvc.store.protocol.ReplicaReads`: a reader on a replica that has replayed
        ``required`` and every revision of the store known here, and the revision it answers at;
        ``None`` (read the primary) when none has, or for ``latest`` (``HIGHER_CONSISTENCY``)."""
        if latest:
            await self._pick(store_id, required, _no_position, latest=True)
            return None
        replica = await self._store_revision(store_id, required)
        if replica is None:
            return None
        self._know(store_id, required)
        position = replica.probes[store_id].position
        assert position is not None  # it was found at or past the required revision
        return ReplicaReader(self, replica), position

    # -- reads that may go to a replica ---------------------------------------------------------

    async def read_page(
        self, store_id: str, filter: ReadFilter, *, page_size: int, continuation_token: str = ""
    ) -> Page[StoredTuple]:
        replica = await self._store_revision(store_id, 0) if self.replicas else None
        return await self.on_replica(
            replica,
            lambda db: db.read_page(
                store_id, filter, page_size=page_size, continuation_token=continuation_token
            ),
        )

    async def read_changes_page(self, store_id: str, query: ChangesQuery) -> Page[TupleChange]:
        replica = None
        if self.replicas:
            after = 0
            if query.continuation_token:
                with contextlib.suppress(InvalidContinuationTokenError):  # refused below
                    after = decode_changes_token(query.continuation_token, query.object_type)[0]
            replica = await self._store_revision(store_id, after)
        return await self.on_replica(replica, lambda db: db.read_changes_page(store_id, query))

    async def read_audit(
        self, filter: AuditFilter, *, page_size: int, continuation_token: str = ""
    ) -> Page[AuditEntry]:
        replica = None
        if self.replicas:
            if self._audit_dirty:
                self._audit_dirty = False
                try:
                    self._audit_lsn = max(
                        self._audit_lsn, int(await self._pool.fetchval(PRIMARY_LSN))
                    )
                except BaseException:
                    self._audit_dirty = True
                    raise
            replica = await self._pick(_AUDIT, self._audit_lsn, self._replay_lsn)
        return await self.on_replica(
            replica,
            lambda db: db.read_audit(
                filter, page_size=page_size, continuation_token=continuation_token
            ),
        )

    async def _replay_lsn(self, db: PostgresDatastore) -> int | None:
        found = await db.pool.fetchval(REPLAY_LSN, timeout=self.retry_s)
        return None if found is None else int(found)

    # -- the primary: what it tells is known ------------------------------------------------------

    async def head_revision(self, store_id: str) -> Revision:
        head = await super().head_revision(store_id)
        self._know(store_id, head)
        return head

    async def changes_since(
        self, store_id: str, revision: Revision, *, limit: int
    ) -> Sequence[TupleChange]:
        changes = await super().changes_since(store_id, revision, limit=limit)
        if changes:
            self._know(store_id, changes[-1].revision)
        return changes

    async def snapshot_batches(
        self, store_id: str, consume: Callable[[Sequence[TupleKey]], None], batch_size: int
    ) -> Revision:
        revision = await super().snapshot_batches(store_id, consume, batch_size)
        self._know(store_id, revision)
        return revision

    async def apply_write(self, store_id: str, request: WriteRequest) -> WriteResult:
        result = await super().apply_write(store_id, request)
        return await self._wrote(store_id, result, request.audit)

    async def apply_bulk_write(self, store_id: str, request: BulkWriteRequest) -> WriteResult:
        result = await super().apply_bulk_write(store_id, request)
        return await self._wrote(store_id, result, request.audit)

    async def bulk_delete(
        self, store_id: str, filter: ReadFilter, *, audit: AuditRecord | None = None
    ) -> WriteResult:
        result = await super().bulk_delete(store_id, filter, audit=audit)
        return await self._wrote(store_id, result, audit)

    async def append_audit(self, entry: AuditEntry) -> int:
        entry_id = await super().append_audit(entry)
        await self._audit_appended()
        return entry_id

    # -- lag and lifecycle ----------------------------------------------------------------------

    async def measure_lag(self) -> dict[str, float | None]:
        """Each replica's replay lag in seconds (``None``: it did not answer), reported to
        ``on_lag``."""
        lags: dict[str, float | None] = {}
        for replica in self.replicas:
            try:
                lag = await replica.db.pool.fetchval(REPLAY_LAG, timeout=self.retry_s)
                lags[replica.name] = float(lag)
            except REPLICA_FAULTS as err:
                self._failed(replica, err)
                lags[replica.name] = None
            self.on_lag(replica.name, lags[replica.name])
        return lags

    async def _measure_lag(self, interval_s: float) -> None:
        while True:
            try:
                await self.measure_lag()
            except Exception:  # noqa: BLE001 - measuring must outlive anything; a replica's faults are handled above
                _log.exception("measuring the read replicas' lag failed")
            await asyncio.sleep(interval_s)

    async def aclose(self) -> None:
        if self._lag_task is not None:
            self._lag_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lag_task
            self._lag_task = None
        for replica in self.replicas:
            await replica.db.pool.close()
        await super().aclose()


async def _no_position(_db: PostgresDatastore) -> int | None:
    return None


class ReplicaReader:
    """The tuple reads of one request on one replica
    (:class:`~permsvc.store.protocol.TupleReader` and
    :class:`~permsvc.store.protocol.MultiKeyTupleReader`); each read the replica fails is read
    on the primary, as is every read once the replica is out."""

    def __init__(self, owner: ReplicatedDatastore, replica: Replica) -> None:
        self._owner = owner
        self.replica = replica

    def _read(self, read: Callable[[PostgresDatastore], Awaitable[T]]) -> Awaitable[T]:
        return self._owner.on_replica(self.replica, read)

    async def read_user_tuple(
        self, store_id: str, object: str, relation: str, user: str
    ) -> TupleKey | None:
        return await self._read(lambda db: db.read_user_tuple(store_id, object, relation, user))

    async def read_userset_tuples(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        return await self._read(lambda db: db.read_userset_tuples(store_id, object, relation))

    async def read_object_relation(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        return await self._read(lambda db: db.read_object_relation(store_id, object, relation))

    async def read_starting_with_user(
        self, store_id: str, filter: StartingWithUser
    ) -> Sequence[TupleKey]:
        return await self._read(lambda db: db.read_starting_with_user(store_id, filter))

    async def read_many(self, store_id: str, keys: ManyKeys) -> ManyReads:
        return await self._read(lambda db: db.read_many(store_id, keys))

    async def read_page(
        self, store_id: str, filter: ReadFilter, *, page_size: int, continuation_token: str = ""
    ) -> Page[StoredTuple]:
        return await self._read(
            lambda db: db.read_page(
                store_id, filter, page_size=page_size, continuation_token=continuation_token
            )
        )

    async def head_revision(self, store_id: str) -> Revision:
        return await self._read(lambda db: db.head_revision(store_id))
