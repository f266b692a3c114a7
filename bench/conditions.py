"""Condition evaluation speed: evaluations per CPU second, per parameter type.

Each workload is one compiled condition of the kind a model declares for that parameter type,
evaluated against a rotating set of JSON contexts (the tuple's persisted context merged with the
request's, as Check does): context conversion, the CEL program and the result, nothing else.
Compilation is done once, outside the timing, as the engine caches it.

    .venv/bin/python -m bench.conditions                     # ~1 s per workload, prints a table
    .venv/bin/python -m bench.conditions --iterations 20000  # fixed work (for callgrind), no timing
    .venv/bin/python -m bench.conditions --json out.json

For a fair before/after comparison on a shared machine, run the two trees interleaved (A B A B)
and take medians, or count instructions with a fixed ``--iterations`` under
``valgrind --tool=callgrind``: instruction counts do not depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from permsvc.model.conditions import compile_condition, merge_context
from permsvc.model.schema import Condition, ConditionParam


def _param(text: str) -> ConditionParam:
    if "<" in text:
        outer, _, rest = text.partition("<")
        return ConditionParam(
            type_name=f"TYPE_NAME_{outer.upper()}", generic_types=(_param(rest[:-1]),)
        )
    return ConditionParam(type_name=f"TYPE_NAME_{text.upper()}")


# name -> (expression, {parameter: type}, [(persisted context, request context), ...])
WORKLOADS: dict[str, tuple[str, dict[str, str], list[tuple[dict[str, Any], dict[str, Any]]]]] = {
    "bool": (
        "enabled && !suspended",
        {"enabled": "bool", "suspended": "bool"},
        [({"enabled": True}, {"suspended": s}) for s in (False, True)],
    ),
    "string": (
        'region == "eu" || team.startsWith("ops-")',
        {"region": "string", "team": "string"},
        [({"region": r}, {"team": t}) for r in ("eu", "us") for t in ("ops-1", "dev-2")],
    ),
    "int": (
        "level >= min_level && level < 100",
        {"level": "int", "min_level": "int"},
        [({"min_level": 3}, {"level": lv}) for lv in (1, 5, 50, 150)],
    ),
    "uint": (
        "quota > used",
        {"quota": "uint", "used": "uint"},
        [({"quota": 100}, {"used": u}) for u in (0, 99, 100, 1000)],
    ),
    "double": (
        "score * weight >= 0.5",
        {"score": "double", "weight": "double"},
        [({"weight": 0.8}, {"score": s}) for s in (0.1, 0.5, 0.9, 1.5)],
    ),
    "duration": (
        'ttl > duration("1h") && ttl <= max_ttl',
        {"ttl": "duration", "max_ttl": "duration"},
        [({"max_ttl": "24h"}, {"ttl": t}) for t in ("30m", "2h", "12h30m", "48h")],
    ),
    "timestamp": (
        "current_time < grant_time + grant_duration",
        {"current_time": "timestamp", "grant_time": "timestamp", "grant_duration": "duration"},
        [
            ({"grant_time": "2024-01-01T00:00:00Z", "grant_duration": "1h"}, {"current_time": t})
            for t in ("2024-01-01T00:10:00Z", "2024-01-01T02:00:00Z", "2023-12-31T23:00:00Z")
        ],
    ),
    "ipaddress": (
        'user_ip.in_cidr("192.168.0.0/24")',
        {"user_ip": "ipaddress"},
        [({}, {"user_ip": ip}) for ip in ("192.168.0.1", "10.0.0.7", "192.168.0.200")],
    ),
    "list": (
        "user in allowed",
        {"user": "string", "allowed": "list<string>"},
        [
            ({"allowed": ["anne", "bob", "carl", "dora"]}, {"user": u})
            for u in ("anne", "dora", "erin")
        ],
    ),
    "map": (
        'attrs["tier"] == "gold" && attrs.exists(k, k == "beta")',
        {"attrs": "map<string>"},
        [({}, {"attrs": {"tier": t, "beta": "1"}}) for t in ("gold", "silver")],
    ),
}


def _prepare(name: str) -> tuple[Any, list[dict[str, Any]]]:
    expression, params, contexts = WORKLOADS[name]
    condition = Condition(
        name=f"bench_{name}",
        expression=expression,
        parameters={k: _param(v) for k, v in params.items()},
    )
    return compile_condition(condition), [(p, r) for p, r in contexts]


def _run(name: str, iterations: int) -> None:
    compiled, contexts = _prepare(name)
    n = len(contexts)
    for i in range(iterations):
        persisted, request = contexts[i % n]
        compiled.evaluate(merge_context(persisted, request))


def measure(name: str, seconds: float) -> float:
    """Evaluations per CPU second of one workload, over about ``seconds`` of CPU time."""
    compiled, contexts = _prepare(name)
    n = len(contexts)
    evaluate = compiled.evaluate
    for persisted, request in contexts:  # warm the parse caches as a running server has them
        evaluate(merge_context(persisted, request))
    batch = 2000
    done = 0
    start = time.process_time()
    while True:
        for i in range(batch):
            persisted, request = contexts[i % n]
            evaluate(merge_context(persisted, request))
        done += batch
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            return done / elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="CPU seconds per workload")
    parser.add_argument("--repeat", type=int, default=1, help="runs per workload (median kept)")
    parser.add_argument(
        "--iterations", type=int, default=0, help="fixed evaluations per workload, no timing"
    )
    parser.add_argument("--only", nargs="*", default=None, help="workload names")
    parser.add_argument("--json", default=None, help="write the figures to this file")
    args = parser.parse_args(argv)
    names = args.only or list(WORKLOADS)
    if args.iterations:
        for name in names:
            _run(name, args.iterations)
        return
    figures: dict[str, float] = {}
    for name in names:
        runs = [measure(name, args.seconds) for _ in range(args.repeat)]
        figures[name] = statistics.median(runs)
        print(f"{name:<10} {figures[name]:>12,.0f} evaluations/CPU s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(figures, fh, indent=2)


if __name__ == "__main__":
    main()
