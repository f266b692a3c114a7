"""Applies the PostgreSQL migrations (``permsvc/store/postgres/migrations/*.sql``).

The whole run is one transaction holding a transaction-level advisory lock on a fixed key
(``pg_advisory_xact_lock``), so of several processes starting together (replicas running
``permsvc serve``, or ``permsvc migrate`` twice) one applies the pending migrations and the others
wait, then find nothing left to do. Every migration commits together with its
``schema_migrations`` row, and the run is applied entirely or not at all. Nothing outlives the
transaction (no session-level lock), so migrating works through a transaction-pooling PgBouncer,
which may hand each transaction of one client connection to a different server connection.
"""

from __future__ import annotations

from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from permsvc.store.errors import StorageUnavailableError
from permsvc.store.migrations import MigrationError, load_migrations
from permsvc.store.postgres import queries as q
from permsvc.store.postgres.connect import connect_options

__all__ = ("Connection", "migrate", "migrate_url", "schema_versions")

Connection: TypeAlias = "asyncpg.Connection | PoolConnectionProxy"
"""A dedicated connection or one borrowed from the pool."""


async def schema_versions(conn: Connection) -> tuple[int, int]:
    """``(applied, latest)``: the highest applied version (0 for none) and the newest one shipped."""
    latest = max((m.version for m in load_migrations("postgres")), default=0)
    if not await conn.fetchval(q.MIGRATIONS_TABLE_EXISTS):
        return 0, latest
    applied = await conn.fetchval(q.SCHEMA_VERSION)
    return int(applied or 0), latest


async def migrate(conn: Connection) -> list[int]:
    """Apply pending migrations over ``conn``; returns the versions applied by this call.

    Raises:
        MigrationError: the database was migrated by a newer permsvc.
    """
    migrations = load_migrations("postgres")
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", q.MIGRATION_LOCK_KEY)
        await conn.execute(q.CREATE_MIGRATIONS_TABLE)
        done = {r[0] for r in await conn.fetch(q.APPLIED_VERSIONS)}
        applied_here: list[int] = []
        for migration in migrations:
            if migration.version in done:
                continue
            await conn.execute(migration.sql)
            await conn.execute(q.RECORD_MIGRATION, migration.version, migration.name)
            applied_here.append(migration.version)
        applied, latest = await schema_versions(conn)
    if applied > latest:
        raise MigrationError(
            f"the database schema is at version {applied}, newer than this permsvc knows ({latest}): upgrade permsvc"
        )
    return applied_here


async def migrate_url(url: str) -> tuple[list[int], int]:
    """Connect to ``url``, migrate, disconnect; returns ``(versions applied here, current version)``.

    No prepared statement outlives its transaction (the statement cache is off), so ``url`` may
    go through a transaction-pooling PgBouncer; a multi-host URL migrates the primary."""
    try:
        conn = await asyncpg.connect(url, statement_cache_size=0, **connect_options(url))
    except (OSError, asyncpg.PostgresError) as err:
        raise StorageUnavailableError(f"cannot connect to PostgreSQL: {err}") from err
    try:
        applied = await migrate(conn)
        async with conn.transaction():
            version, _ = await schema_versions(conn)
    finally:
        await conn.close()
    return applied, version
