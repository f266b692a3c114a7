"""Which :mod:`sqlite3` exceptions are database faults (503 + ``Retry-After``), registered on import.

``OperationalError`` is what SQLite reports when it cannot serve: the file is locked past the busy
timeout, cannot be opened, the disk is full or failing. ``InterfaceError`` is a closed or unusable
connection. Plain ``DatabaseError`` (a corrupt file: "file is not a database", "database disk image
is malformed") is matched exactly; its other subclasses (``IntegrityError``, ``ProgrammingError``,
``DataError``, ``NotSupportedError``) mean a bug and stay 500.
"""

from __future__ import annotations

import sqlite3

from permsvc.store.errors import DatabaseFault

__all__ = ("SQLITE_FAULTS",)


class _CorruptDatabase(DatabaseFault):
    """``sqlite3.DatabaseError`` itself, not its bug-signalling subclasses."""

    @classmethod
    def __subclasshook__(cls, candidate: type) -> bool:
        return True if candidate is sqlite3.DatabaseError else NotImplemented


SQLITE_FAULTS: tuple[type[BaseException], ...] = (sqlite3.OperationalError, sqlite3.InterfaceError)

for _fault in SQLITE_FAULTS:
    DatabaseFault.register(_fault)
