"""The narrow storage protocols every backend implements and every reader consumes.

The engine depends only on :class:`TupleReader`; commands ask for the narrowest protocol they use.
Backends: ``memory`` (the reference: any caller-visible difference from it is a bug in the other
backend), ``sqlite`` (embedded default), ``postgres`` (production), ``index`` (in-memory replica).

General contracts:

- Every method is scoped by ``store_id``. A missing store is *not* checked by tuple reads (they
  return nothing); store/model/assertion methods raise the ``NotFoundError`` subclass they name.
- Results carry no ordering guarantee unless the method says so.
- Pages are keyset-paginated: ``continuation_token`` is opaque, ``""`` when there is nothing more,
  and a token that was not produced by the same call shape raises
  :class:`~permsvc.store.errors.InvalidContinuationTokenError`.
- Returned sequences are fully materialised; nothing needs closing.
- Tuples are returned as :class:`~permsvc.core.refs.TupleKey` with their condition (name + the
  persisted context) when they have one.

Optional capabilities are protocols too (:class:`SyncTupleReader`, :class:`MultiKeyTupleReader`,
:class:`ConsistentReads`, :class:`ApiKeyStore`, ...). A layer over another one (the in-memory index
over its database, a request's reader decorators) is a :class:`Wrapper`: it says what it wraps,
and :func:`unwrap` finds a capability on the first layer of the chain that offers it (SpiceDB's
``datastore.UnwrapAs``). The engine, the commands and the API look capabilities up only with
:func:`unwrap`, so a new wrapper cannot hide one by forgetting to forward it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar, runtime_checkable

import msgspec

from permsvc.core.refs import TupleKey
from permsvc.core.revision import Revision
from permsvc.model.schema import AuthorizationModel

if TYPE_CHECKING:
    from permsvc.core.revision import Consistency

__all__ = (
    "MAX_KEYS_PER_READ",
    "ApiKeyRecord",
    "ApiKeyScope",
    "ApiKeyStore",
    "Assertion",
    "AssertionStore",
    "AuditEntry",
    "AuditFields",
    "AuditFilter",
    "AuditLog",
    "AuditRecord",
    "AuditedWrites",
    "BulkTupleWriter",
    "BulkWriteRequest",
    "ChangelogReader",
    "ChangesQuery",
    "ClaimSpecStore",
    "ConsistentReads",
    "Datastore",
    "IndexSnapshot",
    "IndexSnapshotStore",
    "InlineReads",
    "ManyKeys",
    "ManyReads",
    "ManyRelationsSyncReader",
    "ModelChangeFeed",
    "ModelStore",
    "ModelVersionsView",
    "MultiKeyTupleReader",
    "OnDuplicate",
    "OnMissing",
    "Page",
    "ReadFilter",
    "RelationVersions",
    "ReplicaReads",
    "StartingWithUser",
    "StoreAdmin",
    "StoreInfo",
    "StoredClaimSpec",
    "StoredModel",
    "StoredTuple",
    "SyncTupleReader",
    "TupleChange",
    "TupleOperation",
    "TupleReader",
    "TupleSnapshotReader",
    "TupleWriteRevisions",
    "TupleWriter",
    "Wrapper",
    "WriteRequest",
    "WriteResult",
    "implements",
    "inline_reads",
    "unwrap",
)

T = TypeVar("T")
C = TypeVar("C")

OnDuplicate = Literal["error", "ignore"]
OnMissing = Literal["error", "ignore"]
TupleOperation = Literal["write", "delete"]


class Page(msgspec.Struct, Generic[T], frozen=True):
    items: list[T]
    continuation_token: str = ""


class ReadFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Filter of the Read API. Empty strings match anything.

    ``object_type`` with an empty ``object_id`` matches every object of the type (OpenFGA's
    ``object: "document:"``). ``user`` matches the user field exactly (``user:anne``,
    ``group:eng#member``, ``user:*``).
    """

    object_type: str = ""
    object_id: str = ""
    relation: str = ""
    user: str = ""


class StoredTuple(msgspec.Struct, frozen=True, kw_only=True):
    key: TupleKey
    timestamp: dt.datetime


class TupleChange(msgspec.Struct, frozen=True, kw_only=True):
    """One changelog entry: a tuple written or deleted at ``revision``."""

    key: TupleKey
    operation: TupleOperation
    timestamp: dt.datetime
    revision: Revision


