"""What the clients add to one permission check: permsvc-client against a bare HTTP call.

    .venv/bin/python bench/clients_overhead.py [--checks 2000] [--rounds 5]

Starts ``permsvc serve`` (SQLite, in-memory index) on loopback with the examples' documents
model and one grant, then times sequential ``POST /v1/check`` calls, each asking the same allowed
question with an admin API key naming the user:

- **python bare**: ``httpx.Client.post`` with the JSON body and headers written by hand, one
  keep-alive connection, ``response.json()["allowed"]``;
- **python client**: ``permsvc_client.Permsvc.check`` (request building, validation, typed
  result, error mapping) over its own keep-alive connection;
- **python async bare / async client**: the same with ``httpx.AsyncClient`` / ``AsyncPermsvc``;
- **node bare / node client**: ``fetch`` with the body and headers by hand, and the Node
  client's ``check`` (``clients/node``), both in one Node process.

Bare and client calls alternate in rounds (``--rounds`` x ``--checks`` each) so drift in the
machine's load hits both alike. Two overheads are reported: the difference of the per-call wall
medians (the server's time is in both, so on a loaded machine its noise dominates), and the
difference of the calling process's CPU time per call (``process_time`` / ``process.cpuUsage``:
what the client itself costs, independent of the server's latency). Last, both sides run against an
in-process fake permsvc (``httpx.MockTransport``, a fake ``fetch``): no server and no socket, so
the CPU time per call is the calling code's alone. Prints a table and writes JSON to
``bench/results/clients_overhead-<utc timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT / "clients" / "python"))

from permsvc_client import AsyncPermsvc, Permsvc

PERMSVC = Path(sys.executable).with_name("permsvc")
QUESTION = {"relation": "can_read", "object": "document:roadmap", "user": "user:alice"}

NODE_BENCH = r"""
import { createClient } from './index.js';
const [url, key, store, checks, rounds] = process.argv.slice(2);
const body = JSON.stringify({ relation: 'can_read', object: 'document:roadmap', user: 'user:alice', store_id: store });
const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
const client = createClient({ url, credential: key, storeId: store });
async function bare() {
  const r = await fetch(`${url}/v1/check`, { method: 'POST', headers, body });
  if (!(await r.json()).allowed) throw new Error('denied');
}
async function viaClient() {
  if (!(await client.check({ relation: 'can_read', object: 'document:roadmap', user: 'user:alice' })).allowed) throw new Error('denied');
}
const times = { bare: [], client: [] };
const cpu = { bare: 0, client: 0 };
for (let i = 0; i < 200; i++) { await bare(); await viaClient(); }
for (let r = 0; r < Number(rounds); r++) {
  for (const [name, fn] of [['bare', bare], ['client', viaClient]]) {
    const before = process.cpuUsage();
    for (let i = 0; i < Number(checks); i++) {
      const t = process.hrtime.bigint();
      await fn();
      times[name].push(Number(process.hrtime.bigint() - t) / 1e3);
    }
    const used = process.cpuUsage(before);
    cpu[name] += used.user + used.system;
  }
}
// In-process: a fake fetch answering at once (no server, no socket): only the calling code's cost.
const answer = JSON.stringify({ user: 'user:alice', store_id: 's', authorization_model_id: 'm', revision: 1, consistency_token: 't', allowed: true, object: 'document:roadmap', relation: 'can_read' });
const fakeFetch = async () => new Response(answer, { status: 200, headers: { 'content-type': 'application/json' } });
const fakeClient = createClient({ url: 'http://permsvc', credential: key, storeId: 's', fetch: fakeFetch });
const inProcess = {};
const calls = Number(checks) * 5;
for (let pass = 0; pass < 2; pass++) {
  for (const [name, fn] of [
    ['bare', async () => { const r = await fakeFetch('http://permsvc/v1/check', { method: 'POST', headers, body }); if (!(await r.json()).allowed) throw new Error('denied'); }],
    ['client', async () => { if (!(await fakeClient.check({ relation: 'can_read', object: 'document:roadmap', user: 'user:alice' })).allowed) throw new Error('denied'); }],
  ]) {
    const before = process.cpuUsage();
    for (let i = 0; i < calls; i++) await fn();
    const used = process.cpuUsage(before);
    inProcess[name] = (used.user + used.system) / calls;
  }
}
console.log(JSON.stringify({ times, cpu, inProcess }));
"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _summary(micros: list[float]) -> dict[str, float]:
    q = statistics.quantiles(micros, n=100)
    return {"n": len(micros), "p50_us": statistics.median(micros), "p90_us": q[89], "p99_us": q[98]}


