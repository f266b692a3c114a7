"""Index snapshots in PostgreSQL (schema v6, ``0006_index_snapshots.sql``): one header row per
store and its bytes in chunks, replaced in one transaction and read in one snapshot."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from permsvc.store.common.snapshot_chunks import chunk_rows
from permsvc.store.protocol import IndexSnapshot

if TYPE_CHECKING:
    import asyncpg

    from permsvc.core.revision import Revision

__all__ = ("PostgresIndexSnapshotMixin",)

REVISION = "SELECT revision FROM index_snapshots WHERE store_id = $1"
HEAD = "SELECT revision, format, tuples, chunks FROM index_snapshots WHERE store_id = $1"
CHUNKS = "SELECT data FROM index_snapshot_chunks WHERE store_id = $1 ORDER BY seq"
UPSERT = (
    "INSERT INTO index_snapshots (store_id, revision, format, tuples, chunks, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (store_id) DO UPDATE SET "
    "revision = excluded.revision, format = excluded.format, tuples = excluded.tuples, "
    "chunks = excluded.chunks, created_at = excluded.created_at "
    "WHERE index_snapshots.revision < excluded.revision RETURNING 1"
)
DELETE_CHUNKS = "DELETE FROM index_snapshot_chunks WHERE store_id = $1"
INSERT_CHUNK = "INSERT INTO index_snapshot_chunks (store_id, seq, data) VALUES ($1, $2, $3)"
DELETE = "DELETE FROM index_snapshots WHERE store_id = $1"


class PostgresIndexSnapshotMixin:
    """:class:`~permsvc.store.protocol.IndexSnapshotStore`."""

    _pool: asyncpg.Pool

    async def read_index_snapshot(self, store_id: str, format: str) -> IndexSnapshot | None:
        async with (
            self._pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            head = await conn.fetchrow(HEAD, store_id)
            if head is None or head["format"] != format:
                return None
            chunks = [r[0] for r in await conn.fetch(CHUNKS, store_id)]
        if len(chunks) != head["chunks"]:
            return None
        return IndexSnapshot(
            revision=head["revision"], format=format, tuples=head["tuples"], data=b"".join(chunks)
        )

    async def index_snapshot_revision(self, store_id: str) -> Revision | None:
        revision = await self._pool.fetchval(REVISION, store_id)
        return None if revision is None else int(revision)

    async def write_index_snapshot(self, store_id: str, snapshot: IndexSnapshot) -> bool:
        chunks = chunk_rows(store_id, snapshot.data)
        async with self._pool.acquire() as conn, conn.transaction():
            # The upsert locks the header row: concurrent writers of one store queue here, and
            # the one that would not advance the revision writes nothing.
            written = await conn.fetchval(
                UPSERT,
                store_id,
                snapshot.revision,
                snapshot.format,
                snapshot.tuples,
                len(chunks),
                dt.datetime.now(dt.UTC),
            )
            if written is None:
                return False
            await conn.execute(DELETE_CHUNKS, store_id)
            await conn.executemany(INSERT_CHUNK, chunks)
        return True

    async def delete_index_snapshot(self, store_id: str) -> None:
        await self._pool.execute(DELETE, store_id)
