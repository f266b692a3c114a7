"""The benchmark's own tests, beside it (nothing under tests/ imports bench/): its dataset and
its one command. Deterministic data, a valid model, engine decisions equal to the oracle's, and a
quick end-to-end run producing every JSON section."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from bench import write_under_load
from bench.drive import DSL, DriveShape, build_dataset, drive_tuples
from bench.engine import run_engine
from permsvc.model.compile import parse_dsl
from permsvc.model.typesystem import TypeSystem
from tests.pg import session_database_url

REPO = Path(__file__).resolve().parents[1]
TINY = 0.01


def test_same_scale_and_seed_give_the_same_dataset() -> None:
    first, _ = build_dataset(TINY, checks=80)
    second, _ = build_dataset(TINY, checks=80)
    other, _ = build_dataset(TINY, seed=9, checks=80)
    assert msgspec.json.encode(first) == msgspec.json.encode(second)
    assert msgspec.json.encode(first.tuples) != msgspec.json.encode(other.tuples)


def test_full_scale_shape_matches_the_issue() -> None:
    assert DriveShape.at(1.0) == DriveShape(
        users=10_000, groups=1_000, folders=5_000, documents=100_000
    )


def test_million_tuples_prefix_is_exact_and_distinct() -> None:
    tuples = drive_tuples(5_000)
    assert len(tuples) == 5_000
    assert len({t.key for t in tuples}) == 5_000


def test_model_parses_and_validates() -> None:
    typesystem = TypeSystem.validated(parse_dsl(DSL))
    assert typesystem.relation("document", "viewer") is not None


def test_check_mix_is_balanced_and_covers_each_relation() -> None:
    dataset, _ = build_dataset(TINY, checks=200)
    assert dataset.allowed_share == 0.5
    assert {(c.object.partition(":")[0], c.relation) for c in dataset.checks} == {
        ("document", "viewer"),
        ("document", "editor"),
        ("folder", "viewer"),
    }


def test_oracle_listing_agrees_with_its_checks_on_every_document() -> None:
    dataset, oracle = build_dataset(TINY, checks=20)
    for probe in dataset.probes:
        listed = oracle.viewable_documents(probe.user)
        assert listed == {d for d in oracle.documents if oracle.check(probe.user, "viewer", d)}
        assert len(listed) == probe.accessible


async def test_engine_decisions_and_listings_agree_with_the_oracle() -> None:
    dataset, oracle = build_dataset(TINY, checks=300)
    result = await run_engine(dataset, oracle, checks=600, list_repeats=1)
    assert result["mismatches"] == {"engine": 0, "command": 0, "list_objects": 0}
    assert [row["results"] for row in result["list_objects"]] == [
        p.accessible for p in dataset.probes
    ]


@pytest.mark.timeout(600)
def test_quick_run_writes_every_section(tmp_path: Path) -> None:
    admin_url = session_database_url()
    out = tmp_path / "result.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--scale",
            str(TINY),
            "--quick",
            "--skip-spicedb",
            "--skip-fga",
            "--postgres-url",
            admin_url,
            "--output",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=580,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    for section in ("engine", "engine_small", "http", "visibility", "million"):
        assert "error" not in result[section] and "skipped" not in result[section], (
            section,
            result[section],
        )
    assert result["spicedb"]["skipped"] == "--skip-spicedb"
    assert "reference" in result["spicedb"]["postgres"]
    assert result["fga"] == {"skipped": "--skip-fga"}
    assert {
        k: v for k, v in result["correctness"].items() if k != "reference" and v is not None
    } == {
        "permsvc_engine": 0,
        "permsvc_command": 0,
        "permsvc_list_objects": 0,
        "permsvc_engine_small": 0,
        "permsvc_http": 0,
        "permsvc_http_errors": 0,
    }
    assert set(result["summary"]["met"]) >= {
        "engine_checks_per_cpu_s",
        "http_vs_healthz",
        "visibility_p99_ms",
    }
    assert all("server_cpu_us_per_request" in row for row in result["http"]["runs"])
    for key in ("environment", "load_average_start", "load_average_end", "dataset"):
        assert result[key]
    assert "targets:" in done.stdout


@pytest.mark.timeout(300)
def test_write_under_load_measures_both_servers(tmp_path: Path) -> None:
    out = tmp_path / "wul.json"
    code = write_under_load.main(
        [
            "--scale",
            str(TINY),
            "--connections",
            "4",
            "--writes-per-s",
            "10",
            "--duration",
            "2",
            "--sample",
            "1",
            "--compare",
            "--distinct",
            "300",
            "--postgres-url",
            session_database_url(),
            "--output",
            str(out),
        ]
    )
    assert code == 0
    result = json.loads(out.read_text())
    assert [(r["server"], r["round"]) for r in result["runs"]] == [
        ("write_priority", 1),
        ("no_priority", 1),
    ]
    for run in result["runs"]:
        assert run["mix"]["write"]["writes"] > 0
        assert run["mix"]["write_errors"] == run["mix"]["check_errors"] == 0
        assert run["mix"]["checks_per_s"] > 0
        assert run["writes_only"]["write"]["writes"] > 0
        sample = run["mix"]["samples"][0]
        assert sample["rss_mb"] and sample["loadavg"]
        assert sample["server_cpu_us_per_check"] > 0
    summary = result["summary"]
    assert summary["write_priority"]["errors"] == summary["no_priority"]["errors"] == 0
    assert summary["write_p99_ratio"] > 0


def test_memory_slope_is_per_hour_per_process() -> None:
    samples = [
        {"t_s": 0.0, "rss_mb": {"1": 100.0, "2": 50.0}},
        {"t_s": 1800.0, "rss_mb": {"1": 101.0, "2": 50.0}},
        {"t_s": 3600.0, "rss_mb": {"1": 102.0, "2": 50.0}},
    ]
    assert write_under_load.memory_slope_mb_per_h(samples) == {"1": 2.0, "2": 0.0}


def test_p99_drift_is_per_hour_and_skips_missing_figures() -> None:
    samples = [
        {"t_s": 0.0, "check_p99_ms": 10.0, "write_p99_ms": 40.0},
        {"t_s": 1800.0, "check_p99_ms": 10.0, "write_p99_ms": None},
        {"t_s": 3600.0, "check_p99_ms": 10.0, "write_p99_ms": 46.0},
    ]
    assert write_under_load.p99_drift_ms_per_h(samples) == {
        "check_p99_ms": 0.0,
        "write_p99_ms": 6.0,
    }