CPU: dict[str, float] = {}
IN_PROCESS: dict[str, float] = {}
"""CPU microseconds per call against an in-process fake permsvc, by kind."""
"""Microseconds of this process's CPU time spent per call, by kind (the calling side's cost)."""


def _time(fn: Callable[[], None], n: int, kind: str = "") -> list[float]:
    out = []
    cpu = time.process_time_ns()
    for _ in range(n):
        t = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t) / 1e3)
    if kind:
        CPU[kind] = CPU.get(kind, 0.0) + (time.process_time_ns() - cpu) / 1e3
    return out


async def _atime(fn: Callable[[], Any], n: int, kind: str = "") -> list[float]:
    out = []
    cpu = time.process_time_ns()
    for _ in range(n):
        t = time.perf_counter_ns()
        await fn()
        out.append((time.perf_counter_ns() - t) / 1e3)
    if kind:
        CPU[kind] = CPU.get(kind, 0.0) + (time.process_time_ns() - cpu) / 1e3
    return out


def _python(url: str, key: str, store: str, checks: int, rounds: int) -> dict[str, list[float]]:
    body = {**QUESTION, "store_id": store}
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    times: dict[str, list[float]] = {"python bare": [], "python client": []}
    with (
        httpx.Client(base_url=url, timeout=5) as http,
        Permsvc(url, credential=key, store_id=store) as client,
    ):

        def bare() -> None:
            assert http.post("/v1/check", content=json.dumps(body), headers=headers).json()[
                "allowed"
            ]

        def via_client() -> None:
            assert client.check("can_read", "document:roadmap", user="user:alice").allowed

        _time(bare, 200), _time(via_client, 200)
        for _ in range(rounds):
            times["python bare"] += _time(bare, checks, "python bare")
            times["python client"] += _time(via_client, checks, "python client")
    return times


async def _python_async(
    url: str, key: str, store: str, checks: int, rounds: int
) -> dict[str, list[float]]:
    body = {**QUESTION, "store_id": store}
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    times: dict[str, list[float]] = {"python async bare": [], "python async client": []}
    async with (
        httpx.AsyncClient(base_url=url, timeout=5) as http,
        AsyncPermsvc(url, credential=key, store_id=store) as client,
    ):

        async def bare() -> None:
            assert (await http.post("/v1/check", content=json.dumps(body), headers=headers)).json()[
                "allowed"
            ]

        async def via_client() -> None:
            assert (await client.check("can_read", "document:roadmap", user="user:alice")).allowed

        await _atime(bare, 200), await _atime(via_client, 200)
        for _ in range(rounds):
            times["python async bare"] += await _atime(bare, checks, "python async bare")
            times["python async client"] += await _atime(via_client, checks, "python async client")
    return times


ANSWER = {
    "user": "user:alice",
    "store_id": "s",
    "authorization_model_id": "m",
    "revision": 1,
    "consistency_token": "t",
    "allowed": True,
    "object": "document:roadmap",
    "relation": "can_read",
}


def _python_in_process(calls: int) -> dict[str, float]:
    """CPU microseconds per call with permsvc answered by an in-process fake (httpx.MockTransport):
    no server, no socket, so only what the calling code does is measured."""
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=ANSWER))
    body = json.dumps({**QUESTION, "store_id": "s"})
    headers = {"Authorization": "Bearer k", "Content-Type": "application/json"}
    out: dict[str, float] = {}
    with (
        httpx.Client(base_url="http://permsvc", transport=transport) as http,
        Permsvc("http://permsvc", credential="k", store_id="s", transport=transport) as client,
    ):
        kinds = {
            "python bare": lambda: http.post("/v1/check", content=body, headers=headers).json()[
                "allowed"
            ],
            "python client": lambda: (
                client.check("can_read", "document:roadmap", user="user:alice").allowed
            ),
        }
        for _ in range(2):  # warm-up pass, then the measured one
            for name, fn in kinds.items():
                cpu = time.process_time_ns()
                for _ in range(calls):
                    fn()
                out[name] = (time.process_time_ns() - cpu) / 1e3 / calls
    return out


