"""Claim-feed latency for a user with hundreds of grants: what a post-login Action waits for.

    .venv/bin/python bench/claims_feed.py [--runs 300] [--background-users 2000]

Dataset (``schema/claims.fga``): the measured user holds 300 direct grants -- admin of 20
organizations (each owning 5 projects), editor of 80 projects, viewer of 200 more -- so the
summary has admin on 20 organizations, editor on 180 projects and viewer on 380. Background users
add ~10,000 more tuples. Two specs are measured:

- ``default``: the three relations at the default 2 KiB budget (the summary overflows: the least
  specific relations are dropped and marked);
- ``8k``: the same relations at the 8 KiB maximum (everything fits).

Measured, sequentially, after a warm-up:

- **http**: ``POST /v1/claims`` against ``permsvc serve`` (SQLite, in-memory index) over loopback,
  authenticated with a ``claims`` API key -- the Action's view minus the network;
- **command**: :class:`~permsvc.commands.claims.ClaimSummaryQuery` in-process on the same
  database through the same index -- the engine's share.

The machine's load average is recorded with the results: the numbers are wall-clock latencies
and move with whatever else runs on the machine.

Prints a table and writes JSON to ``bench/results/claims_feed-<utc timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from permsvc.claims.spec import ClaimSpec, parse_claim_spec
from permsvc.commands.claims import ClaimSummaryParams, ClaimSummaryQuery
from permsvc.commands.keys import CreateApiKeyCommand
from permsvc.commands.models import ModelResolver
from permsvc.model.compile import parse_dsl
from permsvc.model.json import model_to_json
from permsvc.store.factory import open_datastore
from permsvc.store.index import index_datastore

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CLAIM = "https://permsvc.example.com/perms"
WIDE_AUDIENCE = "https://wide.example.com"
USER = "auth0|heavy"
ROOT_KEY = "bench-root-key"
SPEC: dict[str, Any] = {
    "claim": CLAIM,
    "relations": ["organization#admin", "project#editor", "project#viewer"],
    "audiences": {
        WIDE_AUDIENCE: {
            "relations": ["organization#admin", "project#editor", "project#viewer"],
            "budget_bytes": 8192,
        }
    },
}


def _grants(background_users: int) -> list[tuple[str, str, str]]:
    user = f"user:{USER}"
    grants: list[tuple[str, str, str]] = []
    for org in range(20):
        grants.append((f"organization:org-{org:03d}", "admin", user))
        grants += [
            (f"project:o{org:03d}-p{p}", "organization", f"organization:org-{org:03d}")
            for p in range(5)
        ]
    grants += [(f"project:ed-{i:04d}", "editor", user) for i in range(80)]
    grants += [(f"project:vw-{i:04d}", "viewer", user) for i in range(200)]
    for u in range(background_users):
        other = f"user:auth0|bg{u:05d}"
        grants += [(f"project:vw-{(u * 7 + k) % 400:04d}", "viewer", other) for k in range(3)]
        grants += [
            (f"project:ed-{(u * 3) % 80:04d}", "editor", other),
            (f"organization:org-{u % 20:03d}", "member", other),
        ]
    return grants


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {
        "p50_ms": pick(0.50),
        "p90_ms": pick(0.90),
        "p99_ms": pick(0.99),
        "max_ms": round(ordered[-1], 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
    }


async def _create_key(data_dir: Path) -> str:
    datastore = await open_datastore(None, data_dir=data_dir, migrate=True)
    try:
        return (await CreateApiKeyCommand(keys=datastore).execute("claims", name="bench")).key  # type: ignore[arg-type]
    finally:
        await datastore.aclose()


def _start_server(tmp: Path, spec_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERMSVC_")}
    env.update(
        {
            "PERMSVC_DATA_DIR": str(tmp / "data"),
            "PERMSVC_CLAIMS_SPEC": str(spec_path),
            "PERMSVC_API_KEYS": ROOT_KEY,
            "PERMSVC_ACCESS_LOG": "false",
        }
    )
    log = (tmp / "server.log").open("wb")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("permsvc")),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"permsvc serve did not start:\n{(tmp / 'server.log').read_text()}")


def _load(url: str, grants: list[tuple[str, str, str]]) -> str:
    auth = {"Authorization": f"Bearer {ROOT_KEY}"}
    with httpx.Client(base_url=url, headers=auth, timeout=60) as client:
        store_id = client.post("/stores", json={"name": "claims-bench"}).json()["id"]
        model = model_to_json(parse_dsl((ROOT / "schema" / "claims.fga").read_text()))
        client.post(f"/stores/{store_id}/authorization-models", json=model).raise_for_status()
        for start in range(0, len(grants), 100):
            keys = [
                {"object": o, "relation": r, "user": u} for o, r, u in grants[start : start + 100]
            ]
            client.post(
                f"/stores/{store_id}/write", json={"writes": {"tuple_keys": keys}}
            ).raise_for_status()
    return store_id


def _http_runs(
    url: str, key: str, store_id: str, audience: str | None, runs: int
) -> tuple[list[float], dict[str, Any]]:
    body = {"user_id": USER, "store_id": store_id, "audience": audience, "client_id": "bench"}
    samples: list[float] = []
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as client:
        for i in range(runs + 20):
            started = time.perf_counter()
            response = client.post("/v1/claims", json=body)
            elapsed = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            if i >= 20:
                samples.append(elapsed)
    answer = response.json()
    summary = answer["claims"][CLAIM]
    shape = {
        "summary_bytes": len(
            json.dumps(summary, separators=(",", ":"), ensure_ascii=False).encode()
        ),
        "truncated": answer["truncated"],
        "kept": {k: len(v) for k, v in summary["p"].items()},
        "dropped": summary.get("d", []),
    }
    return samples, shape


async def _command_runs(
    data_dir: Path, store_id: str, spec: ClaimSpec, audience: str | None, runs: int
) -> list[float]:
    database = await open_datastore(None, data_dir=data_dir, migrate=False)
    datastore = await index_datastore(database, database_url=None, memory_budget=2 * 1024**3)
    try:
        query = ClaimSummaryQuery(reader=datastore, resolver=ModelResolver(datastore))
        params = ClaimSummaryParams(store_id=store_id, user_id=USER, spec=spec, audience=audience)
        samples: list[float] = []
        for i in range(runs + 20):
            started = time.perf_counter()
            await query.execute(params)
            if i >= 20:
                samples.append((time.perf_counter() - started) * 1000)
        return samples
    finally:
        await datastore.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--background-users", type=int, default=2000)
    args = parser.parse_args()
    grants = _grants(args.background_users)
    spec = parse_claim_spec(SPEC)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="claims-bench-") as tmp_name:
        tmp = Path(tmp_name)
        spec_path = tmp / "claims.json"
        spec_path.write_text(json.dumps(SPEC))
        key = asyncio.run(_create_key(tmp / "data"))
        process, url = _start_server(tmp, spec_path)
        try:
            store_id = _load(url, grants)
            for name, audience in (("default", None), ("8k", WIDE_AUDIENCE)):
                samples, shape = _http_runs(url, key, store_id, audience, args.runs)
                rows.append({"spec": name, "path": "http", **_percentiles(samples), **shape})
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)
        for name, audience in (("default", None), ("8k", WIDE_AUDIENCE)):
            samples = asyncio.run(_command_runs(tmp / "data", store_id, spec, audience, args.runs))
            rows.append({"spec": name, "path": "command", **_percentiles(samples)})
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"claim feed, user with 300 direct grants ({len(grants)} tuples in the store), {args.runs} runs each; "
        f"{os.cpu_count()} CPUs, load average {load}"
    )
    print(f"{'spec':8} {'path':8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}  summary")
    for row in rows:
        shape = (
            f"{row['summary_bytes']} B, truncated={row['truncated']}, kept={row['kept']}, dropped={row['dropped']}"
            if "kept" in row
            else ""
        )
        print(
            f"{row['spec']:8} {row['path']:8} {row['p50_ms']:8.2f} {row['p90_ms']:8.2f} {row['p99_ms']:8.2f} {row['max_ms']:8.2f}  {shape}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"claims_feed-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "benchmark": "claims_feed",
                "at": stamp,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cpus": os.cpu_count(),
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "runs": args.runs,
                "tuples": len(grants),
                "direct_grants_of_user": 300,
                "results": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
