"""``permsvc migrate``: apply pending database migrations, then exit.

The database is chosen like ``permsvc serve`` chooses it: ``--database-url`` or
``PERMSVC_DATABASE_URL`` (``postgresql://...``, ``sqlite:///file.db``), else the SQLite file in
``--data-dir`` / ``PERMSVC_DATA_DIR`` (default ``./.permsvc``). Safe to run while other processes
migrate or serve the same database: each migration is applied exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from permsvc.cli.database import add_database_options, database_of
from permsvc.cli.subcommand import add_command
from permsvc.store.factory import migrate_database

__all__ = ("register",)


def _run(args: argparse.Namespace) -> int:
    database = database_of(args)
    report = asyncio.run(migrate_database(database.url, data_dir=database.data_dir))
    if report.applied:
        versions = ", ".join(f"{v:04d}" for v in report.applied)
        print(
            f"{report.backend} {report.target}: applied {versions}; schema version {report.version}"
        )
    else:
        print(f"{report.backend} {report.target}: schema version {report.version} is current")
    return 0


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers, "migrate", help="apply pending database migrations", doc=__doc__
    )
    add_database_options(parser)
    parser.set_defaults(func=_run)
