"""Index snapshots in SQLite (schema v6, ``0006_index_snapshots.sql``).

:class:`SqliteIndexSnapshotMixin` is inherited by :class:`~permsvc.store.sqlite.SqliteDatastore`:
snapshots are replaced on its writer thread (``_transaction``) and read in one read transaction
on its reader thread (``_on_reader``)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

from permsvc.core.revision import Revision
from permsvc.store.common.snapshot_chunks import chunk_rows
from permsvc.store.protocol import IndexSnapshot

__all__ = ("SqliteIndexSnapshotMixin",)

HEAD = "SELECT revision, format, tuples, chunks FROM index_snapshots WHERE store_id = ?"
REVISION = "SELECT revision FROM index_snapshots WHERE store_id = ?"
CHUNKS = "SELECT data FROM index_snapshot_chunks WHERE store_id = ? ORDER BY seq"
UPSERT = (
    "INSERT INTO index_snapshots (store_id, revision, format, tuples, chunks, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (store_id) DO UPDATE SET "
    "revision = excluded.revision, format = excluded.format, tuples = excluded.tuples, "
    "chunks = excluded.chunks, created_at = excluded.created_at "
    "WHERE index_snapshots.revision < excluded.revision"
)
DELETE_CHUNKS = "DELETE FROM index_snapshot_chunks WHERE store_id = ?"
INSERT_CHUNK = "INSERT INTO index_snapshot_chunks (store_id, seq, data) VALUES (?, ?, ?)"
DELETE = "DELETE FROM index_snapshots WHERE store_id = ?"


class SqliteIndexSnapshotMixin:
    """:class:`~permsvc.store.protocol.IndexSnapshotStore`."""

    _transaction: Callable[..., Any]
    _on_reader: Callable[..., Any]

    async def read_index_snapshot(self, store_id: str, format: str) -> IndexSnapshot | None:
        def run(conn: sqlite3.Connection) -> IndexSnapshot | None:
            conn.execute("BEGIN")
            try:
                head = conn.execute(HEAD, (store_id,)).fetchone()
                if head is None or head[1] != format:
                    return None
                chunks = [r[0] for r in conn.execute(CHUNKS, (store_id,))]
            finally:
                conn.execute("COMMIT")
            if len(chunks) != head[3]:
                return None
            return IndexSnapshot(
                revision=head[0], format=format, tuples=head[2], data=b"".join(chunks)
            )

        result: IndexSnapshot | None = await self._on_reader(run)
        return result

    async def index_snapshot_revision(self, store_id: str) -> Revision | None:
        def run(conn: sqlite3.Connection) -> Revision | None:
            row = conn.execute(REVISION, (store_id,)).fetchone()
            return None if row is None else int(row[0])

        result: Revision | None = await self._on_reader(run)
        return result

    async def write_index_snapshot(self, store_id: str, snapshot: IndexSnapshot) -> bool:
        chunks = chunk_rows(store_id, snapshot.data)

        def run(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                UPSERT,
                (
                    store_id,
                    snapshot.revision,
                    snapshot.format,
                    snapshot.tuples,
                    len(chunks),
                    time.time_ns() // 1000,
                ),
            )
            if cursor.rowcount == 0:
                return False
            conn.execute(DELETE_CHUNKS, (store_id,))
            conn.executemany(INSERT_CHUNK, chunks)
            return True

        result: bool = await self._transaction(run)
        return result

    async def delete_index_snapshot(self, store_id: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(DELETE_CHUNKS, (store_id,))
            conn.execute(DELETE, (store_id,))

        await self._transaction(run)
