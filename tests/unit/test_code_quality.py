"""The habits of a maintained project, checked by the README's test command: ruff's lint and
format checks and mypy (strict on ``permsvc/``, configured in ``pyproject.toml``) report zero
findings. The tools are pinned in the ``test`` extra, so every machine gets the same verdict."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize(
    "command",
    [("ruff", "check", "."), ("ruff", "format", "--check", "."), ("mypy",)],
    ids=["ruff-check", "ruff-format", "mypy-strict"],
)
def test_zero_findings(command: tuple[str, ...]) -> None:
    done = _run(*command)
    assert done.returncode == 0, (
        f"{' '.join(command)} found problems:\n{done.stdout}\n{done.stderr}"
    )
