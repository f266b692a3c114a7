"""API keys and the audit log in SQLite (schema v2, ``0002_keys_audit.sql``).

:class:`SqliteKeysAuditMixin` is inherited by :class:`~permsvc.store.sqlite.SqliteDatastore` and
uses its writer thread (``_transaction``: one ``BEGIN IMMEDIATE`` per call) and reader thread.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from permsvc.store.common.audit_paging import (
    audit_filter_terms,
    audit_insert_values,
    audit_page,
    decode_audit_token,
)
from permsvc.store.errors import CollisionError
from permsvc.store.protocol import ApiKeyRecord, AuditEntry, AuditFilter, AuditRecord, Page
from permsvc.store.rows import from_micros, to_micros

__all__ = ("SqliteKeysAuditMixin", "insert_audit_row")

T = TypeVar("T")

_KEY_COLUMNS = "id, hashed_secret, scope, store_id, name, created_at, revoked_at"
INSERT_KEY = f"INSERT INTO api_keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
GET_KEY = f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = ?"
LIST_KEYS = f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
LIST_LIVE_KEYS = (
    f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at, id"
)
REVOKE_KEY = "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
INSERT_AUDIT = (
    "INSERT INTO audit_log (store_id, at, actor, actor_kind, action, detail, request_id, revision) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
READ_AUDIT_HEAD = "SELECT id, store_id, at, actor, actor_kind, action, detail, request_id, revision FROM audit_log WHERE id < ?"
_AUDIT_CONDITIONS = {
    "store_id": " AND store_id = ?",
    "actor": " AND actor = ?",
    "action": " AND action = ?",
    "since": " AND at >= ?",
    "until": " AND at <= ?",
    "revision": " AND revision = ?",
}
READ_AUDIT_TAIL = " ORDER BY id DESC LIMIT ?"
_NO_UPPER_BOUND = 2**63 - 1

_detail_decoder = msgspec.json.Decoder(dict[str, Any])


def _record(row: tuple[Any, ...]) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row[0],
        hashed_secret=row[1],
        scope=row[2],
        store_id=row[3],
        name=row[4],
        created_at=from_micros(row[5]),
        revoked_at=None if row[6] is None else from_micros(row[6]),
    )


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    return AuditEntry(
        id=row[0],
        store_id=row[1],
        at=from_micros(row[2]),
        actor=row[3],
        actor_kind=row[4],
        action=row[5],
        detail=_detail_decoder.decode(row[6]),
        request_id=row[7],
        revision=row[8],
    )


def _audit_values(entry: AuditEntry) -> tuple[Any, ...]:
    return audit_insert_values(entry, to_micros(entry.at))


def insert_audit_row(
    conn: sqlite3.Connection, store_id: str, audit: AuditRecord | None, revision: int, changed: int
) -> int | None:
    """Insert the row of a tuple write inside that write's open transaction; its id."""
    if audit is None:
        return None
    entry = audit.entry(store_id, revision=revision, changed=changed)
    return int(conn.execute(INSERT_AUDIT, _audit_values(entry)).lastrowid or 0)


def audit_query(flt: AuditFilter) -> tuple[str, list[Any]]:
    """The filtered audit query: fixed SQL fragments, values only as parameters."""
    sql, params = READ_AUDIT_HEAD, []
    for field, value in audit_filter_terms(flt):
        sql += _AUDIT_CONDITIONS[field]
        params.append(to_micros(value) if field in ("since", "until") else value)
    return sql + READ_AUDIT_TAIL, params


class SqliteKeysAuditMixin:
    """:class:`~permsvc.store.protocol.ApiKeyStore` and :class:`~permsvc.store.protocol.AuditLog`."""

    _transaction: Callable[..., Any]
    _on_reader: Callable[..., Any]

    async def create_api_key(self, record: ApiKeyRecord) -> None:
        values = (
            record.id,
            record.hashed_secret,
            record.scope,
            record.store_id,
            record.name,
            to_micros(record.created_at),
            None if record.revoked_at is None else to_micros(record.revoked_at),
        )

        def run(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(INSERT_KEY, values)
            except sqlite3.IntegrityError as err:
                raise CollisionError(f"an API key with id '{record.id}' exists") from err

        await self._transaction(run)

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        def run(conn: sqlite3.Connection) -> ApiKeyRecord | None:
            row = conn.execute(GET_KEY, (key_id,)).fetchone()
            return None if row is None else _record(row)

        result: ApiKeyRecord | None = await self._on_reader(run)
        return result

    async def list_api_keys(self, *, include_revoked: bool = False) -> list[ApiKeyRecord]:
        sql = LIST_KEYS if include_revoked else LIST_LIVE_KEYS
        result: list[ApiKeyRecord] = await self._on_reader(
            lambda conn: [_record(r) for r in conn.execute(sql).fetchall()]
        )
        return result

    async def revoke_api_key(self, key_id: str) -> ApiKeyRecord | None:
        def run(conn: sqlite3.Connection) -> ApiKeyRecord | None:
            conn.execute(REVOKE_KEY, (time.time_ns() // 1000, key_id))
            row = conn.execute(GET_KEY, (key_id,)).fetchone()
            return None if row is None else _record(row)

        result: ApiKeyRecord | None = await self._transaction(run)
        return result

    async def append_audit(self, entry: AuditEntry) -> int:
        values = _audit_values(entry)
        result: int = await self._transaction(
            lambda conn: int(conn.execute(INSERT_AUDIT, values).lastrowid)
        )
        return result

    async def read_audit(
        self, filter: AuditFilter, *, page_size: int, continuation_token: str = ""
    ) -> Page[AuditEntry]:
        before = decode_audit_token(filter, continuation_token)
        sql, params = audit_query(filter)
        args = (_NO_UPPER_BOUND if before is None else before, *params, page_size + 1)
        rows: list[tuple[Any, ...]] = await self._on_reader(
            lambda conn: conn.execute(sql, args).fetchall()
        )
        return audit_page(filter, [_entry(r) for r in rows], page_size)
