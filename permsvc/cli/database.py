"""The database a command works on: one option definition shared by ``serve``, ``migrate``,
``check`` and every ``admin`` command, so the CLI and the server always agree.

``--database-url`` wins, then ``PERMSVC_DATABASE_URL``, else the embedded SQLite file in
``--data-dir`` / ``PERMSVC_DATA_DIR`` (default ``./.permsvc``): resolved by
:meth:`permsvc.settings.Settings.from_env`, exactly as ``permsvc serve`` resolves it.
Commands that change the database say which one they changed (:func:`describe`, the URL without
its password), and say so louder when it is the default SQLite file nobody named: a server on
PostgreSQL never sees what was written there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import msgspec

from permsvc.settings import Settings

__all__ = ("Database", "add_database_options", "database_of")

DATABASE_URL_HELP = (
    "postgresql://..., sqlite:///file.db or memory: (PERMSVC_DATABASE_URL; default: SQLite in the "
    "data dir)"
)
DATA_DIR_HELP = "directory of the embedded database (PERMSVC_DATA_DIR, default ./.permsvc)"


class Database(msgspec.Struct, frozen=True, kw_only=True):
    """The database a command was pointed at."""

    url: str | None
    """The URL, or ``None`` for the SQLite file in ``data_dir``."""
    data_dir: Path
    named: bool
    """Whether the user named it (option or environment) rather than getting the default."""

    def describe(self) -> str:
        """``postgresql://user@host:5432/db`` (no password), ``sqlite:///path`` or ``memory:``."""
        from permsvc.store.factory import describe_database  # keeps --help light

        return describe_database(self.url, data_dir=self.data_dir)

    def wrote_to(self) -> str:
        """The line a changing command prints on stderr."""
        line = f"database: {self.describe()}"
        if not self.named:
            line += (
                " (the default: neither --database-url nor PERMSVC_DATABASE_URL is set; a server "
                "running on another database will not see this change)"
            )
        return line


def add_database_options(parser: argparse.ArgumentParser) -> None:
    """``--database-url`` and ``--data-dir``, as every command that opens the database takes them."""
    parser.add_argument("--database-url", help=DATABASE_URL_HELP)
    parser.add_argument("--data-dir", help=DATA_DIR_HELP)


def database_of(args: argparse.Namespace) -> Database:
    """The database the options (then the environment, then the default) name."""
    from permsvc.store.factory import sqlite_path  # keeps --help light

    settings = Settings.from_env(
        database_url=getattr(args, "database_url", None), data_dir=getattr(args, "data_dir", None)
    )
    url = settings.database_url or None
    data_dir = Path(settings.data_dir)
    sqlite_path(url, data_dir=data_dir)  # refuse a malformed sqlite: URL before anything runs
    return Database(url=url, data_dir=data_dir, named=url is not None)
