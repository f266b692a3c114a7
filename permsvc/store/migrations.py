"""Numbered SQL migrations shipped inside the package, shared by the SQL backends.

Each backend keeps its files in ``permsvc/store/<backend>/migrations/NNNN_description.sql`` (the
repository's top-level ``migrations/<backend>/`` holds links to them, so a normal install and an
editable one read the same files through :mod:`importlib.resources`). Migrations are forward-only;
each one is applied once, in its own transaction, and recorded in ``schema_migrations``.
"""

from __future__ import annotations

import re
import sqlite3
from importlib import resources

import msgspec

from permsvc.store.errors import StoreError

__all__ = ("Migration", "MigrationError", "load_migrations", "split_sqlite_script")

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(StoreError):
    """A migration file is malformed, or the database's schema is newer than this permsvc."""


class Migration(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    name: str
    sql: str


def load_migrations(backend: str) -> list[Migration]:
    """The migrations of ``backend`` (``"postgres"`` or ``"sqlite"``), ordered by version.

    Raises:
        MigrationError: two files share a version, or a ``.sql`` file is misnamed.
    """
    folder = resources.files(f"permsvc.store.{backend}").joinpath("migrations")
    found: dict[int, Migration] = {}
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise MigrationError(f"migration file '{entry.name}' is not named NNNN_description.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"two {backend} migrations share version {version}")
        found[version] = Migration(
            version=version, name=match.group(2), sql=entry.read_text(encoding="utf-8")
        )
    return [found[v] for v in sorted(found)]


def split_sqlite_script(sql: str) -> list[str]:
    """Split a script into complete statements (trigger bodies keep their inner semicolons).

    ``sqlite3.Connection.executescript`` commits before it runs, which would break the
    one-transaction-per-migration rule, so statements are executed one by one instead.
    """
    statements: list[str] = []
    pending = ""
    for line in sql.splitlines(keepends=True):
        if not pending and (not line.strip() or line.lstrip().startswith("--")):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise MigrationError("migration ends with an incomplete SQL statement")
    return statements