class WriteResult(msgspec.Struct, frozen=True, kw_only=True):
    """Outcome of a committed write: the revision it is visible at.

    ``revision`` is the new head when something changed, else the unchanged head (a write whose
    operations were all ignored as duplicates/missing changes nothing and creates no revision).
    """

    revision: Revision
    changed: int = 0
    audit_id: int | None = None
    """The id of the audit row appended in the write's own transaction (``audit=`` given)."""


class AuditFields(msgspec.Struct, frozen=True, kw_only=True):
    """What an audit row says of a change: who made it, when, what, and through which request.
    Shared by the row to append (:class:`AuditRecord`) and the row appended (:class:`AuditEntry`).
    """

    at: dt.datetime
    actor: str
    """``user:<sub>``, ``client:<client_id>``, ``key:<key id>``, ``preshared:<n>`` or ``anonymous``."""
    actor_kind: str
    action: str
    detail: dict[str, Any] = msgspec.field(default_factory=dict)
    request_id: str = ""


class AuditRecord(AuditFields, frozen=True, kw_only=True):
    """The audit row of a tuple write, passed as ``audit=`` to :meth:`TupleWriter.write`,
    :meth:`BulkTupleWriter.bulk_write` or :meth:`BulkTupleWriter.bulk_delete`.

    The backend appends it **in the write's own transaction**, so a change exists only together
    with the row that says who made it: if the append fails, the change is rolled back and the
    revision is not advanced. The row is completed by :meth:`entry` with what only the commit
    knows: the revision (the new head, or the unchanged head when nothing changed) and the
    number of tuples changed under ``count_key``. A write that changes nothing still appends its
    row (``count_key`` 0): the attempt is an auditable action of its own.

    ``detail`` holds the change's values exactly as written; callers never put secrets in it
    (see :mod:`permsvc.commands.audit`).
    A writer that takes ``audit=`` says so by being :class:`AuditedWrites`; callers
    (:mod:`permsvc.commands.audit`) append the row after the commit for a writer without it (a
    wrapper that does not pass the row on).
    """

    count_key: str = "changed"

    def entry(self, store_id: str, *, revision: Revision | None, changed: int = 0) -> AuditEntry:
        """The row to append for a change of ``store_id`` that committed ``revision`` (an empty
        ``count_key`` adds no count: rows of changes that are not tuple writes)."""
        shared = {name: getattr(self, name) for name in AuditFields.__struct_fields__}
        if self.count_key:
            shared["detail"] = {**self.detail, self.count_key: changed}
        return AuditEntry(**shared, store_id=store_id, revision=revision)


