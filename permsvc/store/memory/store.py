"""MemoryDatastore: the reference implementation of every storage protocol.

Not durable. Each method runs without awaiting in the middle, so under asyncio every write is
atomic and writes to one store are serialised: commit order is revision order by construction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterable, Callable, Sequence

from permsvc.core.refs import TupleKey, split_object
from permsvc.core.revision import Revision
from permsvc.core.ulid import new_ulid
from permsvc.model.schema import AuthorizationModel
from permsvc.store.common.paging import models_before, models_page, stores_after, stores_page
from permsvc.store.common.reverse import starting_with_user
from permsvc.store.common.write_plan import BulkWritePlan, plan_write
from permsvc.store.errors import (
    InvalidContinuationTokenError,
    ModelNotFoundError,
    StoreNotFoundError,
)
from permsvc.store.memory.claim_specs import MemoryClaimSpecMixin
from permsvc.store.memory.index_snapshots import MemoryIndexSnapshotMixin
from permsvc.store.memory.keys_audit import MemoryKeysAuditMixin
from permsvc.store.protocol import (
    Assertion,
    AuditRecord,
    BulkTupleWriter,
    BulkWriteRequest,
    ChangesQuery,
    Datastore,
    ManyKeys,
    ManyReads,
    Page,
    ReadFilter,
    StartingWithUser,
    StoredModel,
    StoredTuple,
    StoreInfo,
    TupleChange,
    TupleSnapshotReader,
    WriteRequest,
    WriteResult,
)
from permsvc.store.rows import decode_model, describe_tuple, encode_model, to_columns
from permsvc.store.tokens import decode_page_token, encode_page_token

__all__ = ("MemoryDatastore", "describe_tuple")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _Row:
    __slots__ = ("key", "revision", "seq", "timestamp")

    def __init__(self, key: TupleKey, seq: int, timestamp: dt.datetime, revision: Revision) -> None:
        self.key = key
        self.seq = seq
        self.timestamp = timestamp
        self.revision = revision


class _StoreData:
    def __init__(self, info: StoreInfo) -> None:
        self.info = info
        self.rows: dict[tuple[str, str, str], _Row] = {}
        self.by_object_relation: dict[tuple[str, str], dict[str, TupleKey]] = {}
        self.by_user: dict[tuple[str, str, str], dict[str, TupleKey]] = {}
        self.changelog: list[TupleChange] = []
        self.revision: Revision = 0
        self.seq = 0
        self.models: dict[str, StoredModel] = {}
        self.assertions: dict[str, list[Assertion]] = {}

    def stored(self, key: TupleKey) -> TupleKey | None:
        """The stored tuple with ``key``'s identity (its stored condition), or ``None``."""
        row = self.rows.get(key.key)
        return None if row is None else row.key

    def add(self, key: TupleKey, now: dt.datetime) -> None:
        self.seq += 1
        self.rows[key.key] = _Row(key, self.seq, now, self.revision)
        self.by_object_relation.setdefault((key.object, key.relation), {})[key.user] = key
        otype, oid = split_object(key.object)
        self.by_user.setdefault((otype, key.relation, key.user), {})[oid] = key

    def remove(self, key: TupleKey) -> None:
        del self.rows[key.key]
        users = self.by_object_relation[(key.object, key.relation)]
        del users[key.user]
        if not users:
            del self.by_object_relation[(key.object, key.relation)]
        otype, oid = split_object(key.object)
        objects = self.by_user[(otype, key.relation, key.user)]
        del objects[oid]
        if not objects:
            del self.by_user[(otype, key.relation, key.user)]


