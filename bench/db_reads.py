"""Checks evaluated against the database (index memory budget 0): checks/s and SQL queries per check.

A store beyond the index memory budget is evaluated against PostgreSQL: the engine reads tuples
with SQL at every hop. This measures that path on the Drive dataset (``bench/drive.py``): the
dataset is bulk-loaded into a fresh PostgreSQL database (``ANALYZE``d), a server-like
:class:`~permsvc.store.index.IndexedDatastore` with ``memory_budget=0`` is put over it (so no
index is built and every check reads the database, as an over-budget store is served), and the
sampled checks run sequentially through :class:`~permsvc.commands.check.CheckQuery` without the
answer cache; then StreamedListObjects(document, viewer) for the probe users (~10 / ~700 / ~7,000
documents at scale 1.0). Every statement the datastore sends is counted by a pool wrapper. Every
decision and listing is compared with the oracle's.

    .venv/bin/python -m bench.db_reads [--scale 1.0] [--checks 500] [--skip-list-objects] [--output file.json]

Figures: checks/s (wall), checks per CPU second of this process (the server side: PostgreSQL's
own CPU is not included), queries per check (mean, p50, max), p50/p99 latency; per listing ms,
CPU ms and statements.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import secrets
import sys
import time
from typing import Any

import asyncpg

from bench.drive import DSL, build_dataset
from bench.engine import latency_summary
from permsvc.commands.check import CheckParams, CheckQuery
from permsvc.commands.list_objects import ListObjectsParams, ListObjectsQuery
from permsvc.commands.models import ModelResolver
from permsvc.core.refs import TupleKey
from permsvc.engine.resolver import build_check_resolver
from permsvc.model.compile import parse_dsl
from permsvc.store.index import IndexedDatastore
from permsvc.store.postgres import PostgresDatastore
from tests.store.helpers import CountingPool

__all__ = ("run",)


async def _measure(url: str, scale: float, checks: int, list_objects: bool) -> dict[str, Any]:
    dataset, oracle = build_dataset(scale)
    loader = await PostgresDatastore.open(url)
    try:
        store_id = (await loader.create_store("bench-db-reads")).id
        model_id = (await loader.write_model(store_id, parse_dsl(DSL), dsl=DSL)).id
        await loader.bulk_write(store_id, dataset.tuples)
        await loader.pool.execute("ANALYZE tuples")
    finally:
        await loader.aclose()
    opened = await PostgresDatastore.open(url)  # the server's pool (size, release hook)
    pool = CountingPool(opened.pool)
    database = PostgresDatastore(pool)  # type: ignore[arg-type]
    served = IndexedDatastore(database, memory_budget=0)
    await served.start()
    try:
        query = CheckQuery(
            reader=served,
            resolver=ModelResolver(served),
            checker=build_check_resolver(cache_size=0),
        )
        sample = [dataset.checks[k % len(dataset.checks)] for k in range(checks)]
        params = [
            CheckParams(
                store_id=store_id,
                model_id=model_id,
                tuple_key=TupleKey(object=c.object, relation=c.relation, user=c.user),
            )
            for c in sample
        ]
        await query.execute(params[0])  # model resolved and cached, as on a warm server
        if served.mode(store_id) != "database":
            raise RuntimeError(
                f"the store is not served from the database (mode {served.mode(store_id)})"
            )
        per_check: list[int] = []
        samples: list[int] = []
        mismatches = 0
        clock = time.perf_counter_ns
        gc.collect()
        started, cpu = time.perf_counter(), time.process_time()
        for p, c in zip(params, sample, strict=True):
            before, t0 = pool.statements, clock()
            allowed = (await query.execute(p)).allowed
            samples.append(clock() - t0)
            per_check.append(pool.statements - before)
            mismatches += allowed != c.expected
        wall, cpu_s = time.perf_counter() - started, time.process_time() - cpu
        listings = (
            await _list_objects(served, pool, store_id, model_id, dataset, oracle)
            if list_objects
            else []
        )
    finally:
        await served.aclose()
    mismatches += sum(row["mismatches"] for row in listings)
    ordered = sorted(per_check)
    return {
        "scale": scale,
        "tuples": len(dataset.tuples),
        "checks": checks,
        "checks_per_s": round(checks / wall, 1),
        "checks_per_cpu_s": round(checks / cpu_s, 1),
        "queries_per_check": round(sum(per_check) / checks, 2),
        "queries_p50": ordered[len(ordered) // 2],
        "queries_max": ordered[-1],
        **latency_summary(samples),
        "list_objects": listings,
        "mismatches": mismatches,
    }


async def _list_objects(
    served: IndexedDatastore,
    pool: CountingPool,
    store_id: str,
    model_id: str,
    dataset: Any,
    oracle: Any,
) -> list[dict[str, Any]]:
    """StreamedListObjects(document, viewer) of each probe user, every result: ms, CPU ms, statements."""
    query = ListObjectsQuery(reader=served, resolver=ModelResolver(served))
    rows = []
    for probe in dataset.probes:
        params = ListObjectsParams(
            store_id=store_id,
            model_id=model_id,
            type="document",
            relation="viewer",
            user=probe.user,
        )
        before, started, cpu = pool.statements, time.perf_counter(), time.process_time()
        found = [obj async for obj in query.stream(params)]
        rows.append(
            {
                "user": probe.user,
                "results": len(found),
                "ms": round((time.perf_counter() - started) * 1000, 1),
                "cpu_ms": round((time.process_time() - cpu) * 1000, 1),
                "queries": pool.statements - before,
                "mismatches": len(set(found) ^ oracle.viewable_documents(probe.user)),
            }
        )
    return rows


async def run(
    admin_url: str, scale: float, checks: int, *, list_objects: bool = True
) -> dict[str, Any]:
    """Create a fresh database next to ``admin_url``, measure, drop it."""
    name = f"permsvc_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        return await _measure(admin_url.rsplit("/", 1)[0] + "/" + name, scale, checks, list_objects)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.db_reads",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--checks", type=int, default=500)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "PERMSVC_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--skip-list-objects", action="store_true", help="checks only")
    parser.add_argument("--output", default="", help="also write the result as JSON here")
    args = parser.parse_args(argv)
    load = round(os.getloadavg()[0], 2)
    result = asyncio.run(
        run(args.postgres_url, args.scale, args.checks, list_objects=not args.skip_list_objects)
    )
    result["load_before"] = load
    text = json.dumps(result, indent=2)
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    return 1 if result["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
