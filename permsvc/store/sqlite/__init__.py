"""SQLite backend: the embedded, zero-setup default."""

from permsvc.store.sqlite.store import SqliteDatastore

__all__ = ("SqliteDatastore",)
