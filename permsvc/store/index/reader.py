"""IndexedReader: one request's :class:`~permsvc.store.protocol.TupleReader` over a TupleIndex.

Snapshot semantics without copies. The follower applies a changelog batch in one synchronous call
(:meth:`TupleIndex.apply`), and every read here completes without suspending, so an evaluation that
awaits only these reads runs from its first read to its last without the event loop running
anything else: it sees exactly one revision, the one the reader was opened at. The reader checks
that on every read and raises :class:`IndexSnapshotMovedError` rather than answer from two
revisions, should a caller ever suspend mid-evaluation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from permsvc.store.index.errors import IndexSnapshotMovedError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from permsvc.core.refs import TupleKey
    from permsvc.core.revision import Revision
    from permsvc.store.index.tuple_index import TupleIndex
    from permsvc.store.protocol import Page, ReadFilter, StoredTuple, TupleReader

__all__ = ("IndexedReader",)


class IndexedReader:
    """Reads ``index`` at the revision it had when this reader was opened.

    ``database`` serves what the index does not hold: the Read API (``read_page``: it needs write
    timestamps and the stored order) and any other store.
    """

    __slots__ = ("_database", "_index", "_revision", "inline_reads")

    def __init__(self, index: TupleIndex, database: TupleReader) -> None:
        self._index = index
        self._database = database
        self._revision = index.revision
        self.inline_reads = True
        """Reads never suspend: the engine evaluates branches inline."""

    @property
    def revision(self) -> Revision:
        """The revision every answer of this reader is computed at."""
        return self._revision

    def _moved(self) -> IndexSnapshotMovedError:
        return IndexSnapshotMovedError(self._index.store_id, self._revision, self._index.revision)

    async def read_user_tuple(
        self, store_id: str, object: str, relation: str, user: str
    ) -> TupleKey | None:
        index = self._index
        if store_id == index.store_id:
            if index.revision != self._revision:
                raise self._moved()
            return index.user_tuple(object, relation, user)
        return await self._database.read_user_tuple(store_id, object, relation, user)

    async def read_userset_tuples(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        index = self._index
        if store_id == index.store_id:
            if index.revision != self._revision:
                raise self._moved()
            return index.userset_tuples(object, relation)
        return await self._database.read_userset_tuples(store_id, object, relation)

    async def read_object_relation(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        index = self._index
        if store_id == index.store_id:
            if index.revision != self._revision:
                raise self._moved()
            return index.object_relation(object, relation)
        return await self._database.read_object_relation(store_id, object, relation)

    async def read_starting_with_user(
        self,
        store_id: str,
        object_type: str,
        relation: str,
        users: Sequence[str],
        object_ids: Sequence[str] | None = None,
    ) -> Sequence[TupleKey]:
        index = self._index
        if store_id == index.store_id:
            if index.revision != self._revision:
                raise self._moved()
            return index.starting_with_user(object_type, relation, users, object_ids)
        return await self._database.read_starting_with_user(
            store_id, object_type, relation, users, object_ids
        )

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
