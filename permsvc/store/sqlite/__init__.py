"""SQLite backend: the embedded, zero-setup default."""

from permsvc.store.sqlite import faults as faults  # registers the driver's outage errors
from permsvc.store.sqlite.store import SqliteDatastore

__all__ = ("SqliteDatastore",)
