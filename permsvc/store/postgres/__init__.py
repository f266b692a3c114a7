"""PostgreSQL backend: the production store (asyncpg)."""

from permsvc.store.postgres.store import PostgresDatastore

__all__ = ("PostgresDatastore",)