class StoreInfo(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None = None


class StoredModel(msgspec.Struct, frozen=True, kw_only=True):
    """An authorization model as stored: immutable once written. ``model.id`` equals ``id``."""

    id: str
    model: AuthorizationModel
    created_at: dt.datetime
    dsl: str = ""


class Assertion(msgspec.Struct, frozen=True, kw_only=True):
    """A stored assertion (OpenFGA WriteAssertions): expected result of one check."""

    tuple_key: TupleKey
    expectation: bool
    contextual_tuples: tuple[TupleKey, ...] = ()
    context: dict[str, Any] = msgspec.field(default_factory=dict)


class StartingWithUser(msgspec.Struct, frozen=True, kw_only=True):
    """Filter of :meth:`TupleReader.read_starting_with_user` (OpenFGA's
    ``ReadStartingWithUserFilter``): the tuples ``object_type:*#relation@u`` for each ``u`` in
    ``users`` (user strings matched exactly: pass ``user:*`` explicitly to include wildcard
    tuples), restricted to objects whose id is in ``object_ids`` unless that is ``None``."""

    object_type: str
    relation: str
    users: Sequence[str]
    object_ids: Sequence[str] | None = None


@runtime_checkable
class TupleReader(Protocol):
    """What the engine reads. Implementations must be safe for concurrent use by many requests."""

    async def read_user_tuple(
        self, store_id: str, object: str, relation: str, user: str
    ) -> TupleKey | None:
        """The tuple ``object#relation@user`` if stored, else ``None``. ``user`` is matched exactly
        (a wildcard ``user:*`` matches only the wildcard tuple)."""
        ...

    async def read_userset_tuples(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        """Tuples on ``object#relation`` whose user is a userset (``group:x#member``) or a wildcard
        (``user:*``) — everything a direct-relation check must expand beyond the point lookup."""
        ...

    async def read_object_relation(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        """Every tuple on ``object#relation`` (any user)."""
        ...

    async def read_starting_with_user(
        self, store_id: str, filter: StartingWithUser
    ) -> Sequence[TupleKey]:
        """Reverse lookup: the tuples ``filter`` names (:class:`StartingWithUser`)."""
        ...

    async def read_page(
        self, store_id: str, filter: ReadFilter, *, page_size: int, continuation_token: str = ""
    ) -> Page[StoredTuple]:
        """The Read API: tuples matching ``filter``, oldest write first (stable across pages)."""
        ...

    async def head_revision(self, store_id: str) -> Revision:
        """The store's latest committed revision (0 for a store never written)."""
        ...


MAX_KEYS_PER_READ = 1_000
"""The most keys (of all three kinds together) one :meth:`MultiKeyTupleReader.read_many` call is
given: its SQL stays bounded."""


class ManyKeys(msgspec.Struct, frozen=True, kw_only=True):
    """The keys of one :meth:`MultiKeyTupleReader.read_many`: ``(object, relation, user)`` point
    lookups, and ``(object, relation)`` pairs whose userset tuples / all tuples are read."""

    users: Sequence[tuple[str, str, str]] = ()
    usersets: Sequence[tuple[str, str]] = ()
    object_relations: Sequence[tuple[str, str]] = ()


class ManyReads(msgspec.Struct, frozen=True, kw_only=True):
    """The answer of :meth:`MultiKeyTupleReader.read_many`: the tuples found for each kind of key,
    in no particular order (the caller groups them by ``(key.object, key.relation)`` and, for
    ``users``, ``key.user``)."""

    users: Sequence[TupleKey] = ()
    usersets: Sequence[TupleKey] = ()
    object_relations: Sequence[TupleKey] = ()


@runtime_checkable
class MultiKeyTupleReader(Protocol):
    """Optional: the engine's forward reads for many keys at once, in one statement.

    A reader that waits on a database offers it so the reads a request issues together (a node's
    branches, the fan-out of a hop) cost one round trip instead of one per key: see
    :class:`~permsvc.store.wrappers.batching.BatchingTupleReader`.
    """

    async def read_many(self, store_id: str, keys: ManyKeys) -> ManyReads:
        """In one statement: :meth:`TupleReader.read_user_tuple` for each ``(object, relation,
        user)`` of ``keys.users`` (the ``None`` left out), :meth:`TupleReader.read_userset_tuples`
        for each ``(object, relation)`` of ``keys.usersets`` and
        :meth:`TupleReader.read_object_relation` for each of ``keys.object_relations``. At most
        :data:`MAX_KEYS_PER_READ` keys in all, no key twice in a list. Consistency is that of the
        single-key reads."""
        ...


@runtime_checkable
class SyncTupleReader(Protocol):
    """Optional: the engine's tuple reads as plain calls, for readers that hold tuples in memory.

    A reader offering these lets a whole Check run as ordinary function calls, without a
    coroutine per read (the in-memory index answers a read faster than a coroutine is created
    and awaited). Readers that wait on a database do not implement it; the engine then uses
    :class:`TupleReader`'s coroutines.

    Contract: :meth:`sync_reads` says, per store, whether the ``*_sync`` methods answer for it
    (an index-backed reader answers only for its indexed store). When it does, each ``*_sync``
    method returns exactly what its :class:`TupleReader` counterpart would return at that moment,
    never blocks, never suspends and never touches the event loop.
    """

    def sync_reads(self, store_id: str) -> bool:
        """Whether the ``*_sync`` methods below answer for ``store_id``."""
        ...

    def read_user_tuple_sync(
        self, store_id: str, object: str, relation: str, user: str
    ) -> TupleKey | None:
        """As :meth:`TupleReader.read_user_tuple`."""
        ...

    def read_userset_tuples_sync(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        """As :meth:`TupleReader.read_userset_tuples`."""
        ...

    def read_object_relation_sync(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        """As :meth:`TupleReader.read_object_relation`."""
        ...


@runtime_checkable
class ManyRelationsSyncReader(Protocol):
    """Optional, with :class:`SyncTupleReader`: the reads of several relations of one object in
    one call (a flattened union's point lookups and usersets). A reader without it is read one
    relation at a time; the answers are the same."""

    def read_user_tuples_sync(
        self, store_id: str, object: str, relations: tuple[str, ...], user: str
    ) -> Sequence[TupleKey]:
        """The tuple ``object#r@user`` for each ``r`` of ``relations`` that has one, in that order."""
        ...

    def read_userset_tuples_of_sync(
        self, store_id: str, object: str, relations: tuple[str, ...]
    ) -> Sequence[TupleKey]:
        """:meth:`SyncTupleReader.read_userset_tuples_sync` of each of ``relations``, in that order."""
        ...


@runtime_checkable
class RelationVersions(Protocol):
    """Optional, with :class:`SyncTupleReader`: a version per ``(object type, relation)`` that
    changes with every change to its tuples, so the engine may keep userset expansions
    (:mod:`permsvc.engine.expansion`) for as long as the versions they were built at hold."""

    def relation_version_sync(self, store_id: str, object_type: str, relation: str) -> int: ...

    def count_object_relation_sync(self, store_id: str, object: str, relation: str) -> int:
        """How many tuples :meth:`SyncTupleReader.read_object_relation_sync` would return."""
        ...


@runtime_checkable
class InlineReads(Protocol):
    """Optional: ``inline_reads`` is true when every tuple read is served from memory and never
    waits; the engine then evaluates branches inline instead of as concurrent tasks."""

    inline_reads: bool


@runtime_checkable
class ConsistentReads(Protocol):
    """Optional: a datastore that picks the reader a request evaluates through (the in-memory
    index: its replica when it is at the required revision, else the database)."""

    async def reader_for(
        self, store_id: str, consistency: Consistency
    ) -> tuple[TupleReader, Revision]:
        """The reader and the revision it answers at (see
        :func:`permsvc.store.consistency.reader_for`)."""
        ...


@runtime_checkable
class ReplicaReads(Protocol):
    """Optional: a database with read replicas (standbys). The database path of a request asks it
    for a reader on a replica that has replayed the revision the request needs."""

    async def replica_reader(
        self, store_id: str, required: Revision, *, latest: bool = False
    ) -> tuple[TupleReader, Revision] | None:
        """A reader on a replica that has replayed at least ``required`` of ``store_id`` (and any
        revision this process knows of), and the revision it answers at; ``None``: read the
        primary, as ``latest`` (``HIGHER_CONSISTENCY``) always does."""
        ...

    def revision_committed(self, store_id: str, revision: Revision) -> None:
        """``revision`` of ``store_id`` is committed on the primary (a notification the index
        heard, for stores it does not follow too): later reads need it."""
        ...

    def store_deleted(self, store_id: str) -> None:
        """``store_id`` is deleted on the primary (here, or notified): no replica that may not
        have replayed the deletion may answer for it any more."""
        ...


@runtime_checkable
class ModelVersionsView(Protocol):
    """What a model cache reads of a :class:`ModelChangeFeed`'s record of model changes."""

    max_age_s: float

    def stamp(self, store_id: str) -> tuple[int, int]: ...

    def life_stamp(self, store_id: str) -> tuple[int, int]: ...

    def notified_revision(self, store_id: str) -> Revision: ...


@runtime_checkable
class ModelChangeFeed(Protocol):
    """Optional: a datastore that hears of model writes and store deletions (made in this process
    or notified), so the latest model of a store may be cached between them."""

    model_versions: ModelVersionsView


class WriteRequest(msgspec.Struct, frozen=True, kw_only=True):
    """The arguments of one :meth:`TupleWriter.write` as the backend receives them
    (:meth:`TupleWriter.apply_write`): the sequences are tuples, whatever the caller passed."""

    deletes: tuple[TupleKey, ...] = ()
    writes: tuple[TupleKey, ...] = ()
    on_duplicate: OnDuplicate = "error"
    on_missing: OnMissing = "error"
    audit: AuditRecord | None = None


class BulkWriteRequest(msgspec.Struct, frozen=True, kw_only=True):
    """The arguments of one :meth:`BulkTupleWriter.bulk_write` as the backend receives them
    (:meth:`BulkTupleWriter.apply_bulk_write`)."""

    tuples: Iterable[TupleKey] | AsyncIterable[TupleKey]
    on_duplicate: OnDuplicate = "ignore"
    audit: AuditRecord | None = None


class ChangesQuery(msgspec.Struct, frozen=True, kw_only=True):
    """The arguments of one :meth:`ChangelogReader.read_changes` as the backend receives them
    (:meth:`ChangelogReader.read_changes_page`)."""

    object_type: str = ""
    start_time: dt.datetime | None = None
    page_size: int
    continuation_token: str = ""


@runtime_checkable
class AuditedWrites(Protocol):
    """Optional: tuple writes take ``audit=`` and append the row in their own transaction (see
    :class:`AuditRecord`). The attribute is ``True``."""

    audited_writes: bool


@runtime_checkable
class TupleWriter(Protocol):
    """Tuple writes. The keyword form :meth:`write` is defined here once: a backend (or wrapper)
    subclasses this protocol and implements :meth:`apply_write`, which receives the arguments as
    one :class:`WriteRequest`."""

    async def write(
        self,
        store_id: str,
        *,
        deletes: Sequence[TupleKey] = (),
        writes: Sequence[TupleKey] = (),
        on_duplicate: OnDuplicate = "error",
        on_missing: OnMissing = "error",
        audit: AuditRecord | None = None,
    ) -> WriteResult:
        """Apply deletes then writes atomically, as one new revision, in commit order.

        The caller has already validated the tuples against the model and rejected duplicates
        within the request. Raises ``InvalidWriteInputError`` for an existing tuple
        (``on_duplicate="error"``) or a missing one (``on_missing="error"``) with OpenFGA's
        messages, and ``TupleConditionConflictError`` when ``on_duplicate="ignore"`` meets the same
        tuple with a different condition. On any error nothing is applied. Every applied
        operation is appended to the changelog at the new revision.

        With ``audit``, its row (:meth:`AuditRecord.entry`) is appended in the same transaction,
        also when nothing changed, and ``WriteResult.audit_id`` is its id; should the append
        fail, nothing is applied.
        """
        request = WriteRequest(
            deletes=tuple(deletes),
            writes=tuple(writes),
            on_duplicate=on_duplicate,
            on_missing=on_missing,
            audit=audit,
        )
        return await self.apply_write(store_id, request)

    async def apply_write(self, store_id: str, request: WriteRequest) -> WriteResult:
        """:meth:`write` with its arguments as one request: what a backend implements."""
        ...


@runtime_checkable
class BulkTupleWriter(Protocol):
    """Imports and deletions far beyond the 100 operations of an OpenFGA Write (admin API, tools).

    Each call is one transaction and, when it changes anything, exactly one new revision; every
    applied operation is appended to the changelog at that revision (so followers see a bulk
    import like any other write, all at once). ``audit`` behaves as in :meth:`TupleWriter.write`:
    its row is appended in the same transaction, even when nothing changed.

    The keyword form :meth:`bulk_write` is defined here once: a backend (or wrapper) subclasses
    this protocol and implements :meth:`apply_bulk_write`.
    """

    async def bulk_write(
        self,
        store_id: str,
        tuples: Iterable[TupleKey] | AsyncIterable[TupleKey],
        *,
        on_duplicate: OnDuplicate = "ignore",
        audit: AuditRecord | None = None,
    ) -> WriteResult:
        """Insert ``tuples`` (consumed once, in order) into ``store_id``.

        A tuple already stored with the same condition, or repeated in the input, is skipped
        with ``on_duplicate="ignore"``; with ``"error"`` any already-stored tuple raises
        ``InvalidWriteInputError``. The same tuple with a different condition (stored or earlier
        in the input) raises ``TupleConditionConflictError``. Raises ``StoreNotFoundError`` for a
        missing or deleted store. On any error nothing is applied. ``changed`` counts inserted
        tuples.

        The imported tuples are stored (and appear in the Read API and the changelog) in key
        order: object type, object id, relation, then the user's type, id and relation, each
        compared by code point. Key order lets the SQL backends append to their indexes instead
        of inserting at random places, which is most of the cost of a large import.
        """
        request = BulkWriteRequest(tuples=tuples, on_duplicate=on_duplicate, audit=audit)
        return await self.apply_bulk_write(store_id, request)

    async def apply_bulk_write(self, store_id: str, request: BulkWriteRequest) -> WriteResult:
        """:meth:`bulk_write` with its arguments as one request: what a backend implements."""
        ...

    async def bulk_delete(
        self, store_id: str, filter: ReadFilter, *, audit: AuditRecord | None = None
    ) -> WriteResult:
        """Delete every tuple matching ``filter`` (the Read API's filter; an empty filter deletes
        all tuples of the store). Raises ``StoreNotFoundError`` for a missing or deleted store.
        ``changed`` counts deleted tuples; deleting nothing creates no revision."""
        ...


@runtime_checkable
class ChangelogReader(Protocol):
    """The changelog. The keyword form :meth:`read_changes` is defined here once: a backend (or
    wrapper) subclasses this protocol and implements :meth:`read_changes_page`."""

    async def read_changes(
        self,
        store_id: str,
        *,
        object_type: str = "",
        start_time: dt.datetime | None = None,
        page_size: int,
        continuation_token: str = "",
    ) -> Page[TupleChange]:
        """OpenFGA ReadChanges: changes in commit order. When there are no more changes the token
        of the last change is returned again (so a client can poll with it); ``""`` only when
        nothing matched at all. The token encodes ``object_type``; presenting it with another
        type raises ``InvalidContinuationTokenError``. A token wins over ``start_time``."""
        query = ChangesQuery(
            object_type=object_type,
            start_time=start_time,
            page_size=page_size,
            continuation_token=continuation_token,
        )
        return await self.read_changes_page(store_id, query)

    async def read_changes_page(self, store_id: str, query: ChangesQuery) -> Page[TupleChange]:
        """:meth:`read_changes` with its arguments as one query: what a backend implements."""
        ...

    async def changes_since(
        self, store_id: str, revision: Revision, *, limit: int
    ) -> Sequence[TupleChange]:
        """Changes with revision > ``revision`` in revision order (for followers such as the index);
        at most ``limit`` rows, never splitting one revision's changes across calls."""
        ...


@runtime_checkable
class TupleWriteRevisions(Protocol):
    """Optional: the revision at which each live tuple was written. Read by explanations only
    (a witness names the write behind each stored tuple), never on the check path; the database
    backends answer from their tuple rows, and wrappers (the in-memory index) reach it through
    :func:`unwrap`."""

    async def tuple_write_revisions(
        self, store_id: str, keys: Sequence[TupleKey]
    ) -> dict[tuple[str, str, str], Revision]:
        """For each of ``keys`` stored now, ``key.key -> `` the revision of the write that made it
        live (a tuple deleted and written again has the later one); keys not stored are left out."""
        ...


@runtime_checkable
class TupleSnapshotReader(Protocol):
    """Streams every tuple of a store together with the revision they are a snapshot of: the
    starting point of a follower (the in-memory index), which then applies ``changes_since``.

    The keyword form :meth:`snapshot_tuples` (and its default batch size) is defined here once: a
    backend subclasses this protocol and implements :meth:`snapshot_batches`."""

    async def snapshot_tuples(
        self,
        store_id: str,
        consume: Callable[[Sequence[TupleKey]], None],
        *,
        batch_size: int = 10_000,
    ) -> Revision:
        """Call ``consume`` with the store's tuples, ``batch_size`` at a time (no order), and return
        the revision they are exactly the state of (read in one transaction: no write is half
        seen). ``consume`` runs synchronously between fetches, possibly on a worker thread, and
        must not touch the event loop; an exception it raises aborts the scan and propagates.
        A missing store yields no tuples and revision 0."""
        return await self.snapshot_batches(store_id, consume, batch_size)

    async def snapshot_batches(
        self, store_id: str, consume: Callable[[Sequence[TupleKey]], None], batch_size: int
    ) -> Revision:
        """:meth:`snapshot_tuples` with the batch size given: what a backend implements."""
        ...


class IndexSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """A store's in-memory index serialised at ``revision`` (see :mod:`permsvc.store.index.snapshot`):
    ``data`` is opaque to the database, ``format`` names its encoding (a reader ignores formats it
    does not know) and ``tuples`` how many tuples it holds (for the memory budget, before loading)."""

    revision: Revision
    format: str
    tuples: int
    data: bytes


@runtime_checkable
class IndexSnapshotStore(Protocol):
    """Keeps the latest index snapshot of each store, so a starting replica can load it and catch
    up from the changelog after its revision instead of reading every tuple."""

    async def read_index_snapshot(self, store_id: str, format: str) -> IndexSnapshot | None:
        """The store's snapshot if there is one in ``format``, else ``None``."""
        ...

    async def index_snapshot_revision(self, store_id: str) -> Revision | None:
        """The revision of the store's snapshot (any format), without reading it."""
        ...

    async def write_index_snapshot(self, store_id: str, snapshot: IndexSnapshot) -> bool:
        """Replace the store's snapshot unless the stored one is at the same or a later revision
        (concurrent writers: the latest revision wins); whether it was written."""
        ...

    async def delete_index_snapshot(self, store_id: str) -> None:
        """Forget the store's snapshot (a deleted store)."""
        ...


@runtime_checkable
class StoreAdmin(Protocol):
    async def create_store(self, name: str) -> StoreInfo: ...

    async def get_store(self, store_id: str) -> StoreInfo:
        """Raises ``StoreNotFoundError`` for a missing or deleted store."""
        ...

    async def list_stores(
        self, *, page_size: int, continuation_token: str = "", name: str = ""
    ) -> Page[StoreInfo]:
        """Live stores ordered by id; ``name`` filters by exact name."""
        ...

    async def delete_store(self, store_id: str) -> None:
        """Soft-delete; deleting a missing store is not an error."""
        ...


@runtime_checkable
class ModelStore(Protocol):
    async def write_model(
        self, store_id: str, model: AuthorizationModel, *, dsl: str = ""
    ) -> StoredModel:
        """Store a new immutable model under a new ULID and return it."""
        ...

    async def read_model(self, store_id: str, model_id: str) -> StoredModel:
        """Raises ``ModelNotFoundError``."""
        ...

    async def read_latest_model(self, store_id: str) -> StoredModel | None: ...

    async def list_models(
        self, store_id: str, *, page_size: int, continuation_token: str = ""
    ) -> Page[StoredModel]:
        """Newest first (ULID descending), as the OpenFGA SDK's read_latest relies on."""
        ...


@runtime_checkable
class AssertionStore(Protocol):
    async def write_assertions(
        self, store_id: str, model_id: str, assertions: Sequence[Assertion]
    ) -> None:
        """Replace the assertions of a model."""
        ...

    async def read_assertions(self, store_id: str, model_id: str) -> list[Assertion]: ...


@runtime_checkable
class Datastore(
    TupleReader, TupleWriter, ChangelogReader, StoreAdmin, ModelStore, AssertionStore, Protocol
):
    """A complete backend."""

    async def is_ready(self) -> bool:
        """The backend answers and its schema is current."""
        ...

    async def aclose(self) -> None: ...


ApiKeyScope = str
"""What an API key may do: its roles, space-separated (``admin``, ``check``, ``read claims``...;
see :mod:`permsvc.auth.roles`). Keys created before roles existed hold one of ``admin``,
``check``, ``claims``, which are roles too."""


class ApiKeyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A stored API key. Only a hash of the secret is ever stored (``permsvc.auth.keys``)."""

    id: str
    """The public key id (the ``<id>`` of ``psk_<id>_<secret>``); names the key in logs and audit rows."""
    hashed_secret: str
    scope: ApiKeyScope
    """The key's roles, space-separated (column ``scope``); :attr:`roles` splits them."""
    store_id: str | None = None
    """The one store the key may act on; ``None``: any store."""
    name: str = ""
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self.scope.split())


class AuditEntry(AuditFields, frozen=True, kw_only=True):
    """One audited change: who did what, when, through which request, and the revision it produced.

    ``detail`` is JSON-serialisable and never holds secrets or tokens (the writer's duty, see
    :mod:`permsvc.commands.audit`). ``id`` is assigned by the log (0 before it is appended);
    ids increase in append order.
    """

    id: int = 0
    store_id: str = ""
    """The store changed; ``""`` for actions outside any store (API keys)."""
    revision: int | None = None


class AuditFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Filter of :meth:`AuditLog.read_audit`; empty fields match anything, times are inclusive."""

    store_id: str = ""
    actor: str = ""
    action: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    revision: int | None = None
    """Only rows of the change that produced this store revision."""


@runtime_checkable
class ApiKeyStore(Protocol):
    """Hashed API keys of machine callers."""

    async def create_api_key(self, record: ApiKeyRecord) -> None:
        """Store a new key. Raises ``CollisionError`` when the id exists (ids are random: retry)."""
        ...

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """The key with ``key_id`` (revoked ones included), or ``None``."""
        ...

    async def list_api_keys(self, *, include_revoked: bool = False) -> list[ApiKeyRecord]:
        """Keys ordered by creation time, oldest first."""
        ...

    async def revoke_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """Mark the key revoked (idempotent: an already revoked key keeps its first ``revoked_at``)
        and return it; ``None`` when no such key exists."""
        ...


@runtime_checkable
class AuditLog(Protocol):
    """The append-only audit log of changes."""

    async def append_audit(self, entry: AuditEntry) -> int:
        """Append ``entry`` (its ``id`` is ignored) and return the id assigned."""
        ...

    async def read_audit(
        self, filter: AuditFilter, *, page_size: int, continuation_token: str = ""
    ) -> Page[AuditEntry]:
        """Entries matching ``filter``, newest first (id descending), keyset-paginated. A token
        from another filter raises ``InvalidContinuationTokenError``."""
        ...


class StoredClaimSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A store's own claim spec (schema v3), kept as the validated spec's JSON document."""

    store_id: str
    document: str
    """JSON text of ``ClaimSpec.to_document()``; validated before it is stored."""
    updated_at: dt.datetime


@runtime_checkable
class ClaimSpecStore(Protocol):
    """Per-store claim specs of the claim feed (one per store, replaced whole)."""

    async def put_claim_spec(self, store_id: str, document: str) -> StoredClaimSpec:
        """Store or replace the store's spec and return it. The caller checks the store exists."""
        ...

    async def get_claim_spec(self, store_id: str) -> StoredClaimSpec | None:
        """The store's spec, or ``None`` when it has none."""
        ...

    async def delete_claim_spec(self, store_id: str) -> bool:
        """Remove the store's spec; whether there was one."""
        ...


@runtime_checkable
class Wrapper(Protocol):
    """A layer over another one that forwards to it what it does not do itself (the in-memory
    index over its database, a request's reader decorators over the store's reader)."""

    def unwrap(self) -> object:
        """The layer this one wraps."""
        ...


_READ_PATH: frozenset[type] = frozenset(
    {InlineReads, SyncTupleReader, ManyRelationsSyncReader, RelationVersions, MultiKeyTupleReader}
)
"""Capabilities of how tuples are read: only ever the reading layer's own (see :func:`unwrap`)."""

_IMPLEMENTS: dict[tuple[type, type], bool] = {}
_MAX_LAYERS = 16


def implements(obj: object, capability: type) -> bool:
    """Whether ``obj`` offers ``capability`` (a runtime-checkable protocol), decided once per class:
    every instance of a class offers the same capabilities (attributes set in ``__init__`` too)."""
    key = (type(obj), capability)
    known = _IMPLEMENTS.get(key)
    if known is None:
        known = _IMPLEMENTS[key] = isinstance(obj, capability)
    return known


def unwrap(obj: object, capability: type[C]) -> C | None:
    """The first layer of ``obj``'s chain (``obj``, then what each :class:`Wrapper` wraps) that
    offers ``capability``, or ``None`` when none does.

    A read-path capability (:class:`SyncTupleReader`, :class:`ManyRelationsSyncReader`,
    :class:`RelationVersions`, :class:`InlineReads`, :class:`MultiKeyTupleReader`) is never taken
    from below a layer that reads tuples itself: reading the inner layer directly would bypass what
    the outer one does to its reads (contextual tuples, the index's replica, batching).
    """
    read_path = capability in _READ_PATH
    for _ in range(_MAX_LAYERS):
        if implements(obj, capability):
            return obj  # type: ignore[return-value]
        if not implements(obj, Wrapper) or (read_path and implements(obj, TupleReader)):
            return None
        obj = obj.unwrap()  # type: ignore[attr-defined]
    raise RecursionError(f"more than {_MAX_LAYERS} wrapped layers: a wrapper wraps itself")


def inline_reads(reader: object) -> bool:
    """Whether ``reader`` serves every tuple read from memory (:class:`InlineReads`)."""
    layer = unwrap(reader, InlineReads)
    return layer is not None and bool(layer.inline_reads)