def _node(url: str, key: str, store: str, checks: int, rounds: int) -> dict[str, list[float]]:
    node = shutil.which("node")
    if node is None:
        return {}
    script = ROOT / "clients" / "node" / ".bench-overhead.mjs"
    script.write_text(NODE_BENCH)
    try:
        out = subprocess.run(
            [node, str(script), url, key, store, str(checks), str(rounds)],
            capture_output=True,
            text=True,
            timeout=1800,
            check=True,
        )
    finally:
        script.unlink()
    result = json.loads(out.stdout)
    CPU["node bare"], CPU["node client"] = result["cpu"]["bare"], result["cpu"]["client"]
    IN_PROCESS["node bare"], IN_PROCESS["node client"] = (
        result["inProcess"]["bare"],
        result["inProcess"]["client"],
    )
    return {"node bare": result["times"]["bare"], "node client": result["times"]["client"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=2000, help="checks per kind per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PERMSVC_")}
        env["PERMSVC_DATA_DIR"] = str(data)
        key = (
            subprocess.run(
                [str(PERMSVC), "admin", "bootstrap"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [str(PERMSVC), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(300):
                try:
                    if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            admin = {"Authorization": f"Bearer {key}"}
            store = httpx.post(
                url + "/stores", json={"name": "bench"}, headers=admin, timeout=10
            ).json()["id"]
            dsl = (ROOT / "examples" / "documents.fga").read_text()
            httpx.post(
                url + "/v1/admin/models",
                json={"store_id": store, "dsl": dsl},
                headers=admin,
                timeout=10,
            ).raise_for_status()
            httpx.post(
                url + "/v1/admin/grants",
                headers=admin,
                timeout=10,
                json={
                    "store_id": store,
                    "tuples": [
                        {"object": "document:roadmap", "relation": "owner", "user": "user:alice"}
                    ],
                },
            ).raise_for_status()
            times = _python(url, key, store, args.checks, args.rounds)
            times.update(asyncio.run(_python_async(url, key, store, args.checks, args.rounds)))
            times.update(_node(url, key, store, args.checks, args.rounds))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=20)
    IN_PROCESS.update(_python_in_process(args.checks * 5))

    rows = {
        name: {**_summary(values), "cpu_us_per_call": CPU[name] / len(values)}
        for name, values in times.items()
    }
    langs = [lang for lang in ("python", "python async", "node") if f"{lang} client" in rows]
    overhead = {
        lang: rows[f"{lang} client"]["p50_us"] - rows[f"{lang} bare"]["p50_us"] for lang in langs
    }
    cpu_overhead = {
        lang: rows[f"{lang} client"]["cpu_us_per_call"] - rows[f"{lang} bare"]["cpu_us_per_call"]
        for lang in langs
    }
    print(f"{'path':<22} {'n':>7} {'p50 us':>9} {'p90 us':>9} {'p99 us':>9} {'cpu us/call':>12}")
    for name, row in rows.items():
        print(
            f"{name:<22} {row['n']:>7} {row['p50_us']:>9.1f} {row['p90_us']:>9.1f} {row['p99_us']:>9.1f}"
            f" {row['cpu_us_per_call']:>12.1f}"
        )
    in_process = {
        lang: IN_PROCESS[f"{lang} client"] - IN_PROCESS[f"{lang} bare"]
        for lang in ("python", "node")
        if f"{lang} client" in IN_PROCESS
    }
    for lang in langs:
        print(
            f"client overhead per check, {lang}: p50 {overhead[lang]:+.1f} us wall, "
            f"{cpu_overhead[lang]:+.1f} us CPU of the calling process"
        )
    for lang, us in in_process.items():
        print(
            f"in-process (fake permsvc, no socket), {lang}: bare {IN_PROCESS[f'{lang} bare']:.1f} us, "
            f"client {IN_PROCESS[f'{lang} client']:.1f} us CPU per call: overhead {us:+.1f} us"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    result = {
        "bench": "clients_overhead",
        "utc": stamp,
        "checks": args.checks,
        "rounds": args.rounds,
        "rows": rows,
        "overhead_p50_us": overhead,
        "overhead_cpu_us": cpu_overhead,
        "in_process_cpu_us": IN_PROCESS,
        "in_process_overhead_us": in_process,
        "loadavg": os.getloadavg(),
        "python": platform.python_version(),
        "httpx": httpx.__version__,
    }
    (RESULTS / f"clients_overhead-{stamp}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
