"""IndexedReader: one request's :class:`~permsvc.store.protocol.TupleReader` over a TupleIndex.

Snapshot semantics without copies. The follower applies a changelog batch in one synchronous call
(:meth:`TupleIndex.apply`), and every read here completes without suspending. A check awaits
nothing but these reads (the engine evaluates branches inline when ``inline_reads`` is set), so
from its first read to its last the event loop runs nothing else: a check sees exactly one
revision, never half of a write. That revision is the one the reader was opened at, which the
request reports, unless the request itself suspends between checks: a streamed listing sends each
result before confirming the next, and its later checks then see later revisions (each still
whole), so everything it returns holds at the reported revision or later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from permsvc.core.refs import TupleKey
    from permsvc.core.revision import Revision
    from permsvc.store.index.tuple_index import TupleIndex
    from permsvc.store.protocol import Page, ReadFilter, StartingWithUser, StoredTuple, TupleReader

__all__ = ("IndexedReader",)


class IndexedReader:
    """Reads ``index`` for one request, opened at the index's current revision.

    ``database`` serves what the index does not hold: the Read API (``read_page``: it needs write
    timestamps and the stored order) and any other store.
    """

    __slots__ = (
        "_database",
        "_index",
        "_revision",
        "count_object_relation_sync",
        "inline_reads",
        "read_object_relation_sync",
        "read_user_tuple_sync",
        "read_user_tuples_sync",
        "read_userset_tuples_of_sync",
        "read_userset_tuples_sync",
    )

    def __init__(self, index: TupleIndex, database: TupleReader) -> None:
        self._index = index
        self._database = database
        self._revision = index.revision
        self.inline_reads = True
        """Reads never suspend: the engine evaluates branches inline."""
        # The synchronous reads (SyncTupleReader) are the index's own methods: they answer only
        # for the indexed store (``sync_reads``), so there is nothing to route.
        self.read_user_tuple_sync = index.read_user_tuple_sync
        self.read_userset_tuples_sync = index.read_userset_tuples_sync
        self.read_object_relation_sync = index.read_object_relation_sync
        self.read_user_tuples_sync = index.read_user_tuples_sync
        self.read_userset_tuples_of_sync = index.read_userset_tuples_of_sync
        """Several relations of one object per call (see ``ResolveContext.read_users_sync``)."""
        self.count_object_relation_sync = index.count_object_relation_sync
        """How many tuples ``read_object_relation_sync`` would return (bounds the engine's
        userset expansions before they read)."""

    @property
    def revision(self) -> Revision:
        """The revision the reader was opened at: every check it serves without suspending in
        between sees exactly this revision."""
        return self._revision

    async def read_user_tuple(
        self, store_id: str, object: str, relation: str, user: str
    ) -> TupleKey | None:
        index = self._index
        if store_id == index.store_id:
            return index.user_tuple(object, relation, user)
        return await self._database.read_user_tuple(store_id, object, relation, user)

    async def read_userset_tuples(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        index = self._index
        if store_id == index.store_id:
            return index.userset_tuples(object, relation)
        return await self._database.read_userset_tuples(store_id, object, relation)

    async def read_object_relation(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        index = self._index
        if store_id == index.store_id:
            return index.object_relation(object, relation)
        return await self._database.read_object_relation(store_id, object, relation)

    def sync_reads(self, store_id: str) -> bool:
        """The synchronous reads answer for the indexed store only (others are in the database)."""
        return store_id == self._index.store_id

    def relation_version_sync(self, store_id: str, object_type: str, relation: str) -> int:
        """:meth:`TupleIndex.relation_version` (the engine keeps userset expansions per version;
        a reader offering it offers ``count_object_relation_sync`` too)."""
        return self._index.relation_version(object_type, relation)

    async def read_starting_with_user(
        self, store_id: str, filter: StartingWithUser
    ) -> Sequence[TupleKey]:
        index = self._index
        if store_id == index.store_id:
            return index.starting_with_user(filter)
        return await self._database.read_starting_with_user(store_id, filter)

    async def read_page(
        self, store_id: str, filter: ReadFilter, *, page_size: int, continuation_token: str = ""
    ) -> Page[StoredTuple]:
        return await self._database.read_page(
            store_id, filter, page_size=page_size, continuation_token=continuation_token
        )

    async def head_revision(self, store_id: str) -> Revision:
        """For the indexed store, the revision this reader answers at (not the database head)."""
        if store_id == self._index.store_id:
            return self._revision
        return await self._database.head_revision(store_id)
