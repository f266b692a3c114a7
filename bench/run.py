"""The benchmark, in one command: permsvc (in-process and over HTTP) next to SpiceDB and OpenFGA on
the same Drive-like dataset, on the same machine, in one run.

    .venv/bin/python -m bench.run [--scale 1.0] [--quick] [--skip-http] [--skip-spicedb]
                                  [--skip-fga] [--skip-million] [--postgres-url URL] [--output FILE]

Sections (see ``bench/README.md`` for what each figure means and its target):

``engine``      checks on one core and ListObjects on the in-memory index (full scale)
``engine_small``  the same at the SpiceDB comparison scale (``0.1 x --scale``)
``http``        ``permsvc serve --workers 2`` on PostgreSQL, wrk at 1/16/64 in flight, /healthz
``visibility``  write -> allowed on every worker (MINIMIZE_LATENCY) and with the token
``spicedb``     SpiceDB embedded, memory datastore, at the comparison scale (+ reference PG figures)
``fga``         OpenFGA's engine via ``fga model test`` at a small scale
``million``     1M tuples: bulk load into PostgreSQL, index start-up, bytes per tuple
``correctness`` sampled decisions of every engine compared with the oracle (expected: 0)

``--quick`` shrinks every loop (for a smoke run; its figures mean nothing). Prints a table and
writes everything, with the machine, the versions and the load average at start and end, to
``bench/results/<UTC timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from bench.drive import build_dataset, distinct_checks, drive_tuples
from bench.engine import run_engine
from bench.fga_peer import fga_binary, run_fga
from bench.http_bench import DEFAULT_ADMIN_URL, fresh_database, live_server, measure_http
from bench.index_build import bytes_per_tuple
from bench.spicedb_peer import POSTGRES_REFERENCE, POSTGRES_SKIPPED
from bench.visibility import measure_visibility
from permsvc import __version__
from permsvc.store.index import IndexedDatastore
from permsvc.store.postgres import PostgresDatastore

__all__ = ("main", "run")

RESULTS = Path(__file__).resolve().parent / "results"
_REPO = Path(__file__).resolve().parent.parent

TARGETS = {
    "engine_checks_per_cpu_s": 20_000,
    "http_vs_spicedb_postgres": 20.0,
    "http_vs_spicedb_memdb_small": 20.0,
    "http_vs_healthz": 0.60,
    "http_vs_healthz_by_cpu": 0.60,
    "http_p99_64_ms": 10.0,
    "visibility_p99_ms": 50.0,
    "index_build_1m_s": 10.0,
    "bytes_per_tuple": 150.0,
    "bulk_load_1m_s": 10.0,
}
_AT_MOST = frozenset(
    {"http_p99_64_ms", "visibility_p99_ms", "index_build_1m_s", "bytes_per_tuple", "bulk_load_1m_s"}
)
"""Targets that are upper bounds (the others are lower bounds)."""


def _version(cmd: list[str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (
        (done.stdout or done.stderr).strip().splitlines()[0]
        if (done.stdout or done.stderr).strip()
        else ""
    )


async def _postgres_version(admin_url: str) -> str:
    try:
        conn = await asyncpg.connect(admin_url)
    except (OSError, asyncpg.PostgresError) as err:
        return f"unavailable ({err})"
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def _pip_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


def _git() -> dict[str, Any]:
    """The commit measured and the files of ``permsvc/`` that differ from it (a shared working
    tree changes under a benchmark; this says what code ran)."""
    head = _version(["git", "-C", str(_REPO), "rev-parse", "--short", "HEAD"])
    status = subprocess.run(
        ["git", "-C", str(_REPO), "status", "--short", "--", "permsvc"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return {
        "head": head,
        "uncommitted_in_permsvc": status.stdout.split("\n")[:-1] if status.returncode == 0 else [],
    }


async def _environment(admin_url: str) -> dict[str, Any]:
    return {
        "git": _git(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "permsvc": __version__,
        "postgresql": await _postgres_version(admin_url),
        "wrk": _version(["wrk", "--version"]) if shutil.which("wrk") else "",
        "fga": _version([fga_binary() or "fga", "version"]) if fga_binary() else "",
        "spicedb_embedded": _pip_version("spicedb-embedded"),
        "uvicorn": _pip_version("uvicorn"),
        "litestar": _pip_version("litestar"),
    }


def _subprocess_json(args: list[str], timeout_s: float) -> dict[str, Any]:
    try:
        done = subprocess.run(
            [sys.executable, "-m", *args],
            cwd=_REPO,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"{args[0]} did not finish within {timeout_s:.0f} s"}
    if done.returncode != 0:
        return {"error": f"{args[0]} exited with {done.returncode}: {done.stderr.strip()[-2000:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


async def _million(count: int, admin_url: str) -> dict[str, Any]:
    """Bulk load ``count`` Drive tuples into a fresh PostgreSQL database, then start the index on
    it as a worker does (LISTEN, snapshot, catch up). Bytes per tuple come from
    ``bench/index_build.py``'s measurement (a ``TupleIndex`` of the same tuples under tracemalloc)."""
    tuples = drive_tuples(count)
    per_tuple = bytes_per_tuple(tuples)
    gc.collect()
    async with fresh_database(admin_url) as url:
        datastore = await PostgresDatastore.open(url)
        try:
            store_id = (await datastore.create_store("bench-million")).id
            started = time.perf_counter()
            await datastore.bulk_write(store_id, tuples)
            load_s = time.perf_counter() - started
            started = time.perf_counter()
            async with datastore.pool.acquire() as conn:
                await conn.execute("ANALYZE")
            analyze_s = time.perf_counter() - started
            indexed = IndexedDatastore(datastore, listen_url=url, snapshots=False)
            started, cpu = time.perf_counter(), time.process_time()
            await indexed.start()
            build_s, build_cpu_s = time.perf_counter() - started, time.process_time() - cpu
            index = indexed.index_of(store_id)
            indexed_count = index.count if index is not None else 0
            await indexed.stop_following()
        finally:
            await datastore.aclose()
    return {
        "tuples": len(tuples),
        "backend": "postgresql",
        "bulk_load_s": round(load_s, 2),
        "analyze_s": round(analyze_s, 2),
        "index_build_s": round(build_s, 2),
        "index_build_cpu_s": round(build_cpu_s, 2),
        "indexed": indexed_count,
        "bytes_per_tuple": round(per_tuple, 1),
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    """The headline figures and each target's verdict (``None``: not measured in this run)."""
    engine = result.get("engine", {})
    http = result.get("http", {})
    runs = {(r["endpoint"], r["in_flight"]): r for r in http.get("runs", [])}
    best_check = max(
        (r["requests_per_s"] for (e, _), r in runs.items() if e == "check"), default=None
    )
    best_health = max(
        (r["requests_per_s"] for (e, _), r in runs.items() if e == "healthz"), default=None
    )
    check_64 = runs.get(("check", 64), {})
    spicedb = result.get("spicedb", {})
    memdb = (
        max(
            (
                spicedb.get("sequential", {}).get("checks_per_s", 0),
                spicedb.get("concurrent", {}).get("checks_per_s", 0),
            ),
            default=0,
        )
        or None
    )
    visibility = result.get("visibility", {})
    million = result.get("million", {})
    lists = engine.get("list_objects", [])
    big = lists[-1] if lists else {}
    reference_big = POSTGRES_REFERENCE["lookup_resources"][-1]["ms"]
    small = result.get("engine_small", {}).get("list_objects", [])
    lookups = spicedb.get("lookup_resources", [])
    figures = {
        "engine_checks_per_s": engine.get("engine", {}).get("checks_per_s"),
        "engine_checks_per_cpu_s": engine.get("engine", {}).get("checks_per_cpu_s"),
        "http_checks_per_s": best_check,
        "http_healthz_per_s": best_health,
        "http_vs_healthz": _ratio(best_check, best_health),
        "http_vs_healthz_by_cpu": _ratio(
            runs.get(("healthz", 64), {}).get("server_cpu_us_per_request"),
            runs.get(("check", 64), {}).get("server_cpu_us_per_request"),
        ),
        "http_checks_per_server_cpu_s": round(1e6 / check_64["server_cpu_us_per_request"])
        if check_64.get("server_cpu_us_per_request")
        else None,
        "http_vs_spicedb_postgres": _ratio(
            best_check, POSTGRES_REFERENCE["checks_per_s_16_64_in_flight"]
        ),
        "http_vs_spicedb_memdb_small": _ratio(best_check, memdb),
        "http_p99_64_ms": check_64.get("p99_ms"),
        "list_objects_large_ms": big.get("median_ms"),
        "spicedb_postgres_lookup_large_ms_reference": reference_big,
        "list_objects_large_small_scale_ms": small[-1]["median_ms"] if small else None,
        "spicedb_memdb_lookup_large_small_scale_ms": lookups[-1]["median_ms"] if lookups else None,
        "visibility_p99_ms": visibility.get("minimize_latency_after_ack", {}).get("p99_ms"),
        "index_build_1m_s": million.get("index_build_s"),
        "bytes_per_tuple": million.get("bytes_per_tuple"),
        "bulk_load_1m_s": million.get("bulk_load_s"),
    }
    verdicts: dict[str, bool | None] = {}
    for key, target in TARGETS.items():
        value = figures.get(key)
        if value is None:
            verdicts[key] = None
        elif key in _AT_MOST:
            verdicts[key] = value <= target
        else:
            verdicts[key] = value >= target
    verdicts["list_objects_large_faster_than_spicedb_postgres_reference"] = (
        None if not big else big["median_ms"] < reference_big
    )
    verdicts["list_objects_large_faster_than_spicedb_memdb_small"] = (
        None if not (small and lookups) else small[-1]["median_ms"] < lookups[-1]["median_ms"]
    )
    verdicts["token_immediately_visible"] = (
        None
        if "token_check" not in visibility
        else visibility["token_check"]["not_allowed_on_first_try"] == 0
    )
    return {"figures": figures, "targets": TARGETS, "met": verdicts}


def _correctness(result: dict[str, Any]) -> dict[str, Any]:
    def get(section: str, *path: str) -> Any:
        node: Any = result.get(section)
        if not isinstance(node, dict) or "skipped" in node or "error" in node:
            return None
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        return node

    return {
        "permsvc_engine": get("engine", "mismatches", "engine"),
        "permsvc_command": get("engine", "mismatches", "command"),
        "permsvc_list_objects": get("engine", "mismatches", "list_objects"),
        "permsvc_engine_small": get("engine_small", "mismatches", "engine"),
        "permsvc_http": get("http", "mismatches"),
        "permsvc_http_errors": get("http", "errors"),
        "spicedb_memdb_small": get("spicedb", "mismatches"),
        "fga": get("fga", "mismatches"),
        "reference": "every sampled decision and listed set compared with bench.drive.Oracle",
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every section in order; a failing section is recorded as ``{"error": ...}``, not fatal."""
    quick = args.quick
    checks = 300 if quick else 2_000
    result: dict[str, Any] = {
        "benchmark": "drive",
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    result["load_average_start"] = [round(x, 2) for x in os.getloadavg()]
    result["environment"] = await _environment(args.postgres_url)
    small_scale = round(args.scale * 0.1, 4)
    result["parameters"] = {
        "scale": args.scale,
        "small_scale": small_scale,
        "sampled_checks": checks,
        "quick": quick,
    }

    started = time.perf_counter()
    dataset, oracle = build_dataset(args.scale, checks=checks)
    result["dataset"] = {
        "shape": msgspec.structs.asdict(dataset.shape),
        "tuples": len(dataset.tuples),
        "checks": len(dataset.checks),
        "allowed_share": dataset.allowed_share,
        "probes": [
            {"user": p.user, "target": p.target, "accessible": p.accessible} for p in dataset.probes
        ],
        "generated_s": round(time.perf_counter() - started, 2),
    }
    _progress(f"dataset: {len(dataset.tuples):,} tuples, {len(dataset.checks):,} sampled checks")

    async def section(name: str, skip: str | None, body: Any) -> None:
        if skip:
            result[name] = {"skipped": skip}
            return
        _progress(f"{name} ...")
        t0 = time.perf_counter()
        try:
            result[name] = await body()
        except Exception as err:  # noqa: BLE001 - a failed section is reported, the run goes on
            result[name] = {"error": f"{type(err).__name__}: {err}"}
        _progress(f"{name} done in {time.perf_counter() - t0:.1f} s")

    engine_checks = 3_000 if quick else 20_000
    await section(
        "engine",
        None,
        lambda: run_engine(dataset, oracle, checks=engine_checks, list_repeats=2 if quick else 5),
    )
    small, small_oracle = build_dataset(small_scale, checks=checks)
    await section(
        "engine_small",
        None,
        lambda: run_engine(
            small, small_oracle, checks=engine_checks, list_repeats=2 if quick else 5
        ),
    )

    async def http_sections() -> dict[str, Any]:
        load = distinct_checks(oracle, 3_000 if quick else 90_000)
        async with live_server(dataset, admin_url=args.postgres_url) as server:
            out = {
                "server": {
                    "workers": server.workers,
                    "tuples": len(dataset.tuples),
                    "bulk_load_s": server.bulk_load_s,
                    "analyze_s": server.analyze_s,
                    "startup_s": server.startup_s,
                },
                **await measure_http(server, dataset, load, duration_s=1.0 if quick else 5.0),
            }
            try:
                result["visibility"] = await measure_visibility(
                    server, dataset, rounds=5 if quick else 50
                )
            except Exception as err:  # noqa: BLE001 - reported in its own section
                result["visibility"] = {"error": f"{type(err).__name__}: {err}"}
            return out

    await section("http", "--skip-http" if args.skip_http else None, http_sections)
    if args.skip_http:
        result["visibility"] = {"skipped": "--skip-http"}

    async def spicedb() -> dict[str, Any]:
        cmd = [
            "bench.spicedb_peer",
            "--scale",
            str(small_scale),
            "--checks",
            str(checks),
            "--seconds",
            "3" if quick else "20",
        ]
        return await asyncio.to_thread(_subprocess_json, cmd, 1800)

    await section("spicedb", "--skip-spicedb" if args.skip_spicedb else None, spicedb)
    if args.skip_spicedb:
        result["spicedb"]["postgres"] = {
            "skipped": POSTGRES_SKIPPED,
            "reference": POSTGRES_REFERENCE,
        }

    async def fga() -> dict[str, Any]:
        tiny, _ = build_dataset(round(args.scale * 0.01, 5), checks=100 if quick else 500)
        return await asyncio.to_thread(run_fga, tiny)

    await section("fga", "--skip-fga" if args.skip_fga else None, fga)
    million = 20_000 if quick else 1_000_000
    await section(
        "million",
        "--skip-million" if args.skip_million else None,
        lambda: _million(million, args.postgres_url),
    )
    result["correctness"] = _correctness(result)
    result["summary"] = _summary(result)
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return result


def _progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _fmt(value: Any, spec: str = ",") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and spec == ",":
        return f"{value:,.2f}"
    return format(value, spec)


def render(result: dict[str, Any]) -> str:
    """The human-readable table of one run."""
    lines: list[str] = []
    add = lines.append
    env = result["environment"]
    add(
        f"permsvc {env['permsvc']} benchmark, {result['started']}, {env['cpus']} CPUs, {env['platform']}"
    )
    add(f"load average start {result['load_average_start']} end {result['load_average_end']}")
    ds = result["dataset"]
    add(
        f"dataset: {ds['tuples']:,} tuples {ds['shape']}, {ds['checks']:,} sampled checks ({ds['allowed_share']:.0%} allowed)"
    )
    add("")

    def skipped(name: str) -> bool:
        node = result.get(name, {})
        if "skipped" in node or "error" in node:
            add(f"{name}: {node.get('skipped') or node.get('error')}")
            return True
        return False

    for name, label in (("engine", "full scale"), ("engine_small", "comparison scale")):
        if skipped(name):
            continue
        e = result[name]
        add(
            f"permsvc engine in-process on the index ({label}, {e['tuples']:,} tuples, one core, sequential)"
        )
        add(f"  {'path':<14} {'checks/s':>10} {'per CPU s':>10} {'p50 ms':>8} {'p99 ms':>8}")
        for path in ("engine", "command", "command_cached"):
            r = e[path]
            add(
                f"  {path:<14} {r['checks_per_s']:>10,} {r['checks_per_cpu_s']:>10,} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f}"
            )
        add(
            "  ListObjects(document, viewer), all results: "
            + ", ".join(f"{x['results']:,} docs {x['median_ms']:.1f} ms" for x in e["list_objects"])
        )
    add("")
    if not skipped("http"):
        h = result["http"]
        s = h["server"]
        add(
            f"permsvc over HTTP ({s['workers']} workers, PostgreSQL, {h['load_generator']}, {h['duration_s']} s per run; "
            f"bulk load {s['bulk_load_s']} s, start-up incl. index {s['startup_s']} s)"
        )
        add(
            f"  {'endpoint':<9} {'in flight':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'requests':>9} "
            f"{'distinct':>9} {'server CPU us/req':>18} {'loadgen CPU us/req':>19}"
        )
        for r in h["runs"]:
            add(
                f"  {r['endpoint']:<9} {r['in_flight']:>9} {r['requests_per_s']:>9,} {_fmt(r.get('p50_ms'), '8.2f')} "
                f"{_fmt(r.get('p99_ms'), '8.2f')} {r['non_2xx']:>7} {r['requests']:>9,} {_fmt(r.get('distinct_bodies'), '9,')} "
                f"{_fmt(r.get('server_cpu_us_per_request'), '18,.1f')} {_fmt(r.get('generator_cpu_us_per_request'), '19,.1f')}"
            )
    if not skipped("visibility"):
        v = result["visibility"]
        add(
            f"visibility on every worker (MINIMIZE_LATENCY, {v['rounds']} grants): after ack p50 "
            f"{v['minimize_latency_after_ack']['p50_ms']:.1f} ms p99 {v['minimize_latency_after_ack']['p99_ms']:.1f} ms; "
            f"from write start p50 {v['minimize_latency_from_write_start']['p50_ms']:.1f} ms p99 "
            f"{v['minimize_latency_from_write_start']['p99_ms']:.1f} ms; timeouts {v['timeouts']}; with the token: "
            f"{v['token_check']['not_allowed_on_first_try']} not visible at once (p50 {v['token_check']['p50_ms']:.1f} ms)"
        )
    add("")
    if not skipped("spicedb"):
        sp = result["spicedb"]
        add(
            f"SpiceDB embedded (memory datastore, {sp['tuples']:,} tuples, full consistency): load {sp['load_s']} s; "
            f"sequential {sp['sequential']['checks_per_s']} checks/s p50 {sp['sequential']['p50_ms']:.1f} ms "
            f"p99 {sp['sequential']['p99_ms']:.1f} ms; {sp['concurrent']['in_flight']} threads "
            f"{sp['concurrent']['checks_per_s']} checks/s"
        )
        add(
            "  LookupResources: "
            + ", ".join(
                f"{x['results']:,} docs {x['median_ms']:.1f} ms" for x in sp["lookup_resources"]
            )
        )
    pg = result["spicedb"].get("postgres", {})
    if pg:
        ref = pg["reference"]
        add(f"SpiceDB on PostgreSQL: {pg['skipped']}.")
        add(
            f"  REFERENCE (not this run): {ref['tuples']:,} tuples, sequential p50 {ref['sequential_p50_ms']} ms p99 "
            f"{ref['sequential_p99_ms']} ms, ~{ref['checks_per_s_16_64_in_flight']} checks/s at 16-64 in flight; "
            "LookupResources "
            + ", ".join(f"{x['results']:,} docs {x['ms']} ms" for x in ref["lookup_resources"])
        )
    if not skipped("fga"):
        f = result["fga"]
        add(
            f"OpenFGA engine (fga model test, {f['tuples']:,} tuples, {f['checks']} checks): ~{f['per_check_ms']:.2f} ms "
            f"per check (~{f['checks_per_s']:,}/s, CLI incl. its per-assertion overhead)"
        )
    if not skipped("million"):
        m = result["million"]
        add(
            f"{m['tuples']:,} tuples on PostgreSQL: bulk load {m['bulk_load_s']} s (+ ANALYZE {m['analyze_s']} s); "
            f"index start-up {m['index_build_s']} s ({m['index_build_cpu_s']} CPU s); {m['bytes_per_tuple']} bytes/tuple"
        )
    add("")
    add(
        "correctness (mismatches with the oracle; '-' = not run): "
        + ", ".join(f"{k} {_fmt(v)}" for k, v in result["correctness"].items() if k != "reference")
    )
    add("")
    add("targets:")
    figures, met = result["summary"]["figures"], result["summary"]["met"]
    compared = {
        "list_objects_large_faster_than_spicedb_postgres_reference": (
            "list_objects_large_ms",
            "spicedb_postgres_lookup_large_ms_reference",
        ),
        "list_objects_large_faster_than_spicedb_memdb_small": (
            "list_objects_large_small_scale_ms",
            "spicedb_memdb_lookup_large_small_scale_ms",
        ),
    }
    for key, ok in met.items():
        verdict = "-" if ok is None else ("met" if ok else "NOT met")
        if key in compared:
            ours, theirs = (figures.get(k) for k in compared[key])
            add(f"  {key:<58} {_fmt(ours):>10} vs {_fmt(theirs):>8} ms  {verdict}")
        elif key in TARGETS:
            add(
                f"  {key:<58} {_fmt(figures.get(key)):>10} target {_fmt(TARGETS[key]):>8}  {verdict}"
            )
        else:
            add(f"  {key:<58} {'':>10} {'':>15}  {verdict}")
    return "\n".join(lines)


def _pick(result: dict[str, Any], *path: Any) -> Any:
    node: Any = result
    for key in path:
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and -len(node) <= key < len(node):
            node = node[key]
        else:
            return None
    return node


def _http_run(result: dict[str, Any], endpoint: str, in_flight: int, field: str) -> Any:
    for row in _pick(result, "http", "runs") or []:
        if row["endpoint"] == endpoint and row["in_flight"] == in_flight:
            return row.get(field)
    return None


_COMPARE_ROWS: list[tuple[str, Any]] = [
    ("engine checks/s (wall, one core)", lambda r: _pick(r, "engine", "engine", "checks_per_s")),
    ("engine checks per CPU second", lambda r: _pick(r, "engine", "engine", "checks_per_cpu_s")),
    (
        "engine p50 / p99 ms",
        lambda r: (_pick(r, "engine", "engine", "p50_ms"), _pick(r, "engine", "engine", "p99_ms")),
    ),
    (
        "CheckQuery per CPU s, evaluated / cached",
        lambda r: (
            _pick(r, "engine", "command", "checks_per_cpu_s"),
            _pick(r, "engine", "command_cached", "checks_per_cpu_s"),
        ),
    ),
    (
        "ListObjects ~10 / ~700 / ~7,000 docs, ms",
        lambda r: tuple(_pick(r, "engine", "list_objects", i, "median_ms") for i in range(3)),
    ),
    (
        "HTTP check req/s at 1 / 16 / 64 in flight",
        lambda r: tuple(_http_run(r, "check", c, "requests_per_s") for c in (1, 16, 64)),
    ),
    (
        "HTTP check p50 ms at 1 / 16 / 64",
        lambda r: tuple(_http_run(r, "check", c, "p50_ms") for c in (1, 16, 64)),
    ),
    (
        "HTTP check p99 ms at 1 / 16 / 64",
        lambda r: tuple(_http_run(r, "check", c, "p99_ms") for c in (1, 16, 64)),
    ),
    (
        "HTTP /healthz req/s at 1 / 16 / 64",
        lambda r: tuple(_http_run(r, "healthz", c, "requests_per_s") for c in (1, 16, 64)),
    ),
    (
        "HTTP check / healthz (best of each)",
        lambda r: _pick(r, "summary", "figures", "http_vs_healthz"),
    ),
    (
        "server CPU us per request, check / healthz (64 in flight)",
        lambda r: (
            _http_run(r, "check", 64, "server_cpu_us_per_request"),
            _http_run(r, "healthz", 64, "server_cpu_us_per_request"),
        ),
    ),
    (
        "HTTP check / healthz by server CPU per request",
        lambda r: _pick(r, "summary", "figures", "http_vs_healthz_by_cpu"),
    ),
    (
        "SpiceDB memdb (10%) checks/s sequential / 16 threads",
        lambda r: (
            _pick(r, "spicedb", "sequential", "checks_per_s"),
            _pick(r, "spicedb", "concurrent", "checks_per_s"),
        ),
    ),
    (
        "HTTP check / SpiceDB memdb (10%)",
        lambda r: _pick(r, "summary", "figures", "http_vs_spicedb_memdb_small"),
    ),
    (
        "HTTP check / SpiceDB PostgreSQL (reference 240/s)",
        lambda r: _pick(r, "summary", "figures", "http_vs_spicedb_postgres"),
    ),
    (
        "ListObjects at 10%: permsvc ~10 / ~70 / ~700 ms",
        lambda r: tuple(_pick(r, "engine_small", "list_objects", i, "median_ms") for i in range(3)),
    ),
    (
        "LookupResources at 10%: SpiceDB memdb ms",
        lambda r: tuple(_pick(r, "spicedb", "lookup_resources", i, "median_ms") for i in range(3)),
    ),
    ("OpenFGA (fga model test, 1%) ms per check", lambda r: _pick(r, "fga", "per_check_ms")),
    (
        "visible on every worker, after ack, p50 / p99 ms",
        lambda r: (
            _pick(r, "visibility", "minimize_latency_after_ack", "p50_ms"),
            _pick(r, "visibility", "minimize_latency_after_ack", "p99_ms"),
        ),
    ),
    (
        "visible on every worker, from write start, p50 / p99 ms",
        lambda r: (
            _pick(r, "visibility", "minimize_latency_from_write_start", "p50_ms"),
            _pick(r, "visibility", "minimize_latency_from_write_start", "p99_ms"),
        ),
    ),
    (
        "with the token: not visible at once",
        lambda r: _pick(r, "visibility", "token_check", "not_allowed_on_first_try"),
    ),
    ("1M tuples: bulk load s (PostgreSQL)", lambda r: _pick(r, "million", "bulk_load_s")),
    ("1M tuples: index start-up s", lambda r: _pick(r, "million", "index_build_s")),
    ("1M tuples: bytes per tuple", lambda r: _pick(r, "million", "bytes_per_tuple")),
    (
        "mismatches with the oracle (all engines)",
        lambda r: sum(
            v
            for k, v in (r.get("correctness") or {}).items()
            if k != "reference" and isinstance(v, int)
        ),
    ),
    (
        "load average (1 min) start / end",
        lambda r: (_pick(r, "load_average_start", 0), _pick(r, "load_average_end", 0)),
    ),
]


def compare(results: list[dict[str, Any]]) -> str:
    """A Markdown table of several runs side by side with the median of each figure."""

    def median(values: list[Any]) -> Any:
        if any(v is None for v in values):
            return None
        if isinstance(values[0], tuple):
            return tuple(median([v[i] for v in values]) for i in range(len(values[0])))
        return round(statistics.median(values), 2)

    def cell(value: Any) -> str:
        if isinstance(value, tuple):
            return " / ".join(cell(v) for v in value)
        if value is None:
            return "-"
        if isinstance(value, float):
            value = round(value) if value >= 100 or value.is_integer() else round(value, 2)
        return f"{value:,}" if isinstance(value, (int, float)) else str(value)

    head = "| figure | " + " | ".join(f"run {i + 1}" for i in range(len(results))) + " | median |"
    lines = [head, "|---" * (len(results) + 2) + "|"]
    for label, get in _COMPARE_ROWS:
        values = [get(r) for r in results]
        lines.append(
            f"| {label} | " + " | ".join(cell(v) for v in values) + f" | {cell(median(values))} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="dataset scale (1.0: ~360k tuples)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="short loops (smoke run; figures meaningless)"
    )
    parser.add_argument(
        "--skip-http", action="store_true", help="no server (also skips visibility)"
    )
    parser.add_argument("--skip-spicedb", action="store_true")
    parser.add_argument("--skip-fga", action="store_true")
    parser.add_argument(
        "--skip-million", action="store_true", help="no 1M-tuple bulk load / index start-up"
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_ADMIN_URL,
        help="a database on the server (fresh ones are created next to it)",
    )
    parser.add_argument(
        "--output", type=Path, help="JSON file (default bench/results/<UTC timestamp>.json)"
    )
    parser.add_argument(
        "--compare",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="print earlier runs side by side with medians; run nothing",
    )
    args = parser.parse_args(argv)
    if args.compare:
        print(compare([json.loads(path.read_text()) for path in args.compare]))
        return 0
    result = asyncio.run(run(args))
    print(render(result))
    out = args.output or RESULTS / f"{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
