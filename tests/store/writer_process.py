"""A separate writer process for the concurrency and crash tests (run as a script, not collected).

    python tests/store/writer_process.py URL STORE_ID PREFIX WRITES BATCH [--hang]

Opens the datastore ``URL`` (``postgresql://`` or ``sqlite:///``) and performs ``WRITES`` writes
of ``BATCH`` tuples each (``doc:<PREFIX>-<i>-<j>#viewer@user:<j>``), printing ``ack <revision> <i>``
on stdout, flushed, after each acknowledged write. ``WRITES`` = 0 writes until killed.

With ``--hang``, one more write follows that stops inside its transaction, after all of its
rows are written and just before ``COMMIT``: it prints ``inside <revision>`` and sleeps, so the
caller can kill the process at exactly that point.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from permsvc.core.refs import TupleKey
from permsvc.store.factory import open_datastore
from permsvc.store.postgres import PostgresDatastore
from permsvc.store.sqlite import SqliteDatastore

_HANG_S = 3600


def _hang_before_commit() -> None:
    original_commit = PostgresDatastore._commit_revision

    async def commit_then_hang(conn: Any, store_id: str, revision: int, *args: Any) -> None:
        await original_commit(conn, store_id, revision, *args)
        print(f"inside {revision}", flush=True)
        await asyncio.sleep(_HANG_S)

    PostgresDatastore._commit_revision = staticmethod(commit_then_hang)  # type: ignore[method-assign]
    original_apply = PostgresDatastore._apply_in_one_statement

    async def apply_then_hang(conn: Any, store_id: str, *args: Any) -> Any:
        """The write path's single statement (tuples, changelog, revision, notification)."""
        result = await original_apply(conn, store_id, *args)
        print(f"inside {args[2]}", flush=True)
        await asyncio.sleep(_HANG_S)
        return result

    PostgresDatastore._apply_in_one_statement = staticmethod(apply_then_hang)  # type: ignore[method-assign]

    async def transaction_then_hang(
        self: SqliteDatastore, fn: Callable[[sqlite3.Connection], Any]
    ) -> Any:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            result = fn(conn)
            print(f"inside {result.revision}", flush=True)
            time.sleep(_HANG_S)

        async with self._write_lock:
            return await self._on_writer(run)

    SqliteDatastore._transaction = transaction_then_hang  # type: ignore[method-assign]


async def main(url: str, store_id: str, prefix: str, writes: int, batch: int, hang: bool) -> None:
    datastore = await open_datastore(url, data_dir=Path("."), migrate=False)
    try:
        i = 0
        while writes == 0 or i < writes + (1 if hang else 0):
            if hang and i == writes:
                _hang_before_commit()
            keys = [
                TupleKey(object=f"doc:{prefix}-{i}-{j}", relation="viewer", user=f"user:{j}")
                for j in range(batch)
            ]
            result = await datastore.write(store_id, writes=keys)
            print(f"ack {result.revision} {i}", flush=True)
            i += 1
    finally:
        await datastore.aclose()


if __name__ == "__main__":
    url_arg, store_arg, prefix_arg, writes_arg, batch_arg = sys.argv[1:6]
    asyncio.run(
        main(
            url_arg,
            store_arg,
            prefix_arg,
            int(writes_arg),
            int(batch_arg),
            "--hang" in sys.argv[6:],
        )
    )
