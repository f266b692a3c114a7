"""``permsvc model test``: store test files, readable failures, JSON output, and agreement with
OpenFGA's own ``fga model test`` (the differential tests, marked ``fga``)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from permsvc.cli.main import main
from tests.conftest import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "store_tests"
FAILING = REPO_ROOT / "tests" / "fixtures" / "store_tests_failing" / "wrong.fga.yaml"
STORE_FILES = sorted(FIXTURES.glob("**/*.fga.yaml")) + sorted(
    (REPO_ROOT / "schema").glob("*.fga.yaml")
)
FGA = REPO_ROOT / ".venv" / "bin" / "fga"

pytestmark = pytest.mark.timeout(60)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["model", "test", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "path", [pytest.param(p, id=p.stem.removesuffix(".fga")) for p in STORE_FILES]
)
def test_example_store_files_pass(capsys: pytest.CaptureFixture[str], path: Path) -> None:
    code, out, _ = _run(capsys, "--tests", str(path))
    assert code == 0, out
    last = out.strip().splitlines()[-1]
    assert last.endswith(" passed, 0 failed"), out
    assert int(last.split()[0]) > 0


def test_glob_runs_every_matching_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--tests", str(FIXTURES / "**" / "*.fga.yaml"))
    assert code == 0, out
    for path in FIXTURES.glob("**/*.fga.yaml"):
        assert str(path) in out


def test_failures_name_the_query_and_show_expected_and_got(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, "--tests", str(FAILING))
    assert code == 1
    lines = out.strip().splitlines()
    assert lines[-1] == "1 passed, 4 failed"
    failures = [line.strip() for line in lines if line.strip().startswith("✗")]
    assert failures == [
        "✗ check user:anne viewer document:1: expected false, got true",
        (
            "✗ check user:beth viewer document:1: expected true, got error: failed to evaluate relationship "
            "condition: 'before_noon' - tuple 'document:1#viewer@user:beth' is missing context parameters '[hour]'"
        ),
        (
            "✗ list_objects user:anne viewer document:*: expected [document:1, document:2], got [document:1] "
            "(missing document:2)"
        ),
        (
            '✗ list_users document:1 owner [user] with context {"hour": 9}: expected [user:beth], got [user:anne] '
            "(missing user:beth; unexpected user:anne)"
        ),
    ]


def test_json_output_lists_every_assertion(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--tests", str(FAILING), "--json")
    assert code == 1
    report = json.loads(out)
    assert (report["passed"], report["failed"], report["errors"]) == (1, 4, 0)
    kinds = [(r["kind"], r["request"]["relation"], r["passed"]) for r in report["results"]]
    assert kinds == [
        ("check", "owner", True),
        ("check", "viewer", False),
        ("check", "viewer", False),
        ("list_objects", "viewer", False),
        ("list_users", "owner", False),
    ]
    assert report["results"][2]["got"] is None
    assert "missing context parameters" in report["results"][2]["error"]


def test_unreadable_file_is_reported_and_fails(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.fga.yaml"
    bad.write_text(
        "model: |\n  model\n    schema 1.1\n  type user\ntuple_file: ./missing.csv\ntests: []\n"
    )
    code, out, _ = _run(capsys, "--tests", str(bad))
    assert code == 1
    assert "cannot read tuple file" in out
    assert out.strip().splitlines()[-1] == "0 passed, 0 failed, 1 could not run"


def test_tuple_that_does_not_fit_the_model_fails_the_test(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.fga.yaml"
    bad.write_text(
        "model: |\n  model\n    schema 1.1\n  type user\n  type doc\n    relations\n      define viewer: [user]\n"
        "tests:\n  - name: t\n    tuples:\n      - {user: 'doc:1', relation: viewer, object: 'doc:2'}\n"
        "    check:\n      - {user: 'user:a', object: 'doc:2', assertions: {viewer: false}}\n"
    )
    code, out, _ = _run(capsys, "--tests", str(bad))
    assert code == 1
    assert (
        "Invalid tuple 'doc:2#viewer@doc:1'. Reason: type 'doc' is not an allowed type restriction"
        in out
    )


def test_no_matching_file_is_an_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "--tests", str(tmp_path / "*.fga.yaml"))
    assert code == 1
    assert "no store test files match" in err


def _fga_results(path: Path) -> dict[tuple[Any, ...], Any]:
    proc = subprocess.run(
        [str(FGA), "model", "test", "--tests", str(path), "--verbose"],
        capture_output=True,
        text=True,
        cwd=path.parent,
        timeout=60,
        check=False,
    )
    tests, _ = json.JSONDecoder().raw_decode(proc.stdout)
    out: dict[tuple[Any, ...], Any] = {}
    for test in tests:
        for r in test.get("check_results") or ():
            q = r["request"]
            out[
                (
                    test["name"],
                    "check",
                    q["user"],
                    q["relation"],
                    q["object"],
                    json.dumps(q.get("context")),
                )
            ] = r["got"] if r["error"] is None else "error"
        for r in test.get("list_objects_results") or ():
            q = r["request"]
            got = sorted(r["got"]) if r["error"] is None else "error"
            out[
                (
                    test["name"],
                    "list_objects",
                    q["user"],
                    q["relation"],
                    q["type"],
                    json.dumps(q.get("context")),
                )
            ] = got
        for r in test.get("list_users_results") or ():
            q = r["request"]
            obj = f"{q['object']['type']}:{q['object']['id']}"
            got = sorted((r["got"] or {}).get("users") or ()) if r["error"] is None else "error"
            out[(test["name"], "list_users", obj, q["relation"], json.dumps(q.get("context")))] = (
                got
            )
    return out


def _our_results(capsys: pytest.CaptureFixture[str], path: Path) -> dict[tuple[Any, ...], Any]:
    main(["model", "test", "--tests", str(path), "--json"])
    report = json.loads(capsys.readouterr().out)
    out: dict[tuple[Any, ...], Any] = {}
    for r in report["results"]:
        q = r["request"]
        got = "error" if r["error"] else r["got"]
        context = json.dumps(q.get("context"))
        if r["kind"] == "check":
            out[(r["test"], "check", q["user"], q["relation"], q["object"], context)] = got
        elif r["kind"] == "list_objects":
            out[(r["test"], "list_objects", q["user"], q["relation"], q["type"], context)] = got
        else:
            out[(r["test"], "list_users", q["object"], q["relation"], context)] = got
    return out


@pytest.mark.fga
@pytest.mark.skipif(
    not FGA.exists() and not shutil.which("fga"), reason="OpenFGA's fga binary is not installed"
)
@pytest.mark.parametrize(
    "path",
    [pytest.param(p, id=p.stem.removesuffix(".fga")) for p in [*STORE_FILES, FAILING]],
)
def test_agrees_with_fga_model_test(capsys: pytest.CaptureFixture[str], path: Path) -> None:
    theirs = _fga_results(path)
    ours = _our_results(capsys, path)
    assert theirs, "fga reported no results"
    assert ours == theirs
