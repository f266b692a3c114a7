"""Per-store claim specs in SQLite (schema v3, ``0003_claim_specs.sql``).

:class:`SqliteClaimSpecMixin` is inherited by :class:`~permsvc.store.sqlite.SqliteDatastore` and
uses its writer thread (``_transaction``) and reader thread (``_on_reader``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

from permsvc.store.protocol import StoredClaimSpec
from permsvc.store.rows import from_micros

__all__ = ("SqliteClaimSpecMixin",)

UPSERT_SPEC = (
    "INSERT INTO claim_specs (store_id, document, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (store_id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at"
)
GET_SPEC = "SELECT store_id, document, updated_at FROM claim_specs WHERE store_id = ?"
DELETE_SPEC = "DELETE FROM claim_specs WHERE store_id = ?"


def _spec(row: tuple[Any, ...]) -> StoredClaimSpec:
    return StoredClaimSpec(store_id=row[0], document=row[1], updated_at=from_micros(row[2]))


class SqliteClaimSpecMixin:
    """:class:`~permsvc.store.protocol.ClaimSpecStore`."""

    _transaction: Callable[..., Any]
    _on_reader: Callable[..., Any]

    async def put_claim_spec(self, store_id: str, document: str) -> StoredClaimSpec:
        def run(conn: sqlite3.Connection) -> StoredClaimSpec:
            conn.execute(UPSERT_SPEC, (store_id, document, time.time_ns() // 1000))
            return _spec(conn.execute(GET_SPEC, (store_id,)).fetchone())

        result: StoredClaimSpec = await self._transaction(run)
        return result

    async def get_claim_spec(self, store_id: str) -> StoredClaimSpec | None:
        def run(conn: sqlite3.Connection) -> StoredClaimSpec | None:
            row = conn.execute(GET_SPEC, (store_id,)).fetchone()
            return None if row is None else _spec(row)

        result: StoredClaimSpec | None = await self._on_reader(run)
        return result

    async def delete_claim_spec(self, store_id: str) -> bool:
        result: bool = await self._transaction(
            lambda conn: conn.execute(DELETE_SPEC, (store_id,)).rowcount > 0
        )
        return result
