"""A 200,000-tuple ``permsvc tuple import`` interrupted mid-way and resumed, on SQLite and
PostgreSQL: once with Ctrl-C (SIGINT) and the printed ``--resume-from N``, once killed (SIGKILL)
and resumed from ``--checkpoint-file``. Afterwards every tuple of the file is stored exactly once."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.live import PERMSVC
from tests.cli.remote_server import BACKENDS, RemoteServer, remote_server, run_permsvc
from tests.pg import postgres_url  # noqa: F401 - fixture

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]

TUPLES = 200_000
BATCH = 5_000
MODEL = "model\n  schema 1.1\ntype user\ntype document\n  relations\n    define viewer: [user]\n"


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RemoteServer]:
    with remote_server(request, tmp_path_factory.mktemp(f"import-{request.param}")) as live:
        yield live


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    path = tmp_path_factory.mktemp("tuples") / "tuples.jsonl"
    tuples = [
        {"user": f"user:u{i % 5000}", "relation": "viewer", "object": f"document:d{i}"}
        for i in range(TUPLES)
    ]
    path.write_text("".join(json.dumps(t) + "\n" for t in tuples))
    return path, {json.dumps(t, sort_keys=True) for t in tuples}


def _store(server: RemoteServer, tmp_path: Path) -> dict[str, str]:
    env = server.env()
    made = run_permsvc("store", "create", "import-resume", env=env)
    assert made.returncode == 0, made.stderr
    env["PERMSVC_STORE"] = made.stdout.strip()
    model = tmp_path / "m.fga"
    model.write_text(MODEL)
    written = run_permsvc("model", "write", str(model), env=env)
    assert written.returncode == 0, written.stderr
    return env


def _stored(env: dict[str, str], tmp_path: Path) -> list[str]:
    out = tmp_path / "export.jsonl"
    exported = run_permsvc("tuple", "export", "--output", str(out), env=env)
    assert exported.returncode == 0, exported.stderr
    return [json.dumps(json.loads(line), sort_keys=True) for line in out.read_text().splitlines()]


def _start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    child = {k: v for k, v in os.environ.items() if not k.startswith("PERMSVC_")}
    child.update(env)
    return subprocess.Popen(
        [str(PERMSVC), "tuple", "import", *args, "--batch-size", str(BATCH)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child,
    )


def _assert_complete(env: dict[str, str], tmp_path: Path, expected: set[str]) -> None:
    stored = _stored(env, tmp_path)
    assert len(stored) == TUPLES
    assert set(stored) == expected


def test_sigint_then_resume_from_the_printed_checkpoint(
    server: RemoteServer, source: tuple[Path, set[str]], tmp_path: Path
) -> None:
    path, expected = source
    env = _store(server, tmp_path)
    process = _start(env, str(path))
    assert process.stderr is not None
    lines: list[str] = []
    started = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            found = re.search(r"checkpoint (\d+)$", line.strip())
            if found and int(found.group(1)) > 0:
                started.set()

    reader = threading.Thread(target=read)
    reader.start()
    assert started.wait(120), "".join(lines)
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 130
    reader.join()
    err = "".join(lines)
    resume = re.search(r"--resume-from (\d+)", err)
    assert resume, err
    done = int(resume.group(1))
    assert 0 < done < TUPLES and done % BATCH == 0
    assert f"the first {done} records are imported" in err
    # At most the batch in flight when interrupted was stored beyond the checkpoint.
    before = len(_stored(env, tmp_path))
    assert done <= before <= done + BATCH

    resumed = run_permsvc(
        "tuple",
        "import",
        str(path),
        "--resume-from",
        str(done),
        "--json",
        "--batch-size",
        str(BATCH),
        env=env,
        timeout=540,
    )
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["resumed_from"] == done
    assert summary["sent"] == TUPLES - done
    assert summary["records"] == TUPLES
    assert summary["stored"] == TUPLES - before
    print(
        f"\nresumed import of {summary['sent']} tuples: {summary['tuples_per_second']:.0f} tuples/s"
    )
    _assert_complete(env, tmp_path, expected)


def test_killed_then_resumed_from_the_checkpoint_file(
    server: RemoteServer, source: tuple[Path, set[str]], tmp_path: Path
) -> None:
    path, expected = source
    env = _store(server, tmp_path)
    checkpoint = tmp_path / "import.checkpoint"
    process = _start(env, str(path), "--checkpoint-file", str(checkpoint), "--no-progress")
    deadline = time.monotonic() + 120
    while (
        not checkpoint.exists()
        or json.loads(checkpoint.read_text() or "{}").get("done", 0) < 4 * BATCH
    ):
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.kill()
    process.wait(30)
    process.communicate()
    done = json.loads(checkpoint.read_text())["done"]
    assert 0 < done < TUPLES and done % BATCH == 0
    before = len(_stored(env, tmp_path))
    assert done <= before <= done + BATCH

    resumed = run_permsvc(
        "tuple",
        "import",
        str(path),
        "--checkpoint-file",
        str(checkpoint),
        "--batch-size",
        str(BATCH),
        "--no-progress",
        env=env,
        timeout=540,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed at record {done}" in resumed.stderr
    assert not checkpoint.exists()
    _assert_complete(env, tmp_path, expected)

    # A checkpoint of another file is refused rather than applied to this one.
    checkpoint.write_text(
        json.dumps({"file": "/elsewhere.jsonl", "size": 1, "format": "jsonl", "done": 5})
    )
    refused = run_permsvc(
        "tuple", "import", str(path), "--checkpoint-file", str(checkpoint), env=env
    )
    assert refused.returncode == 2 and "another input" in refused.stderr