class MemoryDatastore(
    MemoryKeysAuditMixin,
    MemoryClaimSpecMixin,
    MemoryIndexSnapshotMixin,
    Datastore,
    BulkTupleWriter,
    TupleSnapshotReader,
):
    """In-memory :class:`~permsvc.store.protocol.Datastore`."""

    inline_reads = True
    """Tuple reads never wait, so the engine evaluates branches inline rather than as tasks."""

    audited_writes = True
    """Tuple writes take ``audit=`` and append the row with the change (see ``AuditRecord``)."""

    def __init__(self) -> None:
        self._stores: dict[str, _StoreData] = {}

    # -- stores ---------------------------------------------------------------------------------

    def _store(self, store_id: str) -> _StoreData:
        data = self._stores.get(store_id)
        if data is None or data.info.deleted_at is not None:
            raise StoreNotFoundError(store_id)
        return data

    def _maybe_store(self, store_id: str) -> _StoreData | None:
        return self._stores.get(store_id)

    async def create_store(self, name: str) -> StoreInfo:
        now = _now()
        info = StoreInfo(id=new_ulid(), name=name, created_at=now, updated_at=now)
        self._stores[info.id] = _StoreData(info)
        return info

    async def get_store(self, store_id: str) -> StoreInfo:
        return self._store(store_id).info

    async def list_stores(
        self, *, page_size: int, continuation_token: str = "", name: str = ""
    ) -> Page[StoreInfo]:
        after = stores_after(continuation_token)
        live = sorted(
            (
                d.info
                for d in self._stores.values()
                if d.info.deleted_at is None and (not name or d.info.name == name)
            ),
            key=lambda s: s.id,
        )
        return stores_page([s for s in live if s.id > after][: page_size + 1], page_size)

    async def delete_store(self, store_id: str) -> None:
        data = self._stores.get(store_id)
        if data is not None and data.info.deleted_at is None:
            now = _now()
            data.info = StoreInfo(
                id=data.info.id,
                name=data.info.name,
                created_at=data.info.created_at,
                updated_at=now,
                deleted_at=now,
            )

    # -- models ---------------------------------------------------------------------------------

    async def write_model(
        self, store_id: str, model: AuthorizationModel, *, dsl: str = ""
    ) -> StoredModel:
        data = self._store(store_id)
        model_id = new_ulid()
        # Round-trip through the storage form (OpenFGA JSON) so this reference returns exactly
        # what the SQL backends return (no DSL source positions).
        stored = StoredModel(
            id=model_id,
            model=decode_model(encode_model(model), model_id),
            created_at=_now(),
            dsl=dsl,
        )
        data.models[model_id] = stored
        return stored

    async def read_model(self, store_id: str, model_id: str) -> StoredModel:
        data = self._store(store_id)
        stored = data.models.get(model_id)
        if stored is None:
            raise ModelNotFoundError(model_id)
        return stored

    async def read_latest_model(self, store_id: str) -> StoredModel | None:
        data = self._store(store_id)
        return data.models[max(data.models)] if data.models else None

    async def list_models(
        self, store_id: str, *, page_size: int, continuation_token: str = ""
    ) -> Page[StoredModel]:
        before = models_before(continuation_token)
        data = self._store(store_id)
        ids = [i for i in sorted(data.models, reverse=True) if i < before][: page_size + 1]
        return models_page([data.models[i] for i in ids], page_size)

    # -- assertions -----------------------------------------------------------------------------

    async def write_assertions(
        self, store_id: str, model_id: str, assertions: Sequence[Assertion]
    ) -> None:
        data = self._store(store_id)
        if model_id not in data.models:
            raise ModelNotFoundError(model_id)
        data.assertions[model_id] = list(assertions)

    async def read_assertions(self, store_id: str, model_id: str) -> list[Assertion]:
        data = self._store(store_id)
        if model_id not in data.models:
            raise ModelNotFoundError(model_id)
        return list(data.assertions.get(model_id, ()))

    # -- tuples: write --------------------------------------------------------------------------

    async def apply_write(self, store_id: str, request: WriteRequest) -> WriteResult:
        data = self._store(store_id)
        # Plan first, apply after: on any error nothing changes.
        to_delete, to_write = plan_write(request, data.stored)
        return self._commit(store_id, data, request.audit, deletes=to_delete, writes=to_write)

    def _commit(
        self,
        store_id: str,
        data: _StoreData,
        audit: AuditRecord | None,
        *,
        deletes: Sequence[TupleKey] = (),
        writes: Sequence[TupleKey] = (),
    ) -> WriteResult:
        """Apply planned ``deletes`` then ``writes`` as one new revision, its audit row appended
        first; with nothing to change, the revision stays and the audit row names it. Runs
        without awaiting, so the write is atomic."""
        changed = len(deletes) + len(writes)
        if not changed:
            return WriteResult(
                revision=data.revision,
                audit_id=self._audit_write(store_id, audit, data.revision, 0),
            )
        audit_id = self._audit_write(store_id, audit, data.revision + 1, changed)
        data.revision += 1
        now = _now()
        for key in deletes:
            data.remove(key)
            data.changelog.append(
                TupleChange(key=key, operation="delete", timestamp=now, revision=data.revision)
            )
        for key in writes:
            data.add(key, now)
            data.changelog.append(
                TupleChange(key=key, operation="write", timestamp=now, revision=data.revision)
            )
        return WriteResult(revision=data.revision, changed=changed, audit_id=audit_id)

    # -- tuples: bulk ---------------------------------------------------------------------------

    async def apply_bulk_write(self, store_id: str, request: BulkWriteRequest) -> WriteResult:
        tuples, on_duplicate, audit = request.tuples, request.on_duplicate, request.audit
        data = self._store(store_id)
        plan = BulkWritePlan(data.stored, on_duplicate)
        if isinstance(tuples, AsyncIterable):
            async for key in tuples:
                plan.add(key)
        else:
            plan.extend(tuples)
        pending = plan.pending
        # The input may have been produced by other coroutines: re-resolve the store, it may have
        # been deleted meanwhile.
        data = self._store(store_id)
        if any(k in data.rows for k in pending):
            return await self.bulk_write(
                store_id, list(pending.values()), on_duplicate=on_duplicate, audit=audit
            )
        return self._commit(store_id, data, audit, writes=sorted(pending.values(), key=to_columns))

    async def bulk_delete(
        self, store_id: str, filter: ReadFilter, *, audit: AuditRecord | None = None
    ) -> WriteResult:
        data = self._store(store_id)
        doomed = sorted(
            (r for r in data.rows.values() if _matches(r.key, filter)), key=lambda r: r.seq
        )
        return self._commit(store_id, data, audit, deletes=[row.key for row in doomed])

    # -- tuples: read ---------------------------------------------------------------------------

    async def head_revision(self, store_id: str) -> Revision:
        data = self._maybe_store(store_id)
        return data.revision if data else 0

    async def tuple_write_revisions(
        self, store_id: str, keys: Sequence[TupleKey]
    ) -> dict[tuple[str, str, str], Revision]:
        data = self._maybe_store(store_id)
        rows = data.rows if data else {}
        return {k.key: row.revision for k in keys if (row := rows.get(k.key)) is not None}

    async def read_user_tuple(
        self, store_id: str, object: str, relation: str, user: str
    ) -> TupleKey | None:
        return self.read_user_tuple_sync(store_id, object, relation, user)

    async def read_userset_tuples(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        return self.read_userset_tuples_sync(store_id, object, relation)

    async def read_object_relation(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        return self.read_object_relation_sync(store_id, object, relation)

    # -- tuples: several keys at once (MultiKeyTupleReader; in memory nothing is saved) ---------

    async def read_many(self, store_id: str, keys: ManyKeys) -> ManyReads:
        found = (self.read_user_tuple_sync(store_id, o, r, u) for o, r, u in keys.users)
        return ManyReads(
            users=[key for key in found if key is not None],
            usersets=[
                k for o, r in keys.usersets for k in self.read_userset_tuples_sync(store_id, o, r)
            ],
            object_relations=[
                k
                for o, r in keys.object_relations
                for k in self.read_object_relation_sync(store_id, o, r)
            ],
        )

    # -- tuples: synchronous reads (SyncTupleReader) --------------------------------------------

    def sync_reads(self, store_id: str) -> bool:
        """Every store is in memory: the synchronous reads answer for all of them."""
        return True

    def read_user_tuple_sync(
        self, store_id: str, object: str, relation: str, user: str
    ) -> TupleKey | None:
        data = self._stores.get(store_id)
        if data is None:
            return None
        users = data.by_object_relation.get((object, relation))
        return users.get(user) if users else None

    def read_userset_tuples_sync(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        data = self._stores.get(store_id)
        users = data.by_object_relation.get((object, relation)) if data else None
        if not users:
            return ()
        return [k for u, k in users.items() if "#" in u or u.endswith(":*")]

    def read_object_relation_sync(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        data = self._stores.get(store_id)
        users = data.by_object_relation.get((object, relation)) if data else None
        return list(users.values()) if users else ()

    async def read_starting_with_user(
        self, store_id: str, filter: StartingWithUser
    ) -> Sequence[TupleKey]:
        data = self._maybe_store(store_id)
        return () if data is None else starting_with_user(data.by_user, filter)

    async def read_page(
        self, store_id: str, filter: ReadFilter, *, page_size: int, continuation_token: str = ""
    ) -> Page[StoredTuple]:
        data = self._store(store_id)
        after = decode_page_token(continuation_token, kind="read")["s"] if continuation_token else 0
        if not isinstance(after, int):
            raise InvalidContinuationTokenError()
        matched: list[_Row] = []
        for row in sorted(data.rows.values(), key=lambda r: r.seq):
            if row.seq <= after or not _matches(row.key, filter):
                continue
            matched.append(row)
            if len(matched) > page_size:
                break
        more = len(matched) > page_size
        rows = matched[:page_size]
        token = encode_page_token({"k": "read", "s": rows[-1].seq}) if more else ""
        return Page([StoredTuple(key=r.key, timestamp=r.timestamp) for r in rows], token)

    async def snapshot_batches(
        self, store_id: str, consume: Callable[[Sequence[TupleKey]], None], batch_size: int
    ) -> Revision:
        data = self._maybe_store(store_id)
        if data is None:
            return 0
        keys = [row.key for row in data.rows.values()]
        for start in range(0, len(keys), batch_size):
            consume(keys[start : start + batch_size])
        return data.revision

    # -- changelog ------------------------------------------------------------------------------

    async def read_changes_page(self, store_id: str, query: ChangesQuery) -> Page[TupleChange]:
        object_type, start_time = query.object_type, query.start_time
        page_size, continuation_token = query.page_size, query.continuation_token
        data = self._store(store_id)
        start = 0
        if continuation_token:
            payload = decode_page_token(continuation_token, kind="changes")
            if payload.get("t", "") != object_type:
                raise InvalidContinuationTokenError(
                    "continuation token was generated for a different object type"
                )
            start = int(payload["p"])
        elif start_time is not None:
            start = next(
                (i for i, c in enumerate(data.changelog) if c.timestamp >= start_time),
                len(data.changelog),
            )
        items: list[TupleChange] = []
        last = start
        for i in range(start, len(data.changelog)):
            change = data.changelog[i]
            if object_type and not change.key.object.startswith(object_type + ":"):
                last = i + 1
                continue
            if len(items) == page_size:
                break
            items.append(change)
            last = i + 1
        if not items:
            return Page([], continuation_token)
        return Page(items, encode_page_token({"k": "changes", "p": last, "t": object_type}))

    async def changes_since(
        self, store_id: str, revision: Revision, *, limit: int
    ) -> Sequence[TupleChange]:
        data = self._maybe_store(store_id)
        if data is None:
            return ()
        out: list[TupleChange] = []
        for change in data.changelog:
            if change.revision <= revision:
                continue
            if len(out) >= limit and change.revision != out[-1].revision:
                break
            out.append(change)
        return out

    # -- lifecycle ------------------------------------------------------------------------------

    async def is_ready(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None


def _matches(key: TupleKey, f: ReadFilter) -> bool:
    if f.object_type:
        otype, oid = split_object(key.object)
        if otype != f.object_type or (f.object_id and oid != f.object_id):
            return False
    if f.relation and key.relation != f.relation:
        return False
    return not (f.user and key.user != f.user)
