"""The cost of a warm check set in CPU instructions: a figure that a shared machine cannot blur.

Builds the Drive dataset (``--scale``), loads and indexes it as ``bench.engine`` does, runs the
sampled checks once through :class:`~permsvc.commands.check.CheckQuery` (warming the model,
the index and the interpreter), then ``--passes`` more times through the local checker (no answer
cache) and exits. Run it under ``valgrind --tool=callgrind`` twice, with ``--passes N`` and
``--passes 0``: the difference of the two instruction counts is what ``N`` passes of the check set
cost, with the start-up and loading subtracted. The garbage collector is off during the passes,
and ``PYTHONHASHSEED=0`` with address randomisation off (``setarch -R``) keeps runs repeatable::

    PYTHONHASHSEED=0 setarch -R valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.N \\
        .venv/bin/python -m bench.check_instructions --passes 3
    PYTHONHASHSEED=0 setarch -R valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.0 \\
        .venv/bin/python -m bench.check_instructions --passes 0

Used to show that a change off the check path (the explain evaluator) leaves the check path's
cost where it was: the same commands on the commit before and after give the same counts.
Without valgrind the script prints wall and CPU time per check instead.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time

from bench.drive import build_dataset
from bench.engine import _loaded
from permsvc.commands.check import CheckParams, CheckQuery
from permsvc.commands.models import ModelResolver
from permsvc.core.refs import TupleKey
from permsvc.core.revision import MINIMIZE_LATENCY
from permsvc.engine.resolver import build_check_resolver, new_context
from permsvc.model.typesystem import TypeSystem
from permsvc.settings import EngineLimits
from permsvc.store.index import reader_for


async def _main(scale: float, passes: int) -> None:
    dataset, _ = build_dataset(scale)
    indexed, store_id, model_id = await _loaded(dataset)
    try:
        query = CheckQuery(reader=indexed, resolver=ModelResolver(indexed))
        for c in dataset.checks:
            await query.execute(CheckParams(
                store_id=store_id, model_id=model_id, tuple_key=TupleKey(object=c.object, relation=c.relation, user=c.user)
            ))
        stored = await indexed.read_model(store_id, model_id)
        typesystem = TypeSystem.new(stored.model)
        checker = build_check_resolver(cache_size=0)
        limits = EngineLimits()
        reader, _ = await reader_for(indexed, store_id, MINIMIZE_LATENCY)
        gc.collect()
        gc.freeze()
        gc.disable()  # a collection's cost depends on the heap, not on the checks: keep it out
        wall, cpu = time.perf_counter(), time.process_time()
        allowed = 0
        for _ in range(passes):
            for c in dataset.checks:
                ctx = new_context(
                    store_id=store_id, typesystem=typesystem, reader=reader, limits=limits, context=None, user=c.user
                )
                allowed += (await checker.check(ctx, c.object, c.relation)).allowed
        n = passes * len(dataset.checks)
        if n:
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(f"{n} checks ({allowed} allowed): {wall / n * 1e6:.1f} us wall, {cpu / n * 1e6:.1f} us CPU per check")
    finally:
        await indexed.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(_main(args.scale, args.passes))


if __name__ == "__main__":
    main()
