"""reader_for: the one call every read command makes to honour the request's consistency."""

from __future__ import annotations

from typing import TYPE_CHECKING

from permsvc.core.revision import InvalidConsistencyTokenError, decode_token
from permsvc.store.protocol import ConsistentReads, ReplicaReads, unwrap

if TYPE_CHECKING:
    from permsvc.core.revision import Consistency, Revision
    from permsvc.store.protocol import TupleReader

__all__ = ("database_reader", "reader_for")


async def reader_for(
    reader: TupleReader, store_id: str, consistency: Consistency
) -> tuple[TupleReader, Revision]:
    """The reader a request on ``store_id`` evaluates through and the revision it answers at.

    A datastore that picks its readers (:class:`~permsvc.store.protocol.ConsistentReads`: the
    in-memory index, see :meth:`IndexedDatastore.reader_for
    <permsvc.store.index.datastore.IndexedDatastore.reader_for>`) is asked. Any other reader reads
    the database, which is at its head: every level is met at once, and the revision reported is
    the head read just before evaluating (a lower bound of what the reads see).

    Raises:
        InvalidConsistencyTokenError: malformed token, a token of another store, or one naming a
            revision the store has not reached.
    """
    picker = unwrap(reader, ConsistentReads)
    if picker is not None:
        return await picker.reader_for(store_id, consistency)
    required = (
        decode_token(consistency.token, store_id=store_id).revision if consistency.token else 0
    )
    return await database_reader(
        reader, store_id, required, replica=consistency.level != "HIGHER_CONSISTENCY"
    )


async def database_reader(
    reader: TupleReader, store_id: str, required: Revision, *, replica: bool = True
) -> tuple[TupleReader, Revision]:
    """``reader`` (a database) and its head, which must be at least ``required``.

    With ``replica`` (false for ``HIGHER_CONSISTENCY``), a database with read replicas
    (:class:`~permsvc.store.protocol.ReplicaReads`) may hand out a reader on a replica that has
    replayed ``required`` instead, answering at that replica's revision."""
    replicas = unwrap(reader, ReplicaReads)
    if replicas is not None:
        found = await replicas.replica_reader(store_id, required, latest=not replica)
        if found is not None:
            return found
    head = await reader.head_revision(store_id)
    if head < required:
        raise InvalidConsistencyTokenError(
            f"the consistency token names revision {required} of store {store_id}, whose latest revision "
            f"is {head}: use a token returned by a write to this store"
        )
    return reader, head
