"""``permsvc snapshot-index``: write the index snapshot of every store that needs one, then exit.

A server worker starts a store's in-memory index from the store's snapshot in the database and
replays only the changes made after it; it writes a snapshot itself when it had to build a big
store from its tuples or replay many changes (see docs/consistency.md, "Start-up from a
snapshot"), but never while serving. Run this command periodically (a cron job or a Kubernetes
CronJob next to the servers) to keep snapshots recent on a fleet that rarely restarts: it indexes
every store as a worker would (from its current snapshot plus the changelog, or from its tuples)
and writes a new snapshot for each store of at least ``--min-tuples`` tuples whose snapshot is
older than its head. Safe to run while servers run: the latest revision wins.

The database is chosen like ``permsvc serve`` chooses it (``--database-url`` or
``PERMSVC_DATABASE_URL``, else the SQLite file in ``--data-dir``).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from permsvc.cli.database import add_database_options, database_of
from permsvc.cli.subcommand import add_command

__all__ = ("register",)

_NEVER = 1 << 62


async def _snapshot(args: argparse.Namespace) -> int:
    from permsvc.store.factory import open_datastore
    from permsvc.store.index import IndexedDatastore

    database = database_of(args)
    datastore = await open_datastore(database.url, data_dir=database.data_dir)
    # Writes no snapshot while starting: this command writes them below, and says so.
    indexed = IndexedDatastore(
        datastore, memory_budget=args.memory_budget, snapshot_min_tuples=_NEVER
    )
    try:
        await indexed.start()
        await indexed.stop_following()
        token = ""
        while True:
            page = await datastore.list_stores(page_size=100, continuation_token=token)
            for info in page.items:
                if args.store and info.id not in args.store:
                    continue
                index = indexed.index_of(info.id)
                if index is None:
                    print(f"{info.id}: not indexed ({indexed.mode(info.id)}), no snapshot")
                    continue
                if index.count < args.min_tuples and not args.store:
                    continue
                written = await indexed.write_snapshot(info.id)
                state = "written" if written else "current"
                print(f"{info.id}: {state} at revision {index.revision} ({index.count} tuples)")
            token = page.continuation_token
            if not token:
                return 0
    finally:
        await indexed.aclose()


def _run(args: argparse.Namespace) -> int:
    return asyncio.run(_snapshot(args))


def register(subparsers: Any) -> None:
    from permsvc.settings import DEFAULT_INDEX_MEMORY_BUDGET
    from permsvc.store.index.datastore import SNAPSHOT_MIN_TUPLES

    parser = add_command(
        subparsers,
        "snapshot-index",
        help="write the in-memory index snapshots servers start from",
        doc=__doc__,
    )
    add_database_options(parser)
    parser.add_argument(
        "--store", action="append", help="only this store (repeatable; any size)", default=[]
    )
    parser.add_argument(
        "--min-tuples",
        type=int,
        default=SNAPSHOT_MIN_TUPLES,
        help=f"smallest store to snapshot (default {SNAPSHOT_MIN_TUPLES})",
    )
    parser.add_argument(
        "--memory-budget",
        type=int,
        default=DEFAULT_INDEX_MEMORY_BUDGET,
        help="bytes the indexes may take while snapshotting (default: the server's default)",
    )
    parser.set_defaults(func=_run)
