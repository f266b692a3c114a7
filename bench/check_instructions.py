"""The cost of a warm check set in CPU instructions: a figure that a shared machine cannot blur.

Builds the Drive dataset (``--scale``), loads and indexes it as ``bench.engine`` does, runs the
sampled checks once through :class:`~permsvc.commands.check.CheckQuery` (warming the model,
the index and the interpreter), then ``--passes`` more times through the local checker (no answer
cache) and exits. Run it under callgrind collecting only inside the checks (the passes run under
``itertools.starmap``, which nothing else here calls), with the garbage collector off::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no --toggle-collect=starmap_next \\
        .venv/bin/python -m bench.check_instructions --passes 2

(Counting the whole process twice and subtracting does not work: loading and indexing vary by
a quarter from run to run.)

Used to show that a change off the check path (the explain evaluator) leaves the check path's
cost where it was: the same commands on the commit before and after give the same counts.
Without valgrind the script prints wall and CPU time per check instead.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import time
from typing import Any

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
            await query.execute(
                CheckParams(
                    store_id=store_id,
                    model_id=model_id,
                    tuple_key=TupleKey(object=c.object, relation=c.relation, user=c.user),
                )
            )
        stored = await indexed.read_model(store_id, model_id)
        typesystem = TypeSystem.new(stored.model)
        checker = build_check_resolver(cache_size=0)
        limits = EngineLimits()
        reader, _ = await reader_for(indexed, store_id, MINIMIZE_LATENCY)
        gc.collect()
        gc.freeze()
        gc.disable()  # a collection's cost depends on the heap, not on the checks: keep it out
        wall, cpu = time.perf_counter(), time.process_time()

        def one(c: Any) -> int:
            ctx = new_context(
                store_id=store_id,
                typesystem=typesystem,
                reader=reader,
                limits=limits,
                context=None,
                user=c.user,
            )
            # The memory index never suspends: the coroutine finishes on its first step.
            coro = checker.check(ctx, c.object, c.relation)
            try:
                coro.send(None)
            except StopIteration as done:
                return int(done.value.allowed)
            coro.close()
            raise RuntimeError("a check suspended on the in-memory index")

        # itertools.starmap is this script's alone: ``--toggle-collect=starmap_next`` counts the
        # checks' instructions and nothing else.
        allowed = sum(itertools.starmap(one, ((c,) for _ in range(passes) for c in dataset.checks)))
        n = passes * len(dataset.checks)
        if n:
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(
                f"{n} checks ({allowed} allowed): {wall / n * 1e6:.1f} us wall, {cpu / n * 1e6:.1f} us CPU per check"
            )
    finally:
        await indexed.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(_main(args.scale, args.passes))


if __name__ == "__main__":
    main()
