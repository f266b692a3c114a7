"""Tuple writes with ``audit=``: the audit row commits in the write's own transaction.

Per backend, a rejected audit row leaves the tuple change un-applied and the revision unchanged
(memory: the append raises; SQLite: a trigger aborts the insert; PostgreSQL: ``jsonb`` refuses a
NUL character in the detail), and a committed row carries exactly the write's revision.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from permsvc.store.memory import MemoryDatastore
from permsvc.store.protocol import AuditFilter, AuditRecord, Datastore, ReadFilter, WriteResult
from permsvc.store.sqlite import SqliteDatastore
from tests.store.helpers import t

pytestmark = pytest.mark.backends("memory", "sqlite", "postgres")
"""The backends that append audit rows themselves (their internals are rejected here); the
index hands ``audit=`` through to its database (tests/store/test_capabilities.py)."""

_AT = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)

Operation = Callable[[Any, str, AuditRecord], Awaitable[WriteResult]]


def _record(**detail: Any) -> AuditRecord:
    return AuditRecord(
        at=_AT,
        actor="user:auditor",
        actor_kind="user_token",
        action="grant",
        detail={"note": "test", **detail},
        request_id="req-1",
    )


async def _grant(ds: Any, store_id: str, audit: AuditRecord) -> WriteResult:
    return await ds.write(store_id, writes=[t("doc:new#viewer@user:bob")], audit=audit)


async def _revoke_and_grant(ds: Any, store_id: str, audit: AuditRecord) -> WriteResult:
    return await ds.write(
        store_id,
        deletes=[t("doc:seed#viewer@user:anne")],
        writes=[t("doc:new#viewer@user:bob")],
        audit=audit,
    )


async def _import(ds: Any, store_id: str, audit: AuditRecord) -> WriteResult:
    keys = [t(f"doc:new{i}#viewer@user:bob") for i in range(3)]
    return await ds.bulk_write(store_id, keys, audit=audit)


async def _delete_by_filter(ds: Any, store_id: str, audit: AuditRecord) -> WriteResult:
    return await ds.bulk_delete(store_id, ReadFilter(user="user:anne"), audit=audit)


_OPERATIONS = [
    pytest.param(_grant, 1, id="write"),
    pytest.param(_revoke_and_grant, 2, id="write_with_deletes"),
    pytest.param(_import, 3, id="bulk_write"),
    pytest.param(_delete_by_filter, 1, id="bulk_delete"),
]


async def _seeded(datastore: Datastore) -> tuple[str, int]:
    store = await datastore.create_store("audited")
    result = await datastore.write(store.id, writes=[t("doc:seed#viewer@user:anne")])
    return store.id, result.revision


async def _rejecting_audit(
    datastore: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[AuditRecord, type[BaseException]]:
    """An audit row this backend will fail to insert, and the error the write then raises."""
    if isinstance(datastore, MemoryDatastore):

        def refuse(entry: Any) -> int:
            raise RuntimeError("audit log unavailable")

        monkeypatch.setattr(datastore, "_append_audit_row", refuse)
        return _record(), RuntimeError
    if isinstance(datastore, SqliteDatastore):
        await datastore._on_writer(
            lambda conn: conn.execute(
                "CREATE TEMP TRIGGER refuse_audit BEFORE INSERT ON main.audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit rejected'); END"
            )
        )
        return _record(), sqlite3.IntegrityError
    return _record(bad="nul \x00 character"), asyncpg.PostgresError


async def _audit_rows(datastore: Any, store_id: str) -> list[Any]:
    page = await datastore.read_audit(AuditFilter(store_id=store_id), page_size=100)
    return page.items


@pytest.mark.parametrize(("operation", "changed"), _OPERATIONS)
async def test_a_rejected_audit_row_rolls_the_change_back(
    datastore: Any, monkeypatch: pytest.MonkeyPatch, operation: Operation, changed: int
) -> None:
    store_id, head = await _seeded(datastore)
    before = await datastore.changes_since(store_id, 0, limit=1000)
    audit, error = await _rejecting_audit(datastore, monkeypatch)
    with pytest.raises(error):
        await operation(datastore, store_id, audit)
    assert await datastore.head_revision(store_id) == head
    assert await datastore.changes_since(store_id, 0, limit=1000) == before
    assert await datastore.read_user_tuple(store_id, "doc:new", "viewer", "user:bob") is None
    assert await datastore.read_user_tuple(store_id, "doc:seed", "viewer", "user:anne") == t(
        "doc:seed#viewer@user:anne"
    )
    assert await _audit_rows(datastore, store_id) == []


@pytest.mark.parametrize(("operation", "changed"), _OPERATIONS)
async def test_a_committed_audit_row_carries_the_write_revision(
    datastore: Any, operation: Operation, changed: int
) -> None:
    store_id, head = await _seeded(datastore)
    result = await operation(datastore, store_id, _record())
    assert (result.revision, result.changed) == (head + 1, changed)
    [row] = await _audit_rows(datastore, store_id)
    assert row.id == result.audit_id
    assert (row.store_id, row.revision, row.at) == (store_id, result.revision, _AT)
    assert (row.actor, row.actor_kind, row.action, row.request_id) == (
        "user:auditor",
        "user_token",
        "grant",
        "req-1",
    )
    assert row.detail == {"note": "test", "changed": changed}
    by_revision = await datastore.read_audit(
        AuditFilter(store_id=store_id, revision=result.revision), page_size=10
    )
    assert [r.id for r in by_revision.items] == [result.audit_id]


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(
            lambda ds, s, a: ds.write(
                s, writes=[t("doc:seed#viewer@user:anne")], on_duplicate="ignore", audit=a
            ),
            id="write_of_a_stored_tuple",
        ),
        pytest.param(
            lambda ds, s, a: ds.bulk_write(s, [t("doc:seed#viewer@user:anne")], audit=a),
            id="bulk_write_of_a_stored_tuple",
        ),
        pytest.param(
            lambda ds, s, a: ds.bulk_delete(s, ReadFilter(user="user:nobody"), audit=a),
            id="bulk_delete_matching_nothing",
        ),
    ],
)
async def test_a_write_that_changes_nothing_is_still_audited(
    datastore: Any, operation: Operation
) -> None:
    store_id, head = await _seeded(datastore)
    result = await operation(datastore, store_id, _record())
    assert (result.revision, result.changed) == (head, 0)
    [row] = await _audit_rows(datastore, store_id)
    assert (row.id, row.revision, row.detail["changed"]) == (result.audit_id, head, 0)


async def test_without_audit_no_row_is_written(datastore: Any) -> None:
    store_id, _ = await _seeded(datastore)
    result = await datastore.write(store_id, writes=[t("doc:x#viewer@user:bob")])
    assert result.audit_id is None
    assert await _audit_rows(datastore, store_id) == []


async def test_the_count_goes_under_the_record_count_key(datastore: Any) -> None:
    store_id, _ = await _seeded(datastore)
    audit = AuditRecord(
        at=_AT, actor="cli", actor_kind="cli", action="import", count_key="imported"
    )
    result = await datastore.bulk_write(
        store_id, [t("doc:a#viewer@user:bob"), t("doc:b#viewer@user:bob")], audit=audit
    )
    [row] = await _audit_rows(datastore, store_id)
    assert row.detail == {"imported": 2} and row.revision == result.revision


def test_every_backend_declares_audited_writes(datastore: Any) -> None:
    assert getattr(datastore, "audited_writes", False) is True
