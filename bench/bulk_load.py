"""Bulk-load benchmark: N tuples (default 1,000,000) through ``bulk_write`` into SQLite and PostgreSQL.

    .venv/bin/python bench/bulk_load.py [--tuples N] [--backends sqlite,postgres] [--runs 2]
                                        [--postgres-url postgresql://postgres@127.0.0.1:5432/test]

Each backend gets a fresh database (a temporary SQLite file; a new PostgreSQL database created on
the server of ``--postgres-url`` and dropped afterwards). The tuples are generated before timing
(a document-sharing shape: viewers, editors, group usersets, parent folders, a few conditional and
wildcard tuples). Timed: the one ``bulk_write`` call (one transaction, one revision, a compact
changelog entry per object type), then reads that prove the data is there. Each backend runs ``--runs`` times (alternating); the
medians are held to the target (``TARGET_S`` per million). Prints a table and writes JSON to
``bench/results/bulk_load-<utc timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

from permsvc.core.refs import TupleCondition, TupleKey
from permsvc.store.postgres import PostgresDatastore
from permsvc.store.protocol import ReadFilter, StartingWithUser
from permsvc.store.sqlite import SqliteDatastore

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_S = 10.0
"""Issue #17: a million tuples imported in at most 10 s (scaled to ``--tuples``), per backend."""


def make_tuples(n: int) -> list[TupleKey]:
    out: list[TupleKey] = []
    i = 0
    during = TupleCondition(name="in_hours", context={"tz": "UTC"})
    while len(out) < n:
        doc = f"doc:{i}"
        out.append(TupleKey(object=doc, relation="viewer", user=f"user:auth0|{i % 50_000}"))
        out.append(TupleKey(object=doc, relation="editor", user=f"user:auth0|{(i * 7) % 50_000}"))
        out.append(TupleKey(object=doc, relation="viewer", user=f"group:g{i % 1_000}#member"))
        out.append(TupleKey(object=doc, relation="parent", user=f"folder:f{i % 10_000}"))
        out.append(
            TupleKey(
                object=doc,
                relation="commenter",
                user=f"user:auth0|{(i * 13) % 50_000}",
                condition=during,
            )
            if i % 10 == 0
            else TupleKey(object=f"folder:f{i % 10_000}", relation="viewer", user=f"user:auth0|{i}")
        )
        if i % 1000 == 0:
            out.append(TupleKey(object=doc, relation="viewer", user="user:*"))
        i += 1
    return out[:n]


def _server_cpu(pids: list[int]) -> float | None:
    """CPU seconds used so far by the server processes ``pids`` (same machine only), else ``None``."""
    total = 0.0
    try:
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
    return total


