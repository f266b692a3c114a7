"""API keys and the audit log in PostgreSQL (schema v2, ``0002_keys_audit.sql``).

:class:`PostgresKeysAuditMixin` is inherited by :class:`~permsvc.store.postgres.PostgresDatastore`
and uses its pool. ``audit_log.detail`` is ``jsonb``; it is sent and read as JSON text.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import asyncpg
import msgspec

from permsvc.store.common.audit_paging import (
    audit_filter_terms,
    audit_insert_values,
    audit_page,
    decode_audit_token,
)
from permsvc.store.errors import CollisionError
from permsvc.store.protocol import ApiKeyRecord, AuditEntry, AuditFilter, AuditRecord, Page

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ("PostgresKeysAuditMixin", "audit_row_values", "insert_audit_row")

_KEY_COLUMNS = "id, hashed_secret, scope, store_id, name, created_at, revoked_at"
INSERT_KEY = f"INSERT INTO api_keys ({_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
GET_KEY = f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = $1"
LIST_KEYS = f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
LIST_LIVE_KEYS = (
    f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at, id"
)
REVOKE_KEY = f"UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 RETURNING {_KEY_COLUMNS}"
INSERT_AUDIT = (
    "INSERT INTO audit_log (store_id, at, actor, actor_kind, action, detail, request_id, revision) "
    "VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8) RETURNING id"
)
READ_AUDIT_HEAD = (
    "SELECT id, store_id, at, actor, actor_kind, action, detail::text, request_id, revision "
    "FROM audit_log WHERE id < $1"
)
_AUDIT_CONDITIONS = {
    "store_id": " AND store_id = $",
    "actor": " AND actor = $",
    "action": " AND action = $",
    "since": " AND at >= $",
    "until": " AND at <= $",
    "revision": " AND revision = $",
}
_NO_UPPER_BOUND = 2**63 - 1

_detail_decoder = msgspec.json.Decoder(dict[str, Any])


def _record(row: Mapping[str, Any]) -> ApiKeyRecord:
    """A row of ``_KEY_COLUMNS``: its column names are the record's fields."""
    return ApiKeyRecord(**row)


def _entry(row: Mapping[str, Any]) -> AuditEntry:
    """A row of ``READ_AUDIT_HEAD``: its column names are the entry's fields (``detail`` as text)."""
    return AuditEntry(**{**row, "detail": _detail_decoder.decode(row["detail"])})


def _audit_query(flt: AuditFilter, before: int, limit: int) -> tuple[str, list[Any]]:
    """Fixed SQL fragments with numbered placeholders; values only as parameters."""
    sql, params = READ_AUDIT_HEAD, [before]
    for field, value in audit_filter_terms(flt):
        params.append(value)
        sql += f"{_AUDIT_CONDITIONS[field]}{len(params)}"
    params.append(limit)
    return f"{sql} ORDER BY id DESC LIMIT ${len(params)}", params


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


async def _insert_audit(conn: asyncpg.Connection | asyncpg.Pool, entry: AuditEntry) -> int:
    entry_id = await conn.fetchval(INSERT_AUDIT, *audit_insert_values(entry, _aware(entry.at)))
    return int(entry_id)


def audit_row_values(
    store_id: str, audit: AuditRecord, revision: int, changed: int
) -> tuple[Any, ...]:
    """The ``INSERT_AUDIT`` parameters of the row of a tuple write."""
    entry = audit.entry(store_id, revision=revision, changed=changed)
    return audit_insert_values(entry, _aware(entry.at))


async def insert_audit_row(
    conn: asyncpg.Connection, store_id: str, audit: AuditRecord | None, revision: int, changed: int
) -> int | None:
    """Insert the row of a tuple write inside that write's open transaction; its id."""
    if audit is None:
        return None
    entry_id = await conn.fetchval(
        INSERT_AUDIT, *audit_row_values(store_id, audit, revision, changed)
    )
    return int(entry_id)


class PostgresKeysAuditMixin:
    """:class:`~permsvc.store.protocol.ApiKeyStore` and :class:`~permsvc.store.protocol.AuditLog`."""

    _pool: asyncpg.Pool

    async def create_api_key(self, record: ApiKeyRecord) -> None:
        try:
            await self._pool.execute(
                INSERT_KEY,
                record.id,
                record.hashed_secret,
                record.scope,
                record.store_id,
                record.name,
                _aware(record.created_at),
                None if record.revoked_at is None else _aware(record.revoked_at),
            )
        except asyncpg.UniqueViolationError as err:
            raise CollisionError(f"an API key with id '{record.id}' exists") from err

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        row = await self._pool.fetchrow(GET_KEY, key_id)
        return None if row is None else _record(row)

    async def list_api_keys(self, *, include_revoked: bool = False) -> list[ApiKeyRecord]:
        rows = await self._pool.fetch(LIST_KEYS if include_revoked else LIST_LIVE_KEYS)
        return [_record(r) for r in rows]

    async def revoke_api_key(self, key_id: str) -> ApiKeyRecord | None:
        row = await self._pool.fetchrow(REVOKE_KEY, key_id)
        return None if row is None else _record(row)

    async def append_audit(self, entry: AuditEntry) -> int:
        return await _insert_audit(self._pool, entry)

    async def read_audit(
        self, filter: AuditFilter, *, page_size: int, continuation_token: str = ""
    ) -> Page[AuditEntry]:
        before = decode_audit_token(filter, continuation_token)
        sql, params = _audit_query(
            filter, _NO_UPPER_BOUND if before is None else before, page_size + 1
        )
        rows = await self._pool.fetch(sql, *params)
        return audit_page(filter, [_entry(r) for r in rows], page_size)
