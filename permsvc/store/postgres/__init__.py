"""PostgreSQL backend: the production store (asyncpg)."""

from permsvc.store.postgres import faults as faults  # registers the driver's outage errors
from permsvc.store.postgres.store import PostgresDatastore

__all__ = ("PostgresDatastore",)
