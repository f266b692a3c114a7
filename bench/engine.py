"""permsvc's engine in-process on the in-memory index: checks on one core, ListObjects latency.

The dataset is bulk-written into a :class:`~permsvc.store.memory.MemoryDatastore`, indexed by an
:class:`~permsvc.store.index.IndexedDatastore` (the same start-up path a server worker takes) and
evaluated through the reader a ``MINIMIZE_LATENCY`` request gets. Two check figures:

- ``engine``: the local checker (the resolver chain without its answer cache) on a fresh
  per-request context: what evaluating a check costs once the request is parsed and its model
  resolved; the mix is cycled, nothing is reused across checks;
- ``command``: :class:`~permsvc.commands.check.CheckQuery` with the model id named, as the HTTP
  handler calls it (model resolution, tuple validation, consistency, the cached resolver
  chain), once over the sampled checks (all different: every answer evaluated), and
  ``command_cached`` the same checks again (every answer from the answer cache).

Checks run sequentially in one thread; each is timed on its own for p50/p99, the rate is checks
over wall time and over CPU time of this process (the CPU rate is the one a busy machine distorts
least). Every decision is compared with the oracle's.
"""

from __future__ import annotations

import gc
import statistics
import time
from typing import TYPE_CHECKING, Any

from bench.drive import DSL
from permsvc.commands.check import CheckParams, CheckQuery
from permsvc.commands.list_objects import ListObjectsParams, ListObjectsQuery
from permsvc.commands.models import ModelResolver
from permsvc.core.refs import TupleKey
from permsvc.core.revision import MINIMIZE_LATENCY
from permsvc.engine.resolver import build_check_resolver, new_context
from permsvc.model.compile import parse_dsl
from permsvc.model.typesystem import TypeSystem
from permsvc.settings import EngineLimits
from permsvc.store.index import IndexedDatastore, reader_for
from permsvc.store.memory import MemoryDatastore

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bench.drive import DriveDataset, Oracle

__all__ = ("latency_summary", "run_engine")


