"""permsvc over HTTP: ``permsvc serve --workers 2`` on PostgreSQL, load from another process.

:func:`live_server` creates a fresh PostgreSQL database on the server of ``admin_url``, loads the
dataset through the bulk path (``bulk_write``: one transaction, one revision), runs ``ANALYZE``,
starts the server on a free loopback port and waits until both workers have indexed the store
(each logs ``ready`` once its lifespan, which builds the index, has finished). On exit the server
is stopped (SIGTERM to its process group) and the database dropped.

:func:`measure_http` drives the server with ``wrk`` (a separate process; a Lua script cycles POST
bodies through the sampled checks, naming the model id as SDKs do) at 1, 16 and 64 connections in
flight, and ``/healthz`` the same way as the ceiling of the server and framework. Each run is
bounded by its duration. Without ``wrk`` the load comes from this module run as a child process
(``python -m bench.http_bench URL``: an httpx client with N concurrent asyncio tasks). Every sampled decision is then checked once more over HTTP, sequentially, and
compared with the oracle.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import msgspec

from bench.drive import DSL
from permsvc.model.compile import parse_dsl
from permsvc.store.postgres import PostgresDatastore

if TYPE_CHECKING:
    from bench.drive import DriveDataset, SampledCheck

__all__ = (
    "DEFAULT_ADMIN_URL",
    "LiveServer",
    "fresh_database",
    "group_processes",
    "live_server",
    "load_database",
    "measure_http",
    "spawn_server",
)

DEFAULT_ADMIN_URL = os.environ.get(
    "PERMSVC_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
"""A database on the PostgreSQL server to use; fresh databases are created next to it."""

_READY = re.compile(r"permsvc \S+ ready")
_REPO = Path(__file__).resolve().parent.parent
_CONCURRENCY = (1, 16, 64)


class LiveServer(msgspec.Struct, kw_only=True):
    """A running ``permsvc serve``: where it listens and what it serves."""

    base_url: str
    store_id: str
    model_id: str
    database_url: str
    workers: int
    pid: int
    bulk_load_s: float
    analyze_s: float
    startup_s: float
    """From spawning the server until every worker had indexed the store and said it was ready."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def load_database(url: str, dataset: DriveDataset) -> tuple[str, str, float, float]:
    datastore = await PostgresDatastore.open(url)
    try:
        store_id = (await datastore.create_store("bench-drive")).id
        model_id = (await datastore.write_model(store_id, parse_dsl(DSL), dsl=DSL)).id
        started = time.perf_counter()
        await datastore.bulk_write(store_id, dataset.tuples)
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        async with datastore.pool.acquire() as conn:
            await conn.execute("ANALYZE")
        return store_id, model_id, load_s, time.perf_counter() - started
    finally:
        await datastore.aclose()


@contextlib.asynccontextmanager
async def fresh_database(admin_url: str) -> AsyncIterator[str]:
    """The URL of a new, empty database on the server of ``admin_url``; dropped on exit."""
    name = f"permsvc_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield admin_url.rsplit("/", 1)[0] + "/" + name
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def live_server(
    dataset: DriveDataset,
    *,
    admin_url: str = DEFAULT_ADMIN_URL,
    workers: int = 2,
    ready_timeout_s: float = 300.0,
) -> AsyncIterator[LiveServer]:
    """A ``permsvc serve --workers N`` on a fresh PostgreSQL database holding ``dataset``."""
    async with (
        fresh_database(admin_url) as url,
        _serving(dataset, url, workers, ready_timeout_s) as server,
    ):
        yield server


@contextlib.asynccontextmanager
async def _serving(
    dataset: DriveDataset, url: str, workers: int, ready_timeout_s: float
) -> AsyncIterator[LiveServer]:
    store_id, model_id, load_s, analyze_s = await load_database(url, dataset)
    async with spawn_server(
        url, store_id, model_id, workers=workers, ready_timeout_s=ready_timeout_s
    ) as server:
        yield msgspec.structs.replace(
            server, bulk_load_s=round(load_s, 2), analyze_s=round(analyze_s, 2)
        )