async def _verify(datastore: Any, store_id: str, tuples: list[TupleKey]) -> dict[str, float]:
    sample = tuples[len(tuples) // 2]
    started = time.perf_counter()
    found = await datastore.read_user_tuple(store_id, sample.object, sample.relation, sample.user)
    lookup_ms = (time.perf_counter() - started) * 1000
    assert found == sample, (found, sample)
    started = time.perf_counter()
    reverse = await datastore.read_starting_with_user(
        store_id, StartingWithUser(object_type="doc", relation="viewer", users=["user:auth0|42"])
    )
    reverse_ms = (time.perf_counter() - started) * 1000
    assert reverse
    page = await datastore.read_page(
        store_id, ReadFilter(object_type="doc", object_id="12345"), page_size=10
    )
    assert page.items
    assert await datastore.head_revision(store_id) == 1, "one revision holds the whole import"
    changes = await datastore.read_changes(store_id, object_type="folder", page_size=10)
    assert [c.revision for c in changes.items] == [1] * 10
    return {"point_lookup_ms": round(lookup_ms, 3), "reverse_lookup_ms": round(reverse_ms, 3)}


async def run_sqlite(tuples: list[TupleKey]) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="permsvc-bench-"))
    try:
        datastore = await SqliteDatastore.open(folder / "permsvc.db")
        try:
            store_id = (await datastore.create_store("bench")).id
            started, cpu = time.perf_counter(), time.process_time()
            result = await datastore.bulk_write(store_id, tuples)
            load_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu
            assert result.changed == len(tuples)
            checks = await _verify(datastore, store_id, tuples)
        finally:
            await datastore.aclose()
        size = sum(p.stat().st_size for p in folder.iterdir())
        return {
            "backend": "sqlite",
            "load_s": round(load_s, 2),
            "cpu_s": round(cpu_s, 2),
            "db_bytes": size,
            **checks,
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def run_postgres(tuples: list[TupleKey], admin_url: str) -> dict[str, Any]:
    name = f"permsvc_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    try:
        datastore = await PostgresDatastore.open(url)
        try:
            store_id = (await datastore.create_store("bench")).id
            backends = [
                r[0]
                for r in await datastore.pool.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname = $1", name
                )
            ]
            server_cpu = _server_cpu(backends)
            started, cpu = time.perf_counter(), time.process_time()
            result = await datastore.bulk_write(store_id, tuples)
            load_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu
            if server_cpu is not None:
                after = _server_cpu(backends)
                cpu_s += (after or 0.0) - server_cpu
            assert result.changed == len(tuples)
            started = time.perf_counter()
            async with datastore.pool.acquire() as conn:
                await conn.execute("ANALYZE tuples")
                await conn.execute("ANALYZE changelog")
                size = await conn.fetchval("SELECT pg_database_size(current_database())")
            analyze_s = time.perf_counter() - started
            checks = await _verify(datastore, store_id, tuples)
        finally:
            await datastore.aclose()
        return {
            "backend": "postgres",
            "load_s": round(load_s, 2),
            "cpu_s": round(cpu_s, 2),
            "analyze_s": round(analyze_s, 2),
            "db_bytes": size,
            **checks,
        }
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
        "--runs", type=int, default=2, help="runs per backend; the medians are held to the target"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "PERMSVC_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="a database on the server to use (a fresh one is created next to it and dropped)",
    )
    args = parser.parse_args()

    load_before = f"{os.getloadavg()[0]:.2f}"
    started = time.perf_counter()
    tuples = make_tuples(args.tuples)
    generate_s = time.perf_counter() - started
    rows = []
    for run in range(1, args.runs + 1):
        for backend in args.backends.split(","):
            if backend == "sqlite":
                row = await run_sqlite(tuples)
            elif backend == "postgres":
                row = await run_postgres(tuples, args.postgres_url)
            else:
                parser.error(f"unknown backend {backend}")
            row["run"] = run
            row["load_average"] = round(os.getloadavg()[0], 2)
            rows.append(row)
    for row in rows:
        row["tuples_per_s"] = round(args.tuples / row["load_s"])

    print(f"bulk_write of {args.tuples:,} tuples (generated in {generate_s:.2f} s, not timed)")
    print(
        f"load average before: {load_before}; after: {os.getloadavg()[0]:.2f} (on {os.cpu_count()} CPUs)"
    )
    print(
        f"{'backend':<10} {'run':>3} {'load s':>8} {'cpu s':>7} {'tuples/s':>10} {'db MB':>8} "
        f"{'point ms':>9} {'reverse ms':>11} {'loadavg':>8}"
    )
    for row in rows:
        print(
            f"{row['backend']:<10} {row['run']:>3} {row['load_s']:>8.2f} {row['cpu_s']:>7.2f} "
            f"{row['tuples_per_s']:>10,} {row['db_bytes'] / 1e6:>8.0f} "
            f"{row['point_lookup_ms']:>9.3f} {row['reverse_lookup_ms']:>11.3f} {row['load_average']:>8.2f}"
        )
    medians = {}
    for backend in dict.fromkeys(r["backend"] for r in rows):
        mine = [r for r in rows if r["backend"] == backend]
        wall = statistics.median(r["load_s"] for r in mine)
        cpu = statistics.median(r["cpu_s"] for r in mine)
        target = TARGET_S * args.tuples / 1_000_000
        medians[backend] = {"load_s": wall, "cpu_s": cpu, "target_s": target, "met": wall <= target}
        print(
            f"median {backend}: {wall:.2f} s wall, {cpu:.2f} CPU s (client + server) over "
            f"{len(mine)} runs; target <= {target:.1f} s: {'met' if wall <= target else 'not met'}"
        )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"bulk_load-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "benchmark": "bulk_load",
                "tuples": args.tuples,
                "generated_s": round(generate_s, 2),
                "load_average_before": float(load_before),
                "load_average_after": round(os.getloadavg()[0], 2),
                "machine": {
                    "python": sys.version.split()[0],
                    "platform": platform.platform(),
                    "cpus": os.cpu_count(),
                },
                "results": rows,
                "medians": medians,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