def latency_summary(samples_ns: list[int]) -> dict[str, float]:
    """p50 / p99 / mean in milliseconds of per-operation samples (nanoseconds)."""
    if not samples_ns:
        return {"p50_ms": 0.0, "p99_ms": 0.0, "mean_ms": 0.0}
    ordered = sorted(samples_ns)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {
        "p50_ms": round(ordered[len(ordered) // 2] / 1e6, 4),
        "p99_ms": round(p99 / 1e6, 4),
        "mean_ms": round(statistics.fmean(ordered) / 1e6, 4),
    }


async def _loaded(dataset: DriveDataset) -> tuple[IndexedDatastore, str, str]:
    database = MemoryDatastore()
    store_id = (await database.create_store("bench-drive")).id
    model_id = (await database.write_model(store_id, parse_dsl(DSL), dsl=DSL)).id
    await database.bulk_write(store_id, dataset.tuples)
    indexed = IndexedDatastore(database)
    await indexed.start()
    if indexed.mode(store_id) != "index":
        raise RuntimeError(f"the benchmark store is not indexed (mode {indexed.mode(store_id)})")
    return indexed, store_id, model_id


async def _timed(
    decide: Callable[[int], Awaitable[bool]], dataset: DriveDataset, total: int
) -> tuple[dict[str, Any], int]:
    """``total`` sequential decisions ``decide(i)`` of the mix (cycled), each timed; mismatches."""
    checks = dataset.checks
    samples: list[int] = []
    mismatches = 0
    clock = time.perf_counter_ns
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    for k in range(total):
        i = k % len(checks)
        t0 = clock()
        allowed = await decide(i)
        samples.append(clock() - t0)
        mismatches += allowed != checks[i].expected
    wall, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    row: dict[str, Any] = {
        "checks": total,
        "checks_per_s": round(total / wall),
        "checks_per_cpu_s": round(total / cpu_s),
    }
    row.update(latency_summary(samples))
    return row, mismatches


async def _engine_checks(
    indexed: IndexedDatastore, store_id: str, dataset: DriveDataset, total: int
) -> tuple[dict[str, Any], int]:
    typesystem = TypeSystem.new(parse_dsl(DSL))
    checker = build_check_resolver(cache_size=0)
    limits = EngineLimits()
    reader, _ = await reader_for(indexed, store_id, MINIMIZE_LATENCY)
    checks = dataset.checks

    async def decide(i: int) -> bool:
        c = checks[i]
        ctx = new_context(
            store_id=store_id,
            typesystem=typesystem,
            reader=reader,
            limits=limits,
            context=None,
            user=c.user,
        )
        return (await checker.check(ctx, c.object, c.relation)).allowed

    return await _timed(decide, dataset, total)


async def _command_checks(
    indexed: IndexedDatastore, store_id: str, model_id: str, dataset: DriveDataset
) -> tuple[dict[str, Any], dict[str, Any], int]:
    """The sampled checks (all different) twice through ``CheckQuery`` and its resolver chain:
    cold (every answer evaluated) and again (every answer from the chain's answer cache)."""
    query = CheckQuery(reader=indexed, resolver=ModelResolver(indexed))
    params = [
        CheckParams(
            store_id=store_id,
            model_id=model_id,
            tuple_key=TupleKey(object=c.object, relation=c.relation, user=c.user),
        )
        for c in dataset.checks
    ]

    async def decide(i: int) -> bool:
        return (await query.execute(params[i])).allowed

    cold, cold_wrong = await _timed(decide, dataset, len(params))
    warm, warm_wrong = await _timed(decide, dataset, len(params))
    return cold, warm, cold_wrong + warm_wrong


async def _list_objects(
    indexed: IndexedDatastore,
    store_id: str,
    model_id: str,
    dataset: DriveDataset,
    oracle: Oracle,
    repeats: int,
) -> tuple[list[dict[str, Any]], int]:
    """StreamedListObjects(document, viewer) for each probe user: every result, not one page."""
    query = ListObjectsQuery(reader=indexed, resolver=ModelResolver(indexed))
    rows: list[dict[str, Any]] = []
    mismatches = 0
    for probe in dataset.probes:
        params = ListObjectsParams(
            store_id=store_id,
            model_id=model_id,
            type="document",
            relation="viewer",
            user=probe.user,
        )
        expected = oracle.viewable_documents(probe.user)
        times: list[float] = []
        found: list[str] = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            found = [obj async for obj in query.stream(params)]
            times.append((time.perf_counter() - t0) * 1000)
        wrong = len(set(found) ^ expected)
        mismatches += wrong
        rows.append(
            {
                "user": probe.user,
                "target": probe.target,
                "results": len(found),
                "expected": len(expected),
                "mismatches": wrong,
                "median_ms": round(statistics.median(times), 2),
                "min_ms": round(min(times), 2),
            }
        )
    return rows, mismatches


async def run_engine(
    dataset: DriveDataset, oracle: Oracle, *, checks: int = 20_000, list_repeats: int = 5
) -> dict[str, Any]:
    """Load, index and measure ``dataset``; ``checks`` sequential checks (the mix, cycled)."""
    started = time.perf_counter()
    indexed, store_id, model_id = await _loaded(dataset)
    load_s = time.perf_counter() - started
    try:
        engine, engine_wrong = await _engine_checks(indexed, store_id, dataset, checks)
        command, warm, command_wrong = await _command_checks(indexed, store_id, model_id, dataset)
        lists, list_wrong = await _list_objects(
            indexed, store_id, model_id, dataset, oracle, list_repeats
        )
    finally:
        await indexed.aclose()
    return {
        "tuples": len(dataset.tuples),
        "load_and_index_s": round(load_s, 2),
        "engine": engine,
        "command": command,
        "command_cached": warm,
        "list_objects": lists,
        "mismatches": {
            "engine": engine_wrong,
            "command": command_wrong,
            "list_objects": list_wrong,
        },
    }
