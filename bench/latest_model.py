"""What resolving the store's latest model costs a request: HTTP checks with and without
``authorization_model_id`` and AuthZEN evaluations (which never name one) against
``permsvc serve --workers 2`` on PostgreSQL holding the Drive dataset.

Each row: ``wrk`` for ``--duration`` seconds at ``--connections`` in flight, cycling through the
sampled checks; server CPU per request (the server's process group, from ``/proc``), requests/s,
and the database transactions per request (``pg_stat_database.xact_commit`` of the bench database
before and after the run: every statement a pool connection runs outside a transaction is one).

    .venv/bin/python -m bench.latest_model [--scale 0.1] [--duration 10] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import asyncpg

from bench.drive import build_dataset
from bench.http_bench import _accounted, _lua_script, _wrk, live_server

__all__ = ("measure_latest_model",)


def _check_bodies(checks: list[Any], model_id: str) -> list[dict[str, Any]]:
    named = {"authorization_model_id": model_id} if model_id else {}
    return [
        {"tuple_key": {"user": c.user, "relation": c.relation, "object": c.object}, **named}
        for c in checks
    ]


def _evaluation_bodies(checks: list[Any]) -> list[dict[str, Any]]:
    bodies = []
    for c in checks:
        if "#" in c.user:
            continue
        subject_type, _, subject_id = c.user.partition(":")
        resource_type, _, resource_id = c.object.partition(":")
        bodies.append(
            {
                "subject": {"type": subject_type, "id": subject_id},
                "action": {"name": c.relation},
                "resource": {"type": resource_type, "id": resource_id},
            }
        )
    return bodies


async def _commits(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        return int(
            await conn.fetchval(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
            )
        )
    finally:
        await conn.close()


async def measure_latest_model(
    *, scale: float, duration_s: float, connections: int
) -> dict[str, Any]:
    dataset, _ = build_dataset(scale)
    folder = Path(tempfile.mkdtemp(prefix="permsvc-bench-latest-"))
    rows: list[dict[str, Any]] = []
    try:
        async with live_server(dataset) as server:
            base = f"{server.base_url}/stores/{server.store_id}"
            runs = (
                (
                    "check, model id named",
                    f"{base}/check",
                    _check_bodies(dataset.checks, server.model_id),
                ),
                ("check, no model id", f"{base}/check", _check_bodies(dataset.checks, "")),
                (
                    "authzen evaluation",
                    f"{base}/access/v1/evaluation",
                    _evaluation_bodies(dataset.checks),
                ),
            )
            for label, url, bodies in runs:
                script = _lua_script(bodies, folder / f"run-{len(rows)}.lua")
                _wrk(url, connections, 1, script)  # warm-up: the answer cache and connections
                before = await _commits(server.database_url)
                row = await _accounted(
                    server, functools.partial(_wrk, url, connections, duration_s, script)
                )
                after = await _commits(server.database_url)
                row["db_transactions_per_request"] = round(
                    (after - before) / max(row["requests"], 1), 3
                )
                rows.append({"run": label, "in_flight": connections, **row})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "scale": scale,
        "tuples": len(dataset.tuples),
        "duration_s": duration_s,
        "workers": 2,
        "runs": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is required", file=sys.stderr)
        return 2
    result = asyncio.run(
        measure_latest_model(
            scale=args.scale, duration_s=args.duration, connections=args.connections
        )
    )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
