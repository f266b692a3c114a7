"""Write latency while checks saturate the server, and a soak of that mix.

``permsvc serve --workers 2`` on PostgreSQL holding the Drive dataset (:mod:`bench.drive`, ~360k
tuples at scale 1), loaded once; :func:`bench.http_bench.spawn_server` starts the server(s) on it.
Checks come from ``wrk`` (another process; distinct checks of the Drive mix, ``--connections`` in
flight; without ``wrk`` the httpx load generator of :mod:`bench.http_bench`). Beside them one
writer (this process, one keep-alive connection) sends ``--writes-per-s`` Writes on a fixed
schedule, alternately granting ``document#viewer`` to a fresh user and revoking it, and times
each from request to response.

Each server is measured in three phases: checks alone, checks with the writer (the mix), and the
writer alone (the floor: a write on an idle server). The check load runs in windows of
``--sample`` seconds (one ``wrk`` run each), and every window is a sample: checks/s, check
p50/p99, the writes that started in it (p50/p99/max), errors, the RSS of every server process
and the load average.

``--baseline TREE`` adds a server run from another source tree (the commit before a change,
``git archive <commit> | tar -x -C TREE``), measured in the same rounds. ``--compare`` starts
two servers on the same database, one with ``PERMSVC_WRITE_PRIORITY=true``
(the default: while a write is in progress a worker admits only a few checks per event-loop
step) and one with ``false``, and alternates their mixes ``--rounds`` times, so both are
measured in the same window of a shared machine. ``--duration`` is the length of each mix phase;
a soak is one long mix::

    .venv/bin/python -m bench.write_under_load --compare --rounds 2 --duration 30
    .venv/bin/python -m bench.write_under_load --duration 1800 --sample 60 --no-phases
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from bench.drive import build_dataset, distinct_checks
from bench.engine import latency_summary
from bench.http_bench import (
    DEFAULT_ADMIN_URL,
    LiveServer,
    _bodies,
    _group_cpu_s,
    _loadgen,
    _lua_script,
    _wrk,
    fresh_database,
    group_processes,
    load_database,
    spawn_server,
)
from bench.visibility import _Connection

__all__ = (
    "MODES",
    "measure_write_under_load",
    "memory_slope_mb_per_h",
    "p99_drift_ms_per_h",
)

MODES: dict[str, dict[str, str]] = {
    "write_priority": {"PERMSVC_WRITE_PRIORITY": "true"},
    "no_priority": {"PERMSVC_WRITE_PRIORITY": "false"},
}
"""The server configurations ``--compare`` measures side by side."""


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def server_rss_mb(pgid: int) -> dict[str, float]:
    """RSS in MiB of every live process of the server's process group, by pid."""
    out: dict[str, float] = {}
    for entry in group_processes(pgid):
        try:
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[entry.name] = round(int(line.split()[1]) / 1024, 1)
        except (OSError, ValueError):
            continue
    return out


