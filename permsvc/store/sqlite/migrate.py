"""Applies the SQLite migrations (``permsvc/store/sqlite/migrations/*.sql``).

Each migration runs in its own ``BEGIN IMMEDIATE`` transaction, which takes the database's write
lock before reading ``schema_migrations``: of two processes migrating one file at once, the second
waits (``busy_timeout``), then sees the version recorded and skips it.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from permsvc.store.errors import StorageUnavailableError
from permsvc.store.migrations import MigrationError, load_migrations, split_sqlite_script

__all__ = ("enable_wal", "migrate", "migrate_path", "schema_versions")

_CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
)


def schema_versions(conn: sqlite3.Connection) -> tuple[int, int]:
    """``(applied, latest)``: the highest applied version (0 for none) and the newest one shipped."""
    latest = max((m.version for m in load_migrations("sqlite")), default=0)
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if exists is None:
        return 0, latest
    (applied,) = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(applied), latest


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Apply pending migrations on ``conn`` (autocommit mode); returns the versions applied here.

    Raises:
        MigrationError: the database was migrated by a newer permsvc.
    """
    migrations = load_migrations("sqlite")
    # A write transaction from the start (as each migration below): a statement that reads before
    # it writes, in autocommit, gets "database is locked" at once, without waiting, when another
    # migrator committed in between (WAL's stale snapshot).
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_CREATE_TABLE)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    applied_here: list[int] = []
    for migration in migrations:
        conn.execute("BEGIN IMMEDIATE")
        try:
            done = conn.execute(
                "SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)
            ).fetchone()
            if done is None:
                for statement in split_sqlite_script(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, time.time_ns() // 1000),
                )
                applied_here.append(migration.version)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    applied, latest = schema_versions(conn)
    if applied > latest:
        raise MigrationError(
            f"the database schema is at version {applied}, newer than this permsvc knows ({latest}): upgrade permsvc"
        )
    return applied_here


_BUSY_TIMEOUT_S = 30.0


def enable_wal(conn: sqlite3.Connection, timeout_s: float = _BUSY_TIMEOUT_S) -> None:
    """``PRAGMA journal_mode=WAL``, waiting for other connections as ``busy_timeout`` does.

    Switching a new file to WAL needs an exclusive lock, and SQLite answers "database is locked"
    at once, without its busy handler, when two connections race for it (its deadlock
    avoidance): two processes opening or migrating the same new file would fail instead of
    taking turns. Every SQLite connection permsvc opens goes through here.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def migrate_path(path: Path) -> tuple[list[int], int]:
    """Open (creating) the file at ``path``, migrate, close; returns ``(versions applied here,
    current version)``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=_BUSY_TIMEOUT_S)
        try:
            enable_wal(conn)
            applied = migrate(conn)
            version, _ = schema_versions(conn)
        finally:
            conn.close()
    except sqlite3.Error as err:
        raise StorageUnavailableError(f"cannot migrate the SQLite database {path}: {err}") from err
    return applied, version
