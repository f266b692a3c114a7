"""``permsvc migrate``: apply pending database migrations, then exit.

The database is chosen like ``permsvc serve`` chooses it: ``--database-url`` or
``PERMSVC_DATABASE_URL`` (``postgresql://...``, ``sqlite:///file.db``), else the SQLite file in
``--data-dir`` / ``PERMSVC_DATA_DIR`` (default ``./.permsvc``). Safe to run while other processes
migrate or serve the same database: each migration is applied exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

from permsvc.store.factory import default_data_dir, migrate_database

__all__ = ("register",)


def _run(args: argparse.Namespace) -> int:
    url = args.database_url or os.environ.get("PERMSVC_DATABASE_URL") or None
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    report = asyncio.run(migrate_database(url, data_dir=data_dir))
    if report.applied:
        versions = ", ".join(f"{v:04d}" for v in report.applied)
        print(
            f"{report.backend} {report.target}: applied {versions}; schema version {report.version}"
        )
    else:
        print(f"{report.backend} {report.target}: schema version {report.version} is current")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "migrate",
        help="apply pending database migrations",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--database-url",
        help="postgresql://... or sqlite:///file.db (PERMSVC_DATABASE_URL; default SQLite in the data dir)",
    )
    parser.add_argument(
        "--data-dir",
        help="directory of the embedded database (PERMSVC_DATA_DIR, default ./.permsvc)",
    )
    parser.set_defaults(func=_run)