@contextlib.asynccontextmanager
async def spawn_server(
    url: str,
    store_id: str,
    model_id: str,
    *,
    workers: int = 2,
    ready_timeout_s: float = 300.0,
    env: dict[str, str] | None = None,
    tree: Path = _REPO,
) -> AsyncIterator[LiveServer]:
    """``permsvc serve --workers N`` on the loaded database ``url`` (extra ``env`` for it), once
    every worker has indexed the store; stopped on exit. ``tree``: the source tree the server runs
    from (another checkout, e.g. the commit before a change, to compare in the same window)."""
    log = tempfile.NamedTemporaryFile(prefix="permsvc-bench-serve-", suffix=".log", delete=False)  # noqa: SIM115
    proc: subprocess.Popen[bytes] | None = None
    try:
        port = _free_port()
        env = {
            **os.environ,
            "PERMSVC_ACCESS_LOG": "false",
            "PERMSVC_LOG_LEVEL": "info",
            **(env or {}),
        }
        started = time.perf_counter()
        proc = subprocess.Popen(  # noqa: ASYNC220 - our own CLI; Popen returns at once
            [
                sys.executable,
                "-m",
                "permsvc",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--database-url",
                url,
            ],
            cwd=tree,
            env={**env, "PYTHONPATH": str(tree)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = started + ready_timeout_s
        while True:
            text = Path(log.name).read_text(errors="replace")
            if len(_READY.findall(text)) >= workers:
                break
            if proc.poll() is not None or time.perf_counter() > deadline:
                raise RuntimeError(
                    f"permsvc serve did not become ready; its log ({log.name}):\n{text[-3000:]}"
                )
            await asyncio.sleep(0.05)
        startup_s = time.perf_counter() - started
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            (await client.get("/healthz")).raise_for_status()
        yield LiveServer(
            base_url=base,
            store_id=store_id,
            model_id=model_id,
            database_url=url,
            workers=workers,
            pid=proc.pid,
            bulk_load_s=0.0,
            analyze_s=0.0,
            startup_s=round(startup_s, 2),
        )
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
        Path(log.name).unlink(missing_ok=True)


def _bodies(server: LiveServer, checks: list[SampledCheck]) -> list[dict[str, Any]]:
    return [
        {
            "tuple_key": {"user": c.user, "relation": c.relation, "object": c.object},
            "authorization_model_id": server.model_id,
        }
        for c in checks
    ]


def _lua_script(bodies: list[dict[str, Any]], path: Path) -> Path:
    lua = ["bodies = {"]
    lua += [
        f"  [{i + 1}] = {json.dumps(json.dumps(body, separators=(',', ':')))},"
        for i, body in enumerate(bodies)
    ]
    lua += [
        "}",
        f"n = {len(bodies)}",
        "counter = 0",
        'wrk.method = "POST"',
        'wrk.headers["Content-Type"] = "application/json"',
        "function setup(thread) thread:set('offset', math.random(n)) end",
        "function request()",
        "  counter = counter + 1",
        "  local body = bodies[((counter + (offset or 0)) % n) + 1]",
        "  return wrk.format(nil, nil, nil, body)",
        "end",
    ]
    path.write_text("\n".join(lua) + "\n")
    return path


def group_processes(pgid: int) -> Iterator[Path]:
    """The ``/proc`` directories of the live processes of process group ``pgid`` (the server)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) == pgid:
                yield entry
        except OSError:
            continue


def _group_cpu_s(pgid: int) -> float:
    """CPU seconds used so far by the live processes of process group ``pgid`` (the server)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in group_processes(pgid):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, ValueError, IndexError):
            continue
    return total


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def _accounted(server: LiveServer, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``run()`` (one load-generator run) with the CPU it cost the server and the generator, per
    request: on a shared machine the figure that load from other jobs distorts least."""
    server_before, children_before = _group_cpu_s(server.pid), _children_cpu_s()
    row = await asyncio.to_thread(run)
    server_s, generator_s = (
        _group_cpu_s(server.pid) - server_before,
        _children_cpu_s() - children_before,
    )
    requests = max(int(row.get("requests", 0)), 1)
    row["server_cpu_us_per_request"] = round(server_s / requests * 1e6, 1)
    row["generator_cpu_us_per_request"] = round(generator_s / requests * 1e6, 1)
    return row


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _parse_wrk(text: str) -> dict[str, Any]:
    def ms(value: str) -> float:
        m = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
        if m is None:
            raise ValueError(f"unexpected wrk latency {value!r} in:\n{text}")
        return round(float(m.group(1)) * _UNITS[m.group(2)], 3)

    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if rps is None:
        raise ValueError(f"wrk printed no Requests/sec:\n{text}")
    out: dict[str, Any] = {"requests_per_s": round(float(rps.group(1)))}
    for label, key in (("50%", "p50_ms"), ("99%", "p99_ms")):
        m = re.search(rf"^\s+{re.escape(label)}\s+(\S+)", text, re.MULTILINE)
        if m:
            out[key] = ms(m.group(1))
    requests = re.search(r"(\d+) requests in", text)
    out["requests"] = int(requests.group(1)) if requests else 0
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(r"Socket errors: (.*)", text)
    out["non_2xx"] = int(errors.group(1)) if errors else 0
    out["socket_errors"] = socket_errors.group(1).strip() if socket_errors else ""
    return out


def _wrk(url: str, connections: int, duration_s: float, script: Path | None) -> dict[str, Any]:
    threads = 1 if connections < 2 else 2
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(int(duration_s), 1)}s",
        "--timeout",
        "5s",
        "--latency",
    ]
    if script is not None:
        cmd += ["-s", str(script)]
    done = subprocess.run(
        [*cmd, url], capture_output=True, text=True, timeout=duration_s + 60, check=True
    )
    return _parse_wrk(done.stdout)


def _loadgen(
    url: str, connections: int, duration_s: float, bodies_file: Path | None
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "bench.http_bench",
        url,
        "--connections",
        str(connections),
        "--duration",
        str(duration_s),
    ]
    if bodies_file is not None:
        cmd += ["--bodies", str(bodies_file)]
    done = subprocess.run(
        cmd, cwd=_REPO, capture_output=True, text=True, timeout=duration_s + 120, check=True
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


async def _verify(server: LiveServer, dataset: DriveDataset) -> tuple[int, int]:
    """Every sampled check once, sequentially, compared with the oracle: (mismatches, errors)."""
    wrong = errors = 0
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        for c in dataset.checks:
            response = await client.post(
                f"/stores/{server.store_id}/check",
                json={
                    "tuple_key": {"user": c.user, "relation": c.relation, "object": c.object},
                    "authorization_model_id": server.model_id,
                },
            )
            if response.status_code != 200:
                errors += 1
                continue
            wrong += response.json()["allowed"] != c.expected
    return wrong, errors


async def measure_http(
    server: LiveServer, dataset: DriveDataset, load: list[SampledCheck], *, duration_s: float = 5.0
) -> dict[str, Any]:
    """Checks/s and p50/p99 at 1, 16 and 64 in flight for check and ``/healthz``, plus decisions.

    ``load`` is split in one slice per concurrency level, all different checks, so no request is
    answered from the server's answer cache unless a run sends more requests than its slice
    holds (``requests`` vs ``distinct_bodies`` in each row says whether it did)."""
    use_wrk = shutil.which("wrk") is not None
    folder = Path(tempfile.mkdtemp(prefix="permsvc-bench-http-"))
    size = max(len(load) // len(_CONCURRENCY), 1)
    try:
        check_url = f"{server.base_url}/stores/{server.store_id}/check"
        health_url = f"{server.base_url}/healthz"
        rows: list[dict[str, Any]] = []
        for n, connections in enumerate(_CONCURRENCY):
            bodies = _bodies(server, load[n * size : (n + 1) * size] or dataset.checks)
            if use_wrk:
                script = _lua_script(bodies, folder / f"checks-{connections}.lua")
                tool = _wrk
            else:
                script = folder / f"bodies-{connections}.json"
                script.write_text(json.dumps(bodies))
                tool = _loadgen
            check_row = await _accounted(
                server, functools.partial(tool, check_url, connections, duration_s, script)
            )
            health_row = await _accounted(
                server, functools.partial(tool, health_url, connections, duration_s, None)
            )
            rows.append(
                {
                    "endpoint": "check",
                    "in_flight": connections,
                    "distinct_bodies": len(bodies),
                    **check_row,
                }
            )
            rows.append({"endpoint": "healthz", "in_flight": connections, **health_row})
        mismatches, errors = await _verify(server, dataset)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "load_generator": "wrk" if use_wrk else "bench.http_bench (httpx, asyncio)",
        "duration_s": duration_s,
        "workers": server.workers,
        "runs": rows,
        "verified_checks": len(dataset.checks),
        "mismatches": mismatches,
        "errors": errors,
    }


async def _generate_load(
    url: str, connections: int, duration_s: float, bodies: list[Any] | None
) -> dict[str, Any]:
    """``connections`` tasks each sending requests back to back for ``duration_s``."""
    samples: list[int] = []
    failures = 0
    stop = time.perf_counter() + duration_s
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)

    async def worker(client: httpx.AsyncClient, offset: int) -> None:
        nonlocal failures
        k = offset
        while time.perf_counter() < stop:
            t0 = time.perf_counter_ns()
            if bodies is None:
                response = await client.get(url)
            else:
                response = await client.post(url, json=bodies[k % len(bodies)])
                k += 1
            samples.append(time.perf_counter_ns() - t0)
            failures += response.status_code >= 300

    started = time.perf_counter()
    async with httpx.AsyncClient(limits=limits, timeout=5) as client:
        await asyncio.gather(*(worker(client, i * 997) for i in range(connections)))
    elapsed = time.perf_counter() - started
    ordered = sorted(samples)
    return {
        "requests_per_s": round(len(ordered) / elapsed),
        "p50_ms": round(ordered[len(ordered) // 2] / 1e6, 3) if ordered else 0.0,
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1e6, 3)
        if ordered
        else 0.0,
        "requests": len(ordered),
        "non_2xx": failures,
        "socket_errors": "",
    }


def main() -> int:
    """The fallback load generator: prints one JSON object (see :func:`_generate_load`)."""
    import argparse

    parser = argparse.ArgumentParser(description="loopback HTTP load generator for the benchmark")
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--bodies", type=Path, help="JSON list of POST bodies (GET without)")
    args = parser.parse_args()
    bodies = json.loads(args.bodies.read_text()) if args.bodies else None
    print(
        json.dumps(asyncio.run(_generate_load(args.url, args.connections, args.duration, bodies)))
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
