"""The in-memory index: per-process replicas of each store's tuples that follow the changelog.

See :mod:`permsvc.store.index.datastore` for how it is built, kept current and bounded, and
:func:`~permsvc.store.consistency.reader_for` for how a request's consistency picks the reader
and revision it answers at.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from permsvc.store.consistency import reader_for
from permsvc.store.factory import backend_for
from permsvc.store.index.datastore import BYTES_PER_TUPLE, IndexedDatastore, IndexMode
from permsvc.store.index.reader import IndexedReader
from permsvc.store.index.tuple_index import TupleIndex

if TYPE_CHECKING:
    from permsvc.store.protocol import Datastore

__all__ = (
    "BYTES_PER_TUPLE",
    "IndexMode",
    "IndexedDatastore",
    "IndexedReader",
    "TupleIndex",
    "index_datastore",
    "reader_for",
)


async def index_datastore(
    datastore: Datastore,
    *,
    database_url: str | None,
    memory_budget: int,
    build: bool = True,
    snapshots: bool = True,
    listen_url: str | None = None,
) -> IndexedDatastore:
    """Wrap ``datastore`` (opened from ``database_url``) in a started :class:`IndexedDatastore`:
    it LISTENs when the URL is PostgreSQL's (on ``listen_url`` when given: a direct connection
    where ``database_url`` goes through a transaction-pooling PgBouncer), polls otherwise, and has
    indexed every live store when this returns (unless ``build`` is false), from their index
    snapshots where usable (unless ``snapshots`` is false). On failure
    ``datastore`` is left open."""
    listen = database_url if backend_for(database_url)[0].name == "postgres" else None
    if listen and listen_url:
        listen = listen_url
    indexed = IndexedDatastore(
        datastore, memory_budget=memory_budget, listen_url=listen, snapshots=snapshots
    )
    try:
        await indexed.start(build=build)
    except BaseException:
        await indexed.stop_following()
        raise
    return indexed
