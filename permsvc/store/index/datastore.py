"""IndexedDatastore: a Datastore whose tuple reads are served by per-store in-memory replicas.

One instance per process (each ``permsvc serve`` worker has its own). It wraps the database
backend and forwards everything to it explicitly, except:

- **Start-up** (:meth:`start`): every live store is indexed by streaming its tuples together with
  the revision they are a snapshot of (``snapshot_tuples``), then caught up from the changelog.
  Stores seen later (created here, named by a notification, or read) are indexed on first sight;
  until an index is ready its store is read from the database.
- **Following**: PostgreSQL notifications (``permsvc_changes``, see :mod:`.listener`) wake a
  follower that reads ``changes_since(revision)`` in revision order and applies each batch in one
  synchronous call. Polling is the fallback: every ``poll_s`` the follower compares each index
  with the database head (SQLite has no notifications, so this is its only path; with PostgreSQL
  it is the safety net for lost notifications).
- **Failover**: when the listener LISTENs again (the database restarted, or a standby was
  promoted), every index catches up from its own revision: nothing committed meanwhile is missed.
  A database whose head is *behind* an index (a standby that had not replayed every commit) is
  not the history the index followed: that index is rebuilt from a new snapshot. Revision
  numbers alone cannot tell an asynchronous standby that has already taken writes *past* the
  index's revision before the listener is back: run synchronous replication (a commit is then
  acknowledged only once a standby has it, so no promoted standby is behind any index).
- **Writes** go to the database and then wait (at most ``wait_s``) until this process's index has
  applied their revision, so a writer reads its own writes here without a token.
- **Memory budget**: an index whose tuple count times ``bytes_per_tuple`` would take the process
  over ``memory_budget`` is not built (or is dropped when it grows past it); that store is then
  evaluated against the database (where the engine evaluates a node's branches concurrently).
  Builds that run at the same time each check the budget against the indexes already published.
- **Consistency** (:meth:`reader_for`): a request gets a reader and the revision it answers at.
- **Models**: :attr:`model_versions` records model writes and store deletions (made here, or
  notified) for the model resolver's latest-model cache; a store deleted elsewhere also drops its
  index here.

Thread-safety: use from one event loop. Only SQLite's snapshot scan runs ``consume`` on its reader
thread, and it fills an index no other code can see until the scan has finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Literal

import msgspec

from permsvc.core.revision import Consistency, Revision, decode_token
from permsvc.settings import (
    DEFAULT_INDEX_MEMORY_BUDGET,
    DEFAULT_INDEX_POLL_S,
    DEFAULT_INDEX_SAFETY_POLL_S,
    DEFAULT_INDEX_WAIT_S,
)
from permsvc.store.consistency import database_reader
from permsvc.store.index import snapshot as snapshots_format
from permsvc.store.index.model_versions import ModelVersions
from permsvc.store.index.reader import IndexedReader
from permsvc.store.index.tuple_index import TupleIndex, gc_paused
from permsvc.store.protocol import (
    BulkTupleWriter,
    ChangelogReader,
    IndexSnapshotStore,
    ReplicaReads,
    TupleSnapshotReader,
    TupleWriter,
    unwrap,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from permsvc.core.refs import TupleKey
    from permsvc.model.schema import AuthorizationModel
    from permsvc.store.index.listener import PostgresChangeListener
    from permsvc.store.protocol import (
        Assertion,
        AuditRecord,
        BulkWriteRequest,
        ChangesQuery,
        Datastore,
        Page,
        ReadFilter,
        StartingWithUser,
        StoredModel,
        StoredTuple,
        StoreInfo,
        TupleChange,
        TupleReader,
        WriteRequest,
        WriteResult,
    )

__all__ = ("BYTES_PER_TUPLE", "IndexMode", "IndexStats", "IndexedDatastore")

BYTES_PER_TUPLE = 150
"""Budget estimate per indexed tuple (``bench/index_build.py`` measures 100-130 on a Drive-like set)."""

SNAPSHOT_MIN_TUPLES = 50_000
"""A starting process writes the snapshot of a store it built from at least this many tuples, or
whose snapshot it loaded and then replayed at least this many changes on (a smaller store builds
from its tuples in well under a second)."""

SERVING_LOAD_MAX_TUPLES = 1_000_000
"""The biggest snapshot a process loads once it serves (see :meth:`IndexedDatastore._load_snapshot`)."""

_SNAPSHOT_BATCH = 10_000
_CHANGES_BATCH = 5_000
_STORES_PAGE = 100

IndexMode = Literal["index", "building", "database", "absent"]


class IndexStats(msgspec.Struct, frozen=True, kw_only=True):
    """What the indexes of this process hold against the memory budget (``/metrics``)."""

    indexed_stores: int
    """Stores served from memory."""
    from_snapshot: int
    """Of those, started from their index snapshot."""
    building: int
    database_stores: int
    """Stores left out of the budget, evaluated against the database."""
    tuples: int
    estimated_bytes: int
    """``tuples`` times the per-tuple estimate the budget is checked with."""
    budget_bytes: int


_log = logging.getLogger("permsvc.index")


class _OverBudgetError(Exception):
    """Raised from a snapshot scan to stop it: the store does not fit the memory budget."""


class IndexedDatastore(TupleWriter, BulkTupleWriter, ChangelogReader):
    """A :class:`~permsvc.store.protocol.Datastore` serving tuple reads from in-memory indexes.

    Args:
        inner: the database backend (it must implement ``snapshot_tuples`` to be indexed).
        memory_budget: bytes the indexes of this process may take (estimated).
        wait_s: how long a write, a ``HIGHER_CONSISTENCY`` read or a token waits for the index
            before the read is evaluated against the database instead.
        poll_s: polling interval of the follower.
        listen_url: a PostgreSQL URL to LISTEN on (``None``: poll only).
        bytes_per_tuple: the per-tuple estimate the budget is checked with.
        snapshots: start stores from their index snapshot in the database when there is a usable
            one, and write snapshots of stores of at least ``snapshot_min_tuples`` tuples.
    """

    def __init__(
        self,
        inner: Datastore,
        *,
        memory_budget: int = DEFAULT_INDEX_MEMORY_BUDGET,
        wait_s: float = DEFAULT_INDEX_WAIT_S,
        poll_s: float | None = None,
        listen_url: str | None = None,
        bytes_per_tuple: int = BYTES_PER_TUPLE,
        snapshots: bool = True,
        snapshot_min_tuples: int = SNAPSHOT_MIN_TUPLES,
    ) -> None:
        self.inner = inner
        self.inline_reads = False
        """Mixed: stores outside the budget are read from the database (see :meth:`reader_for`)."""
        self._budget = memory_budget
        self._wait_s = wait_s
        self._poll_s = (
            poll_s
            if poll_s is not None
            else (DEFAULT_INDEX_SAFETY_POLL_S if listen_url else DEFAULT_INDEX_POLL_S)
        )
        self._bytes_per_tuple = bytes_per_tuple
        self.model_versions = ModelVersions(max_age_s=self._poll_s)
        """Model changes this process knows of (:class:`~.model_versions.ModelVersions`)."""
        self._indexes: dict[str, TupleIndex] = {}
        self._building: dict[str, asyncio.Task[None]] = {}
        self._catch_ups: dict[str, asyncio.Task[None]] = {}
        self._database_only: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._dirty: set[str] = set()
        self._verify: set[str] = set()
        self._wake = asyncio.Event()
        self._follower: asyncio.Task[None] | None = None
        self._listener: PostgresChangeListener | None = None
        if listen_url:
            from permsvc.store.index.listener import PostgresChangeListener

            self._listener = PostgresChangeListener(
                listen_url,
                on_change=self._notified,
                on_reconnect=self._reconnected,
                on_models=self._models_notified,
            )
        self._snapshots = unwrap(inner, IndexSnapshotStore) if snapshots else None
        self._snapshot_min_tuples = snapshot_min_tuples
        self._snapshot_revisions: dict[str, Revision] = {}
        """Per store, the revision of the latest snapshot this process loaded or wrote."""
        self._unsnapshotted: dict[str, int] = {}
        """Per store, changes applied since that snapshot."""
        self._from_snapshot: set[str] = set()
        self._refused_snapshots: set[str] = set()
        """Stores whose stored snapshot was refused (corrupt, ahead of the database): replaced
        even by one at an earlier revision."""
        self._replicas = unwrap(inner, ReplicaReads)
        """Read replicas of the database, told of every notified commit (stores read from the
        database need them as much as indexed ones)."""
        self._closed = False
        self._inner_closed = False

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self, *, build: bool = True) -> None:
        """LISTEN (PostgreSQL), index every live store (unless ``build`` is false), then follow."""
        if self._listener is not None:
            try:
                await self._listener.start()
            except Exception as err:  # noqa: BLE001 - any failure to LISTEN leaves polling, which suffices
                _log.warning(
                    "cannot LISTEN for changes (%s): the index polls every %.3fs instead",
                    err,
                    DEFAULT_INDEX_POLL_S,
                )
                self._listener = None
                self._poll_s = min(self._poll_s, DEFAULT_INDEX_POLL_S)
                self.model_versions.max_age_s = self._poll_s
        if build:
            token = ""
            while True:
                page = await self.inner.list_stores(
                    page_size=_STORES_PAGE, continuation_token=token
                )
                for info in page.items:
                    await self._build(info.id, starting=True)
                token = page.continuation_token
                if not token:
                    break
        self._follower = asyncio.create_task(self._follow(), name="permsvc-index-follower")

    async def stop_following(self) -> None:
        """Stop the follower, the builds and the listener (the database stays open)."""
        self._closed = True
        tasks = [
            t
            for t in (
                self._follower,
                *self._building.values(),
                *self._catch_ups.values(),
            )
            if t is not None
        ]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._listener is not None:
            await self._listener.aclose()

    async def aclose(self) -> None:
        """Stop following and close the database."""
        if self._inner_closed:
            return
        self._inner_closed = True
        await self.stop_following()
        await self.inner.aclose()

    def unwrap(self) -> Datastore:
        """The database (:class:`~permsvc.store.protocol.Wrapper`): API keys, the audit log, claim
        specs and whether writes are audited are the database's. Tuple writes hand ``audit=``
        through unchanged, so they commit their audit row in the same transaction exactly when
        the database's do."""
        return self.inner

    # -- introspection --------------------------------------------------------------------------

    def mode(self, store_id: str) -> IndexMode:
        """How reads of ``store_id`` are served right now."""
        if store_id in self._indexes:
            return "index"
        if store_id in self._building:
            return "building"
        if store_id in self._database_only:
            return "database"
        return "absent"

    def indexed_revision(self, store_id: str) -> Revision | None:
        """The revision the index of ``store_id`` is at (``None`` when it is not indexed)."""
        index = self._indexes.get(store_id)
        return None if index is None else index.revision

    def stats(self) -> IndexStats:
        tuples = self.indexed_tuples()
        return IndexStats(
            indexed_stores=len(self._indexes),
            from_snapshot=len(self._from_snapshot.intersection(self._indexes)),
            building=len(self._building),
            database_stores=len(self._database_only),
            tuples=tuples,
            estimated_bytes=tuples * self._bytes_per_tuple,
            budget_bytes=self._budget,
        )

    def from_snapshot(self, store_id: str) -> bool:
        """Whether the index of ``store_id`` was started from its snapshot (not from its tuples)."""
        return store_id in self._from_snapshot

    def indexed_tuples(self) -> int:
        return sum(index.count for index in self._indexes.values())

    def index_of(self, store_id: str) -> TupleIndex | None:
        return self._indexes.get(store_id)

    # -- consistency ----------------------------------------------------------------------------

    async def reader_for(
        self, store_id: str, consistency: Consistency
    ) -> tuple[TupleReader, Revision]:
        """The reader a request evaluates through, and the revision it answers at.

        ``MINIMIZE_LATENCY`` answers from the index as it is. ``HIGHER_CONSISTENCY`` first reads
        the database head, and a token names a revision; either way the index is caught up to that
        revision, waiting at most ``wait_s``, else the request is evaluated against the database
        (which is at its head, at least that revision; or a read replica that has replayed it). The returned reader is opened at the
        returned revision: nothing suspends between opening it and returning it.

        Raises:
            InvalidConsistencyTokenError: malformed token, a token of another store, or one naming a
                revision the store's database has not reached.
        """
        required: Revision = 0
        if consistency.token:
            required = decode_token(consistency.token, store_id=store_id).revision
        if consistency.level == "HIGHER_CONSISTENCY":
            required = max(required, await self.inner.head_revision(store_id))
        index = self._indexes.get(store_id)
        if index is None:
            self._ensure_building(store_id)
            return await self._database_reader(store_id, required, consistency)
        if index.revision < required:
            if not await self._await_revision(store_id, required):
                return await self._database_reader(store_id, required, consistency)
            index = self._indexes[store_id]
        return IndexedReader(index, self.inner), index.revision

    async def _database_reader(
        self, store_id: str, required: Revision, consistency: Consistency
    ) -> tuple[TupleReader, Revision]:
        """The database at ``required`` or later: a read replica that has replayed it, unless
        ``HIGHER_CONSISTENCY`` (see :func:`~permsvc.store.consistency.database_reader`)."""
        return await database_reader(
            self.inner, store_id, required, replica=consistency.level != "HIGHER_CONSISTENCY"
        )

    # -- building -------------------------------------------------------------------------------

    def _lock(self, store_id: str) -> asyncio.Lock:
        lock = self._locks.get(store_id)
        if lock is None:
            lock = self._locks[store_id] = asyncio.Lock()
        return lock

    def _ensure_building(self, store_id: str) -> None:
        if (
            self._closed
            or store_id in self._indexes
            or store_id in self._building
            or store_id in self._database_only
        ):
            return
        task = asyncio.create_task(self._build(store_id), name=f"permsvc-index-build-{store_id}")
        self._building[store_id] = task
        task.add_done_callback(lambda _t: self._building.pop(store_id, None))

    def _tuple_allowance(self) -> int:
        used = self.indexed_tuples() * self._bytes_per_tuple
        return max(self._budget - used, 0) // self._bytes_per_tuple

    async def _build(self, store_id: str, *, starting: bool = False) -> None:
        """Load the snapshot of ``store_id`` or build its index from its tuples, publish it, then
        catch it up; when ``starting`` (not yet serving), write a new snapshot if it was missing
        or stale (:data:`SNAPSHOT_MIN_TUPLES`)."""
        snapshots = unwrap(self.inner, TupleSnapshotReader)
        if snapshots is None:
            self._database_only.add(store_id)
            return
        try:
            async with self._lock(store_id):
                if store_id in self._indexes:
                    return
                allowance = self._tuple_allowance()
                index = await self._load_snapshot(store_id, allowance, starting=starting)
                from_tuples = index is None
                if index is None:
                    index = TupleIndex(store_id)

                    def consume(batch: Sequence[TupleKey]) -> None:
                        index.add_batch(batch)
                        if index.count > allowance:
                            raise _OverBudgetError

                    with gc_paused():
                        revision = await snapshots.snapshot_tuples(
                            store_id, consume, batch_size=_SNAPSHOT_BATCH
                        )
                    index.finish_build(revision)
                self._indexes[store_id] = index
            await self._catch_up(store_id)
            if starting and (
                index.count >= self._snapshot_min_tuples
                if from_tuples
                else self._unsnapshotted.get(store_id, 0) >= self._snapshot_min_tuples
            ):
                await self._refresh_snapshot(store_id)
        except _OverBudgetError:
            self._database_only.add(store_id)
            _log.warning(
                "store %s has more than %d tuples, beyond the index memory budget of %d bytes: "
                "it is evaluated against the database",
                store_id,
                allowance,
                self._budget,
            )
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a failed build must not kill its task: the store stays on the database and is rebuilt on next sight
            _log.exception(
                "indexing store %s failed; it is read from the database until retried", store_id
            )

    # -- snapshots ------------------------------------------------------------------------------

    async def _load_snapshot(
        self, store_id: str, allowance: int, *, starting: bool
    ) -> TupleIndex | None:
        """The index of ``store_id`` from its snapshot, or ``None`` (no snapshot, or one that cannot
        be used: the store is then built from its tuples). Loading holds the event loop (about
        0.5 CPU s per million tuples), so a serving process (not ``starting``) loads only
        snapshots of up to :data:`SERVING_LOAD_MAX_TUPLES` and builds bigger stores from their
        tuples, in batches that never hold it for long.

        Raises:
            _OverBudgetError: the snapshot holds more than ``allowance`` tuples.
        """
        if self._snapshots is None:
            return None
        snapshot = await self._snapshots.read_index_snapshot(store_id, snapshots_format.FORMAT)
        if snapshot is None:
            return None
        if snapshot.tuples > allowance:
            raise _OverBudgetError
        if not starting and snapshot.tuples > SERVING_LOAD_MAX_TUPLES:
            return None
        # The changelog after the snapshot's revision must be the one the snapshot was taken
        # from: a database behind it (a restore, a standby that had not replayed it) is not.
        # (The changelog is never truncated, so every change after the revision is still there.)
        head = await self.inner.head_revision(store_id)
        if head < snapshot.revision:
            _log.warning(
                "ignoring the index snapshot of store %s: it is at revision %d, the database at %d",
                store_id,
                snapshot.revision,
                head,
            )
            self._refused_snapshots.add(store_id)
            return None
        try:
            index = snapshots_format.decode(store_id, snapshot)
        except snapshots_format.SnapshotError as err:
            _log.warning(
                "ignoring the index snapshot of store %s (%s): building from its tuples",
                store_id,
                err,
            )
            self._refused_snapshots.add(store_id)
            return None
        self._snapshot_revisions[store_id] = snapshot.revision
        self._unsnapshotted[store_id] = 0
        self._from_snapshot.add(store_id)
        return index

    def _count_unsnapshotted(self, store_id: str, applied: int) -> None:
        if store_id in self._snapshot_revisions:
            self._unsnapshotted[store_id] = self._unsnapshotted.get(store_id, 0) + applied

    async def _refresh_snapshot(self, store_id: str) -> None:
        try:
            await self.write_snapshot(store_id)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a snapshot is an optimisation: the next start builds from tuples or replays more
            _log.warning("writing the index snapshot of store %s failed", store_id, exc_info=True)

    async def write_snapshot(self, store_id: str) -> bool:
        """Write the snapshot of the index of ``store_id`` at its current revision (unless another
        process has meanwhile written a later one); whether it was written.

        The marshalling runs on the event loop in one call (it must see one revision: 0.4-0.6 s per
        million tuples, during which this process answers nothing), which is why a serving
        process never calls this on its own; compressing and writing do not hold the loop."""
        snapshots = self._snapshots
        index = self._indexes.get(store_id)
        if snapshots is None or index is None:
            return False
        if store_id in self._refused_snapshots:
            await snapshots.delete_index_snapshot(store_id)
            self._refused_snapshots.discard(store_id)
        stored = await snapshots.index_snapshot_revision(store_id)
        known = self._snapshot_revisions.get(store_id)
        if stored is not None and stored >= index.revision:
            self._snapshot_revisions[store_id] = stored
            self._unsnapshotted[store_id] = 0
            return False
        if stored is not None and known is not None and stored > known:
            # Another replica refreshed it since: count from there.
            self._snapshot_revisions[store_id] = stored
            self._unsnapshotted[store_id] = 0
            return False
        index = self._indexes.get(store_id)
        if index is None:
            return False
        frozen = snapshots_format.freeze(index)
        self._snapshot_revisions[store_id] = frozen.revision
        self._unsnapshotted[store_id] = 0
        snapshot = await asyncio.to_thread(snapshots_format.seal, frozen)
        del frozen
        written = await snapshots.write_index_snapshot(store_id, snapshot)
        if written:
            _log.info(
                "wrote the index snapshot of store %s at revision %d (%d tuples, %d bytes)",
                store_id,
                snapshot.revision,
                snapshot.tuples,
                len(snapshot.data),
            )
        return written

    def _enforce_budget(self, store_id: str) -> None:
        if self.indexed_tuples() * self._bytes_per_tuple <= self._budget:
            return
        dropped = self._indexes.pop(store_id, None)
        self._database_only.add(store_id)
        _log.warning(
            "store %s grew to %d tuples, beyond the index memory budget of %d bytes: "
            "it is now evaluated against the database",
            store_id,
            0 if dropped is None else dropped.count,
            self._budget,
        )

    # -- following ------------------------------------------------------------------------------

    async def _catch_up(self, store_id: str) -> None:
        """Apply the changelog of ``store_id`` until nothing is left.

        Serialised per store by its lock; each batch is applied in one synchronous call."""
        if store_id not in self._indexes:
            return
        async with self._lock(store_id):
            while True:
                index = self._indexes.get(store_id)
                if index is None:
                    return
                changes: Sequence[TupleChange] = await self.inner.changes_since(
                    store_id, index.revision, limit=_CHANGES_BATCH
                )
                if not changes or self._indexes.get(store_id) is not index:
                    return
                applied = index.apply(changes)
                self._enforce_budget(store_id)
                if applied:
                    self._count_unsnapshotted(store_id, applied)

    def _notified(self, store_id: str, revision: Revision) -> None:
        self.model_versions.tuples_notified(store_id, revision)
        if self._replicas is not None:
            self._replicas.revision_committed(store_id, revision)
        index = self._indexes.get(store_id)
        if index is None:
            self._ensure_building(store_id)
            return
        if revision > index.revision:
            self._dirty.add(store_id)
            self._wake.set()

    def _reconnected(self) -> None:
        """The listener LISTENs again (after a restart or a failover): everything it may have
        missed is caught up, each index first checked against its database's head."""
        self.model_versions.lost_track()
        self._dirty.update(self._indexes)
        self._verify.update(self._indexes)
        self._wake.set()

    def _reindex(self, store_id: str, head: Revision) -> None:
        """The database's head is behind the index: it is not the database the index followed
        (a failover to a standby that had not replayed every commit, a restore from a backup).
        Revisions are about to be reused for other changes, so the index is rebuilt from a new
        snapshot instead of being caught up; until then the store is read from the database."""
        index = self._indexes.pop(store_id, None)
        _log.warning(
            "store %s is at revision %d in the database, behind its index (%s): rebuilding the index",
            store_id,
            head,
            None if index is None else index.revision,
        )
        self._ensure_building(store_id)

    def _models_notified(self, store_id: str, deleted: bool) -> None:
        if deleted:
            self._forget(store_id)
        else:
            self.model_versions.model_written(store_id)

    async def _follow(self) -> None:
        # Not ``while True``: Python 3.11's wait_for swallows a cancellation that arrives as the
        # wake event is set, and stop_following would then wait for the next poll.
        while not self._closed:
            woke = True
            try:
                await asyncio.wait_for(self._wake.wait(), self._poll_s)
            except TimeoutError:
                woke = False
            self._wake.clear()
            if woke:
                stores, self._dirty = self._dirty, set()
            else:
                stores = set(self._indexes)
            verify, self._verify = self._verify, set()
            for store_id in stores:
                try:
                    if not woke or store_id in verify:
                        index = self._indexes.get(store_id)
                        if index is None:
                            continue
                        head = await self.inner.head_revision(store_id)
                        if head < index.revision:
                            self._reindex(store_id, head)
                            continue
                        if head == index.revision:
                            continue
                    # The catch-up a write's response may be waiting for (``_reach``): one
                    # changelog read for both, not one after the other under the store's lock.
                    await asyncio.shield(self._catching_up(store_id))
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - the follower outlives any one failure (database restart, network): it retries at the next poll
                    _log.exception(
                        "following the changelog of store %s failed; retrying at the next poll",
                        store_id,
                    )

    def _catching_up(self, store_id: str) -> asyncio.Task[None]:
        """The store's in-flight catch-up (one at a time: concurrent waiters share it)."""
        task = self._catch_ups.get(store_id)
        if task is None or task.done():
            task = asyncio.create_task(
                self._catch_up(store_id), name=f"permsvc-index-catch-up-{store_id}"
            )
            task.add_done_callback(_log_failure)
            self._catch_ups[store_id] = task
        return task

    async def _await_revision(self, store_id: str, revision: Revision) -> bool:
        """Catch the index of ``store_id`` up to ``revision``, waiting at most ``wait_s``; whether
        it got there. A timeout only stops the waiting: the catch-up runs on (it is shielded), so
        a slow changelog read still makes progress for the next request."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait_s
        while True:
            index = self._indexes.get(store_id)
            if index is None:
                return False
            if index.revision >= revision:
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(asyncio.shield(self._catching_up(store_id)), remaining)
            except TimeoutError:
                return False
            except Exception:  # noqa: BLE001 - logged by the task; the read falls back to the database
                return False

    async def _reach(self, store_id: str, revision: Revision) -> None:
        """After a write: wait (bounded) until this process's index has applied ``revision``."""
        if not await self._await_revision(store_id, revision) and store_id in self._indexes:
            _log.warning(
                "index of store %s did not reach revision %d within %.2fs; the follower catches up",
                store_id,
                revision,
                self._wait_s,
            )

    # -- TupleReader: the index when ready, else the database (MINIMIZE_LATENCY) ------------------

    async def read_user_tuple(
        self, store_id: str, object: str, relation: str, user: str
    ) -> TupleKey | None:
        index = self._indexes.get(store_id)
        if index is None:
            return await self.inner.read_user_tuple(store_id, object, relation, user)
        return index.user_tuple(object, relation, user)

    async def read_userset_tuples(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        index = self._indexes.get(store_id)
        if index is None:
            return await self.inner.read_userset_tuples(store_id, object, relation)
        return index.userset_tuples(object, relation)

    async def read_object_relation(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        index = self._indexes.get(store_id)
        if index is None:
            return await self.inner.read_object_relation(store_id, object, relation)
        return index.object_relation(object, relation)

    async def read_starting_with_user(
        self, store_id: str, filter: StartingWithUser
    ) -> Sequence[TupleKey]:
        index = self._indexes.get(store_id)
        if index is None:
            return await self.inner.read_starting_with_user(store_id, filter)
        return index.starting_with_user(filter)

    async def read_page(
        self, store_id: str, filter: ReadFilter, *, page_size: int, continuation_token: str = ""
    ) -> Page[StoredTuple]:
        return await self.inner.read_page(
            store_id, filter, page_size=page_size, continuation_token=continuation_token
        )

    async def head_revision(self, store_id: str) -> Revision:
        """The database head (the protocol's meaning); see :meth:`reader_for` for the revision a
        read is answered at."""
        return await self.inner.head_revision(store_id)

    # -- writes: the database, then this process's index ---------------------------------------

    async def apply_write(self, store_id: str, request: WriteRequest) -> WriteResult:
        result = await self.inner.write(
            store_id,
            deletes=request.deletes,
            writes=request.writes,
            on_duplicate=request.on_duplicate,
            on_missing=request.on_missing,
            **_audit_kwargs(request.audit),
        )
        await self._reach(store_id, result.revision)
        return result

    async def apply_bulk_write(self, store_id: str, request: BulkWriteRequest) -> WriteResult:
        result = await self.inner.bulk_write(  # type: ignore[attr-defined]
            store_id,
            request.tuples,
            on_duplicate=request.on_duplicate,
            **_audit_kwargs(request.audit),
        )
        await self._reach(store_id, result.revision)
        return result  # type: ignore[no-any-return]

    async def bulk_delete(
        self, store_id: str, filter: ReadFilter, *, audit: AuditRecord | None = None
    ) -> WriteResult:
        result = await self.inner.bulk_delete(store_id, filter, **_audit_kwargs(audit))  # type: ignore[attr-defined]
        await self._reach(store_id, result.revision)
        return result  # type: ignore[no-any-return]

    # -- changelog, stores, models, assertions: the database ----------------------------------

    async def read_changes_page(self, store_id: str, query: ChangesQuery) -> Page[TupleChange]:
        return await self.inner.read_changes_page(store_id, query)

    async def changes_since(
        self, store_id: str, revision: Revision, *, limit: int
    ) -> Sequence[TupleChange]:
        return await self.inner.changes_since(store_id, revision, limit=limit)

    async def snapshot_tuples(
        self,
        store_id: str,
        consume: Callable[[Sequence[TupleKey]], None],
        *,
        batch_size: int = _SNAPSHOT_BATCH,
    ) -> Revision:
        return await self.inner.snapshot_tuples(store_id, consume, batch_size=batch_size)  # type: ignore[attr-defined,no-any-return]

    async def create_store(self, name: str) -> StoreInfo:
        info = await self.inner.create_store(name)
        if not self._closed and unwrap(self.inner, TupleSnapshotReader) is not None:
            index = TupleIndex(info.id)
            index.finish_build(0)
            self._indexes[info.id] = index
        return info

    async def get_store(self, store_id: str) -> StoreInfo:
        return await self.inner.get_store(store_id)

    async def list_stores(
        self, *, page_size: int, continuation_token: str = "", name: str = ""
    ) -> Page[StoreInfo]:
        return await self.inner.list_stores(
            page_size=page_size, continuation_token=continuation_token, name=name
        )

    async def delete_store(self, store_id: str) -> None:
        await self.inner.delete_store(store_id)
        self._forget(store_id)
        if self._snapshots is not None:
            await self._snapshots.delete_index_snapshot(store_id)

    def _forget(self, store_id: str) -> None:
        """A deleted store: no index, no cached models, no read replica answering for it. Its
        memory is free again, so the stores left out of the budget are tried again when next
        seen."""
        self.model_versions.store_deleted(store_id)
        if self._replicas is not None:
            self._replicas.store_deleted(store_id)
        if self._indexes.pop(store_id, None) is not None:
            self._database_only.clear()
        self._database_only.discard(store_id)
        self._snapshot_revisions.pop(store_id, None)
        self._unsnapshotted.pop(store_id, None)
        self._from_snapshot.discard(store_id)

    async def write_model(
        self, store_id: str, model: AuthorizationModel, *, dsl: str = ""
    ) -> StoredModel:
        stored = await self.inner.write_model(store_id, model, dsl=dsl)
        self.model_versions.model_written(store_id)
        return stored

    async def read_model(self, store_id: str, model_id: str) -> StoredModel:
        return await self.inner.read_model(store_id, model_id)

    async def read_latest_model(self, store_id: str) -> StoredModel | None:
        return await self.inner.read_latest_model(store_id)

    async def list_models(
        self, store_id: str, *, page_size: int, continuation_token: str = ""
    ) -> Page[StoredModel]:
        return await self.inner.list_models(
            store_id, page_size=page_size, continuation_token=continuation_token
        )

    async def write_assertions(
        self, store_id: str, model_id: str, assertions: Sequence[Assertion]
    ) -> None:
        await self.inner.write_assertions(store_id, model_id, assertions)

    async def read_assertions(self, store_id: str, model_id: str) -> list[Assertion]:
        return await self.inner.read_assertions(store_id, model_id)

    async def is_ready(self) -> bool:
        return await self.inner.is_ready()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _log.error("index catch-up failed; the follower retries", exc_info=task.exception())


def _audit_kwargs(audit: AuditRecord | None) -> dict[str, AuditRecord]:
    """``audit=`` for the database's write call, omitted when there is no record (so a backend
    without audited writes is called exactly as before)."""
    return {} if audit is None else {"audit": audit}
