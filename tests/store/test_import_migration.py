"""Migration 0005 (compact import changelog, user-first reverse index) over a database that holds
data written by schema version 4: its changelog reads as before, and new imports, deletions of old
and new tuples, and reverse reads work over the migrated rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
import pytest

from permsvc.store.migrations import load_migrations, split_sqlite_script
from permsvc.store.postgres import PostgresDatastore
from permsvc.store.protocol import Datastore, StartingWithUser
from permsvc.store.sqlite import SqliteDatastore
from tests.pg import empty_database_url
from tests.store.helpers import t

STORE = "01JDZ00000000000000000000S"
# Version-4 rows: revision 1 wrote three tuples (as an import did then: a changelog row each),
# revision 2 deleted one of them.
OLD_TUPLES = [
    ("doc", "1", "viewer", "user", "anne", "", 1, 1),
    ("doc", "2", "viewer", "user", "anne", "", 1, 3),
]
OLD_CHANGES = [
    (1, 1, "write", "doc", "1", "viewer", "user", "anne", ""),
    (1, 2, "write", "doc", "1", "viewer", "user", "bob", ""),
    (1, 3, "write", "doc", "2", "viewer", "user", "anne", ""),
    (2, 1, "delete", "doc", "1", "viewer", "user", "bob", ""),
]
EXPECTED_OLD = [
    (1, "write", "doc:1#viewer@user:anne"),
    (1, "write", "doc:1#viewer@user:bob"),
    (1, "write", "doc:2#viewer@user:anne"),
    (2, "delete", "doc:1#viewer@user:bob"),
]


def _version_4(backend: str) -> list[tuple[int, str, str]]:
    return [(m.version, m.name, m.sql) for m in load_migrations(backend) if m.version <= 4]


async def _changes(datastore: Datastore, page_size: int) -> list[tuple[int, str, str]]:
    out, token = [], ""
    while True:
        page = await datastore.read_changes(STORE, page_size=page_size, continuation_token=token)
        if not page.items:
            return out
        out.extend((c.revision, c.operation, str(c.key)) for c in page.items)
        token = page.continuation_token


async def _check_migrated(datastore: Datastore) -> None:
    for page_size in (1, 2, 10):
        assert await _changes(datastore, page_size) == EXPECTED_OLD
    result = await datastore.bulk_write(
        STORE, [t("doc:3#viewer@user:anne"), t("doc:0#owner@user:cy")]
    )
    assert result.revision == 3
    await datastore.write(STORE, deletes=[t("doc:1#viewer@user:anne"), t("doc:3#viewer@user:anne")])
    expected = EXPECTED_OLD + [
        (3, "write", "doc:0#owner@user:cy"),
        (3, "write", "doc:3#viewer@user:anne"),
        (4, "delete", "doc:1#viewer@user:anne"),
        (4, "delete", "doc:3#viewer@user:anne"),
    ]
    for page_size in (1, 3, 10):
        assert await _changes(datastore, page_size) == expected
    assert [
        (c.revision, c.operation, str(c.key))
        for c in await datastore.changes_since(STORE, 0, limit=100)
    ] == expected
    found = await datastore.read_starting_with_user(
        STORE, StartingWithUser(object_type="doc", relation="viewer", users=["user:anne"])
    )
    assert [str(k) for k in found] == ["doc:2#viewer@user:anne"]


async def test_sqlite_data_of_version_4_migrates(tmp_path: Path) -> None:
    path = tmp_path / "v4.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "applied_at INTEGER NOT NULL)"
    )
    for version, name, sql in _version_4("sqlite"):
        for statement in split_sqlite_script(sql):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (version, name))
    conn.execute("INSERT INTO stores VALUES (?, 's', 0, 0, NULL)", (STORE,))
    conn.execute("INSERT INTO store_revisions VALUES (?, 2)", (STORE,))
    conn.executemany("INSERT INTO revision_log VALUES (?, ?, 0)", [(STORE, 1), (STORE, 2)])
    conn.executemany(
        "INSERT INTO tuples (seq, store_id, object_type, object_id, relation, user_type, user_id, "
        "user_relation, revision, inserted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
        [(seq, STORE, *row) for *row, seq in OLD_TUPLES],
    )
    conn.executemany(
        "INSERT INTO changelog (store_id, revision, seq, operation, object_type, object_id, relation, "
        "user_type, user_id, user_relation, committed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
        [(STORE, *row) for row in OLD_CHANGES],
    )
    conn.close()

    datastore = await SqliteDatastore.open(path)
    try:
        await _check_migrated(datastore)
    finally:
        await datastore.aclose()
    conn = sqlite3.connect(path)
    try:
        columns = [r[2] for r in conn.execute("PRAGMA index_info(tuples_reverse)")]
    finally:
        conn.close()
    assert columns[:4] == ["store_id", "user_type", "user_id", "user_relation"]


@pytest.mark.postgres
async def test_postgres_data_of_version_4_migrates() -> None:
    url = empty_database_url()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, name, sql in _version_4("postgres"):
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2)", version, name)
        await conn.execute("INSERT INTO stores VALUES ($1, 's', now(), now(), NULL)", STORE)
        await conn.execute("INSERT INTO store_revisions VALUES ($1, 2, 3)", STORE)
        await conn.executemany(
            "INSERT INTO revision_log VALUES ($1, $2, now())", [(STORE, 1), (STORE, 2)]
        )
        await conn.executemany(
            "INSERT INTO tuples (store_id, object_type, object_id, relation, user_type, user_id, "
            "user_relation, revision, seq, inserted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())",
            [(STORE, *row) for row in OLD_TUPLES],
        )
        await conn.executemany(
            "INSERT INTO changelog (store_id, revision, seq, operation, object_type, object_id, relation, "
            "user_type, user_id, user_relation, committed_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())",
            [(STORE, *row) for row in OLD_CHANGES],
        )
    finally:
        await conn.close()

    datastore = await PostgresDatastore.open(url)
    try:
        await _check_migrated(datastore)
        definition = await datastore.pool.fetchval(
            "SELECT pg_get_indexdef('tuples_reverse'::regclass)"
        )
    finally:
        await datastore.aclose()
    assert "(store_id, user_type, user_id, user_relation, object_type" in definition