def _slope_per_h(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of ``(seconds, value)`` points, per hour."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    if len(points) < 2 or len(set(xs)) < 2:
        return 0.0
    return round(statistics.linear_regression(xs, ys).slope * 3600, 2)


def memory_slope_mb_per_h(samples: list[dict[str, Any]]) -> dict[str, float]:
    """Least-squares slope of each process's RSS over the samples' times, MiB per hour."""
    series: dict[str, list[tuple[float, float]]] = {}
    for sample in samples:
        for pid, rss in sample.get("rss_mb", {}).items():
            series.setdefault(pid, []).append((sample["t_s"], rss))
    return {pid: _slope_per_h(points) for pid, points in series.items() if len(points) > 1}


def p99_drift_ms_per_h(samples: list[dict[str, Any]]) -> dict[str, float]:
    """Least-squares slope of the check and write p99 of the samples, ms per hour."""
    return {
        key: _slope_per_h([(s["t_s"], s[key]) for s in samples if s.get(key) is not None])
        for key in ("check_p99_ms", "write_p99_ms")
        if any(s.get(key) is not None for s in samples)
    }


class _Writer:
    """Grants and revokes on a fixed schedule over one keep-alive connection, timing each."""

    def __init__(self, server: LiveServer, docs: list[str], per_s: float) -> None:
        self.server = server
        self.docs = docs
        self.interval = 1.0 / per_s
        self.samples: list[tuple[float, int]] = []
        """(start, from the run's clock; latency in ns) of every successful write."""
        self.errors: list[str] = []
        self._stamp = time.strftime("%H%M%S") + f"-{os.getpid()}"
        self._n = 0

    async def run(self, until: float) -> None:
        port = int(self.server.base_url.rsplit(":", 1)[1])
        conn = await _Connection.open(port)
        path = f"/stores/{self.server.store_id}/write"
        try:
            next_at = time.perf_counter()
            while next_at < until:
                delay = next_at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                i, self._n = self._n, self._n + 1
                key = {
                    "user": f"user:wul-{self._stamp}-{i // 2}",
                    "relation": "viewer",
                    "object": self.docs[(i // 2) % len(self.docs)],
                }
                body = {
                    ("writes" if i % 2 == 0 else "deletes"): {"tuple_keys": [key]},
                    "authorization_model_id": self.server.model_id,
                }
                started_ns = time.perf_counter_ns()
                started = started_ns / 1e9
                try:
                    status, _, answer = await conn.request("POST", path, body)
                except (OSError, asyncio.IncompleteReadError, ValueError) as err:
                    self.errors.append(f"{type(err).__name__}: {err}")
                    conn.close()
                    conn = await _Connection.open(port)
                else:
                    elapsed = time.perf_counter_ns() - started_ns
                    if status == 200:
                        self.samples.append((started, elapsed))
                    else:
                        self.errors.append(f"{status} {answer}")
                next_at = max(next_at + self.interval, time.perf_counter() - self.interval)
        finally:
            conn.close()

    def window(self, start: float, end: float) -> list[int]:
        return [ns for t, ns in self.samples if start <= t < end]


def _write_summary(samples_ns: list[int]) -> dict[str, Any]:
    row: dict[str, Any] = {"writes": len(samples_ns), **latency_summary(samples_ns)}
    row["max_ms"] = round(max(samples_ns) / 1e6, 3) if samples_ns else 0.0
    return row


async def _phase(
    server: LiveServer,
    check_load: Callable[[float], dict[str, Any]] | None,
    writer: _Writer | None,
    *,
    duration_s: float,
    sample_s: float,
    on_sample: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    """Checks (in windows of ``sample_s``) and/or the writer for ``duration_s``."""
    begin = time.perf_counter()
    until = begin + duration_s
    loadavg_start = _loadavg()
    writing = asyncio.create_task(writer.run(until)) if writer is not None else None
    samples: list[dict[str, Any]] = []
    try:
        while (now := time.perf_counter()) < until - 0.5:
            window = min(sample_s, until - now)
            cpu_before = _group_cpu_s(server.pid)
            if check_load is not None:
                checks = await asyncio.to_thread(check_load, window)
            else:
                await asyncio.sleep(window)
                checks = {}
            end = time.perf_counter()
            sample: dict[str, Any] = {
                "t_s": round(end - begin, 1),
                "checks_per_s": checks.get("requests_per_s"),
                "check_p50_ms": checks.get("p50_ms"),
                "check_p99_ms": checks.get("p99_ms"),
                "check_errors": checks.get("non_2xx", 0) + _socket_errors(checks),
                "server_cpu_s": round(_group_cpu_s(server.pid) - cpu_before, 2),
            }
            if checks.get("requests"):
                sample["server_cpu_us_per_check"] = round(
                    sample["server_cpu_s"] / checks["requests"] * 1e6, 1
                )
            if writer is not None:
                w = _write_summary(writer.window(now, end))
                sample.update({f"write_{k}": v for k, v in w.items() if k != "mean_ms"})
            sample["rss_mb"] = server_rss_mb(server.pid)
            sample["loadavg"] = _loadavg()
            samples.append(sample)
            on_sample(sample)
        if writing is not None:
            await writing
    finally:
        if writing is not None and not writing.done():
            writing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writing
    row: dict[str, Any] = {
        "duration_s": round(time.perf_counter() - begin, 1),
        "loadavg_start": loadavg_start,
        "loadavg_end": _loadavg(),
        "samples": samples,
    }
    if check_load is not None:
        rates = [s["checks_per_s"] for s in samples if s["checks_per_s"] is not None]
        row["checks_per_s"] = round(statistics.fmean(rates)) if rates else 0
        row["check_p50_ms"] = statistics.median(s["check_p50_ms"] or 0.0 for s in samples)
        row["check_p99_ms"] = max((s["check_p99_ms"] or 0.0) for s in samples)
        row["check_errors"] = sum(s["check_errors"] for s in samples)
        per_check = [
            s["server_cpu_us_per_check"] for s in samples if "server_cpu_us_per_check" in s
        ]
        row["server_cpu_us_per_check"] = statistics.median(per_check) if per_check else None
    if writer is not None:
        row["write"] = _write_summary([ns for _, ns in writer.samples])
        row["write_errors"] = len(writer.errors)
        row["write_error_examples"] = writer.errors[:5]
    row["memory_slope_mb_per_h"] = memory_slope_mb_per_h(samples)
    row["p99_drift_ms_per_h"] = p99_drift_ms_per_h(samples)
    return row


def _socket_errors(row: dict[str, Any]) -> int:
    """The count of wrk's ``Socket errors: connect 0, read 0, write 0, timeout 0`` line."""
    text = str(row.get("socket_errors", ""))
    return sum(int(part.split()[-1]) for part in text.split(",") if part.strip())


def _check_tool(url: str, connections: int, script: Path) -> Callable[[float], dict[str, Any]]:
    if shutil.which("wrk") is not None:
        return lambda seconds: _wrk(url, connections, seconds, script)
    return lambda seconds: _loadgen(url, connections, seconds, script)


async def measure_write_under_load(
    server: LiveServer,
    bodies: list[dict[str, Any]],
    docs: list[str],
    *,
    connections: int = 32,
    writes_per_s: float = 20.0,
    duration_s: float = 30.0,
    sample_s: float = 10.0,
    phases: bool = True,
    on_sample: Callable[[dict[str, Any]], None] = lambda _s: None,
) -> dict[str, Any]:
    """Checks alone, checks + writer, writer alone (``phases=False``: the mix only)."""
    folder = Path(tempfile.mkdtemp(prefix="permsvc-bench-wul-"))
    try:
        url = f"{server.base_url}/stores/{server.store_id}/check"
        if shutil.which("wrk") is not None:
            script = _lua_script(bodies, folder / "checks.lua")
        else:
            script = folder / "bodies.json"
            script.write_text(json.dumps(bodies))
        checks = _check_tool(url, connections, script)
        run = functools.partial(_phase, server, duration_s=duration_s, on_sample=on_sample)
        out: dict[str, Any] = {}
        if phases:
            out["checks_only"] = await run(checks, None, sample_s=sample_s)
        out["mix"] = await run(checks, _Writer(server, docs, writes_per_s), sample_s=sample_s)
        if phases:
            out["writes_only"] = await run(
                None, _Writer(server, docs, writes_per_s), sample_s=duration_s
            )
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.asynccontextmanager
async def _servers(
    url: str,
    store_id: str,
    model_id: str,
    modes: dict[str, dict[str, str]],
    workers: int,
    baseline: Path | None,
) -> AsyncIterator[dict[str, LiveServer]]:
    async with contextlib.AsyncExitStack() as stack:
        servers = {
            name: await stack.enter_async_context(
                spawn_server(url, store_id, model_id, workers=workers, env=env)
            )
            for name, env in modes.items()
        }
        if baseline is not None:
            servers["baseline"] = await stack.enter_async_context(
                spawn_server(url, store_id, model_id, workers=workers, tree=baseline)
            )
        yield servers


def _print_sample(label: str) -> Callable[[dict[str, Any]], None]:
    def show(sample: dict[str, Any]) -> None:
        print(json.dumps({"at": time.strftime("%H:%M:%S"), "server": label, **sample}), flush=True)

    return show


async def run(args: argparse.Namespace) -> dict[str, Any]:
    dataset, oracle = build_dataset(args.scale, checks=200)
    load = distinct_checks(oracle, args.distinct)
    docs = [c.object for c in dataset.checks if c.object.startswith("document:")]
    modes = MODES if args.compare else {"default": {}}
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "scale": args.scale,
        "tuples": len(dataset.tuples),
        "connections": args.connections,
        "writes_per_s": args.writes_per_s,
        "workers": args.workers,
        "load_generator": "wrk" if shutil.which("wrk") else "bench.http_bench (httpx)",
        "loadavg_start": _loadavg(),
        "runs": [],
    }
    async with fresh_database(args.postgres_url) as url:
        store_id, model_id, load_s, _ = await load_database(url, dataset)
        result["bulk_load_s"] = round(load_s, 1)
        async with _servers(url, store_id, model_id, modes, args.workers, args.baseline) as servers:
            for r in range(args.rounds):
                for name, server in servers.items():
                    bodies = _bodies(server, load)
                    row = await measure_write_under_load(
                        server,
                        bodies,
                        docs,
                        connections=args.connections,
                        writes_per_s=args.writes_per_s,
                        duration_s=args.duration,
                        sample_s=min(args.sample, args.duration),
                        phases=args.phases,
                        on_sample=_print_sample(f"{name}#{r + 1}"),
                    )
                    result["runs"].append({"server": name, "round": r + 1, **row})
    result["loadavg_end"] = _loadavg()
    result["summary"] = _summary(result["runs"])
    return result


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per server: median over rounds of the mix's figures, and the checks-alone rate."""
    out: dict[str, Any] = {}
    for name in dict.fromkeys(r["server"] for r in runs):
        mine = [r for r in runs if r["server"] == name]
        mix = [r["mix"] for r in mine]
        row: dict[str, Any] = {
            "mix_write_p50_ms": statistics.median(m["write"]["p50_ms"] for m in mix),
            "mix_write_p99_ms": statistics.median(m["write"]["p99_ms"] for m in mix),
            "mix_write_max_ms": max(m["write"]["max_ms"] for m in mix),
            "mix_checks_per_s": statistics.median(m["checks_per_s"] for m in mix),
            "mix_check_p99_ms": statistics.median(m["check_p99_ms"] for m in mix),
            "mix_server_cpu_us_per_check": statistics.median(
                m["server_cpu_us_per_check"] or 0.0 for m in mix
            ),
            "errors": sum(m["check_errors"] + m["write_errors"] for m in mix),
        }
        if "checks_only" in mine[0]:
            row["checks_only_per_s"] = statistics.median(
                r["checks_only"]["checks_per_s"] for r in mine
            )
            row["checks_only_server_cpu_us_per_check"] = statistics.median(
                r["checks_only"]["server_cpu_us_per_check"] or 0.0 for r in mine
            )
            row["writes_only_p99_ms"] = statistics.median(
                r["writes_only"]["write"]["p99_ms"] for r in mine
            )
        out[name] = row
    names = list(out)
    for other in names[1:]:
        if out[other]["mix_write_p99_ms"]:
            key = "write_p99_ratio" if other == "no_priority" else f"write_p99_ratio_vs_{other}"
            out[key] = round(out[names[0]]["mix_write_p99_ms"] / out[other]["mix_write_p99_ms"], 3)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="Drive dataset scale (1.0: ~360k tuples)"
    )
    parser.add_argument("--connections", type=int, default=32, help="checks in flight")
    parser.add_argument("--writes-per-s", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per phase")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds per sample window")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--compare", action="store_true", help="with and without write priority")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="also measure a server run from this source tree (e.g. the commit before the change)",
    )
    parser.add_argument(
        "--no-phases", dest="phases", action="store_false", help="the mix only (a soak)"
    )
    parser.add_argument("--distinct", type=int, default=30_000, help="distinct checks in the load")
    parser.add_argument("--postgres-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--output", type=Path, help="JSON result (default: stdout only)")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    text = json.dumps(result, indent=2)
    if args.output is not None:
        args.output.write_text(text + "\n")
    print(json.dumps({"summary": result["summary"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
