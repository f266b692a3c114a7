"""In-memory index benchmark: build time and bytes per tuple at N tuples (default 1,000,000), and
checks per second evaluated in-process on the index.

    .venv/bin/python bench/index_build.py [--tuples N] [--backends sqlite,postgres] [--checks 20000]
                                          [--postgres-url postgresql://postgres@127.0.0.1:5432/test]

A Drive-like dataset (documents in a folder tree, owners, editors, direct viewers, group viewers,
group memberships, a few public documents) is loaded with ``bulk_write`` into a fresh database per
backend (not timed). Then, per backend:

- **build**: ``IndexedDatastore.start()`` on a freshly opened database (as a restarted server):
  streams the tuple table (``snapshot_tuples``) into a :class:`TupleIndex` and catches up; wall
  time and CPU time;
- **checks/s**: ``--checks`` random ``doc#viewer@user`` checks (about half allowed) through the
  engine on the index reader, one core, sequential, with the model resolved once (as the
  ``CheckQuery`` hot path does for a request naming its model) and the answer cache off.

Bytes per tuple are measured once, without a database: the same tuples are added to a new
``TupleIndex`` under ``tracemalloc`` and the memory it retains is divided by the tuple count
(tracemalloc slows the build, so build times come from the untraced runs above).

Prints a table and writes JSON to ``bench/results/index_build-<utc timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import os
import platform
import random
import secrets
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

from permsvc.core.refs import TupleKey
from permsvc.core.revision import MINIMIZE_LATENCY
from permsvc.engine.resolver import build_check_resolver, new_context
from permsvc.model.compile import parse_dsl
from permsvc.model.typesystem import TypeSystem
from permsvc.settings import EngineLimits
from permsvc.store.index import IndexedDatastore, TupleIndex, reader_for
from permsvc.store.postgres import PostgresDatastore
from permsvc.store.sqlite import SqliteDatastore

RESULTS = Path(__file__).resolve().parent / "results"

MODEL = """\
model
  schema 1.1

type user

type group
  relations
    define member: [user]

