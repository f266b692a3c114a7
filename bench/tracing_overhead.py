"""What the tracing code costs when tracing is off: instructions per check through the ASGI app.

Load average makes wall-clock throughput on a shared machine noise; retired instructions are not.
Each measurement runs a child process that builds the real app (``create_app``, memory datastore,
no access log, tracing off: no ``OTEL_*`` variables), writes a group-based grant,
then sends ``N`` identical ``POST /stores/{id}/check`` requests straight into the ASGI callable
(the fast path, the check resolver and its cache: the hot path of a server). Valgrind's
callgrind counts the child's instructions (``perf stat`` would be faster, but virtual machines
seldom expose the counters); the difference between ``N`` and 0 checks divided by ``N`` is the
cost per check, start-up excluded. The index is off: its follower polls the memory datastore
every 20 ms, so its instructions would grow with the run's wall time (which callgrind and a loaded
machine stretch unevenly) instead of with the checks; the memory datastore answers reads in
memory anyway.

Run against a baseline tree (the same code without the tracing change, e.g. ``git archive`` of
the commit before it) to compare::

    git archive <commit> | tar -x -C /tmp/baseline
    .venv/bin/python -m bench.tracing_overhead --baseline /tmp/baseline --checks 20000 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

_REPO = Path(__file__).resolve().parent.parent
_MODEL = {
    "schema_version": "1.1",
    "type_definitions": [
        {"type": "user"},
        {
            "type": "group",
            "relations": {"member": {"this": {}}},
            "metadata": {
                "relations": {"member": {"directly_related_user_types": [{"type": "user"}]}}
            },
        },
        {
            "type": "doc",
            "relations": {"viewer": {"this": {}}},
            "metadata": {
                "relations": {
                    "viewer": {
                        "directly_related_user_types": [
                            {"type": "user"},
                            {"type": "group", "relation": "member"},
                        ]
                    }
                }
            },
        },
    ],
}


async def _drive(checks: int) -> None:
    """The child: build the app, write the grant, send ``checks`` checks through ASGI."""
    import json

    from litestar.testing import AsyncTestClient

    from permsvc.api.app import create_app
    from permsvc.settings import Settings

    app = create_app(Settings(database_url="memory:", access_log=False, index=False))
    async with AsyncTestClient(app) as client:
        store = (await client.post("/stores", json={"name": "overhead"})).json()["id"]
        await client.post(f"/stores/{store}/authorization-models", json=_MODEL)
        keys = [
            {"object": "group:eng", "relation": "member", "user": "user:anne"},
            {"object": "doc:1", "relation": "viewer", "user": "group:eng#member"},
        ]
        await client.post(f"/stores/{store}/write", json={"writes": {"tuple_keys": keys}})
        body = json.dumps(
            {"tuple_key": {"object": "doc:1", "relation": "viewer", "user": "user:anne"}}
        ).encode()
        scope: dict[str, Any] = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": f"/stores/{store}/check", "raw_path": f"/stores/{store}/check".encode(),
            "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }  # fmt: skip
        statuses: list[int] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        for _ in range(checks):
            await app(dict(scope), receive, send)
        if any(s != 200 for s in statuses):
            raise SystemExit(f"a check failed: {set(statuses)}")


def _instructions(tree: Path, checks: int) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PERMSVC_"))}
    env.update({"PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"})
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         "-m", "bench.tracing_overhead", "--child", str(checks)],
        capture_output=True, text=True, env=env, cwd=tree, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"child failed in {tree}: {done.stderr[-2000:]}")
    for line in done.stderr.splitlines():
        match = re.search(r"Collected : (\d+)", line)
        if match:
            return int(match.group(1))
    raise SystemExit(f"no instruction count in callgrind's output: {done.stderr[-1000:]}")


def _per_check(tree: Path, checks: int, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        base = _instructions(tree, 0)
        loaded = _instructions(tree, checks)
        out.append((loaded - base) / checks)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--baseline", type=Path, help="a tree of the code without the tracing change"
    )
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.child is not None:
        asyncio.run(_drive(args.child))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install -y valgrind)")
    trees = [("this tree", _REPO)]
    if args.baseline is not None:
        (args.baseline / "bench").mkdir(exist_ok=True)
        shutil.copy(__file__, args.baseline / "bench" / "tracing_overhead.py")
        trees.insert(0, ("baseline", args.baseline.resolve()))
    medians = {}
    for name, tree in trees:
        figures = _per_check(tree, args.checks, args.runs)
        medians[name] = statistics.median(figures)
        print(
            f"{name:10} {tree}: {', '.join(f'{f:,.0f}' for f in figures)} instructions per check (median {medians[name]:,.0f})"
        )
    if len(medians) == 2:
        delta = medians["this tree"] / medians["baseline"] - 1
        print(f"tracing off vs baseline: {delta * 100:+.2f}% instructions per check")


if __name__ == "__main__":
    main()