type folder
  relations
    define parent: [folder]
    define owner: [user]
    define viewer: [user, group#member] or owner or viewer from parent

type doc
  relations
    define parent: [folder]
    define owner: [user]
    define editor: [user] or owner
    define viewer: [user, user:*, group#member] or editor or viewer from parent
"""

USERS = 50_000
GROUPS = 2_000
FOLDERS = 20_000


def drive_tuples(n: int) -> list[TupleKey]:
    """``n`` tuples shaped like a document-sharing service (deterministic)."""
    rng = random.Random(7)
    out = _Distinct()
    for g in range(GROUPS):
        for _ in range(20):
            out.append(
                TupleKey(
                    object=f"group:g{g}",
                    relation="member",
                    user=f"user:auth0|{rng.randrange(USERS)}",
                )
            )
    for f in range(FOLDERS):
        if f >= 100:
            out.append(
                TupleKey(object=f"folder:f{f}", relation="parent", user=f"folder:f{f // 10}")
            )
        out.append(
            TupleKey(
                object=f"folder:f{f}", relation="owner", user=f"user:auth0|{rng.randrange(USERS)}"
            )
        )
        if f % 3 == 0:
            out.append(
                TupleKey(
                    object=f"folder:f{f}",
                    relation="viewer",
                    user=f"group:g{rng.randrange(GROUPS)}#member",
                )
            )
    i = 0
    while len(out) < n:
        doc = f"doc:{i}"
        out.append(
            TupleKey(object=doc, relation="parent", user=f"folder:f{rng.randrange(FOLDERS)}")
        )
        out.append(
            TupleKey(object=doc, relation="owner", user=f"user:auth0|{rng.randrange(USERS)}")
        )
        out.append(
            TupleKey(object=doc, relation="viewer", user=f"user:auth0|{rng.randrange(USERS)}")
        )
        if i % 2 == 0:
            out.append(
                TupleKey(
                    object=doc, relation="viewer", user=f"group:g{rng.randrange(GROUPS)}#member"
                )
            )
        if i % 4 == 0:
            out.append(
                TupleKey(object=doc, relation="editor", user=f"user:auth0|{rng.randrange(USERS)}")
            )
        if i % 1000 == 0:
            out.append(TupleKey(object=doc, relation="viewer", user="user:*"))
        i += 1
    return out[:n]


class _Distinct(list[TupleKey]):
    """A list that drops repeated tuples (random picks collide), as ``bulk_write`` would."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[tuple[str, str, str]] = set()

    def append(self, key: TupleKey) -> None:
        if key.key not in self._seen:
            self._seen.add(key.key)
            super().append(key)


def bytes_per_tuple(tuples: list[TupleKey]) -> float:
    gc.collect()
    tracemalloc.start()
    index = TupleIndex("bench")
    for start in range(0, len(tuples), 10_000):
        index.add_batch(tuples[start : start + 10_000])
    index.finish_build(1)
    gc.collect()
    retained, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return retained / index.count


async def checks_per_second(
    indexed: IndexedDatastore, store_id: str, tuples: list[TupleKey], n: int
) -> dict[str, Any]:
    """``n`` sequential checks on the index reader (half from stored viewer grants, half random)."""
    rng = random.Random(11)
    docs = [
        t
        for t in tuples
        if t.object.startswith("doc:") and t.relation == "viewer" and t.user.startswith("user:a")
    ]
    max_doc = max(int(t.object[4:]) for t in docs)
    picks = [docs[rng.randrange(len(docs))] for _ in range(n)]
    queries = [
        (picks[k].object, picks[k].user)
        if k % 2
        else (f"doc:{rng.randrange(max_doc)}", f"user:auth0|{rng.randrange(USERS)}")
        for k in range(n)
    ]
    typesystem = TypeSystem.new(parse_dsl(MODEL))
    checker = build_check_resolver(cache_size=0)  # the engine on the index, not cache hits
    limits = EngineLimits()
    reader, _ = await reader_for(indexed, store_id, MINIMIZE_LATENCY)
    allowed = 0
    started, cpu = time.perf_counter(), time.process_time()
    for obj, user in queries:
        ctx = new_context(
            store_id=store_id,
            typesystem=typesystem,
            reader=reader,
            limits=limits,
            context=None,
            user=user,
        )
        allowed += (await checker.check(ctx, obj, "viewer")).allowed
    elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    return {
        "checks": n,
        "checks_per_s": round(n / elapsed),
        "checks_per_cpu_s": round(n / cpu_s),
        "allowed": allowed,
    }


async def measure(
    open_datastore: Callable[[], Awaitable[Any]],
    tuples: list[TupleKey],
    checks: int,
    listen_url: str | None,
) -> dict[str, Any]:
    """Load ``tuples``, close the database, then time a start-up on a freshly opened one (as a
    restarted server builds its index)."""
    loader = await open_datastore()
    try:
        store_id = (await loader.create_store("bench")).id
        await loader.bulk_write(store_id, tuples)
    finally:
        await loader.aclose()
    gc.collect()
    datastore = await open_datastore()
    indexed = IndexedDatastore(datastore, listen_url=listen_url, snapshots=False)
    started, cpu = time.perf_counter(), time.process_time()
    await indexed.start()
    build_s, build_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    try:
        assert indexed.mode(store_id) == "index", indexed.mode(store_id)
        index = indexed.index_of(store_id)
        assert index is not None and index.count == len(tuples), (
            index and index.count,
            len(tuples),
        )
        row = {
            "build_s": round(build_s, 2),
            "build_cpu_s": round(build_cpu_s, 2),
            "indexed": index.count,
        }
        if checks:
            row.update(await checks_per_second(indexed, store_id, tuples, checks))
        return row
    finally:
        await indexed.aclose()


async def run_sqlite(tuples: list[TupleKey], checks: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="permsvc-bench-"))
    try:
        path = folder / "permsvc.db"
        row = await measure(lambda: SqliteDatastore.open(path), tuples, checks, None)
        return {"backend": "sqlite", **row}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def run_postgres(tuples: list[TupleKey], checks: int, admin_url: str) -> dict[str, Any]:
    name = f"permsvc_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    try:
        row = await measure(lambda: PostgresDatastore.open(url), tuples, checks, url)
        return {"backend": "postgres", **row}
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tuples", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument(
        "--checks", type=int, default=20_000, help="checks to time on the index (0: none)"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "PERMSVC_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="a database on the server to use (a fresh one is created next to it and dropped)",
    )
    args = parser.parse_args()

    load_before = round(os.getloadavg()[0], 2)
    tuples = drive_tuples(args.tuples)
    per_tuple = bytes_per_tuple(tuples)
    rows = []
    for backend in args.backends.split(","):
        if backend == "sqlite":
            rows.append(await run_sqlite(tuples, args.checks))
        elif backend == "postgres":
            rows.append(await run_postgres(tuples, args.checks, args.postgres_url))
        else:
            parser.error(f"unknown backend {backend}")

    print(
        f"index of {args.tuples:,} Drive-like tuples: {per_tuple:.1f} bytes per tuple (tracemalloc, retained)"
    )
    print(
        f"load average before: {load_before}; after: {os.getloadavg()[0]:.2f} (on {os.cpu_count()} CPUs)"
    )
    print(
        f"{'backend':<10} {'build s':>8} {'cpu s':>7} {'checks/s':>10} {'per cpu s':>10} {'allowed':>8}"
    )
    for row in rows:
        print(
            f"{row['backend']:<10} {row['build_s']:>8.2f} {row['build_cpu_s']:>7.2f} "
            f"{row.get('checks_per_s', 0):>10,} {row.get('checks_per_cpu_s', 0):>10,} {row.get('allowed', 0):>8,}"
        )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"index_build-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "benchmark": "index_build",
                "tuples": args.tuples,
                "bytes_per_tuple": round(per_tuple, 1),
                "load_average_before": load_before,
                "load_average_after": round(os.getloadavg()[0], 2),
                "machine": {
                    "python": sys.version.split()[0],
                    "platform": platform.platform(),
                    "cpus": os.cpu_count(),
                },
                "results": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
