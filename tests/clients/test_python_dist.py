"""The Python client installs on its own: a fresh virtual environment, ``pip install
clients/python``, and neither the server nor its dependencies come along."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import CLIENT_PYTHON

SERVER_ONLY = [
    "permsvc",
    "litestar",
    "asyncpg",
    "msgspec",
    "uvicorn",
    "jwt",
    "yaml",
    "re2",
    "prometheus_client",
]


@pytest.mark.timeout(300)
def test_client_installs_in_a_fresh_venv_without_the_servers_dependencies(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            str(CLIENT_PYTHON),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    probe = (
        "import importlib.util, json, permsvc_client, permsvc_client.claims\n"
        "from importlib.metadata import requires\n"
        f"absent = {SERVER_ONLY!r}\n"
        "print(json.dumps({'present': [m for m in absent if importlib.util.find_spec(m)],"
        " 'requires': requires('permsvc-client'), 'file': permsvc_client.__file__,"
        " 'client': permsvc_client.Permsvc('http://127.0.0.1:9').base_url}))\n"
    )
    out = subprocess.run(
        [str(python), "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    facts = json.loads(out.stdout)
    assert facts["present"] == [], (
        f"server-side modules installed with the client: {facts['present']}"
    )
    assert [r for r in facts["requires"] if "extra ==" not in r] == ["httpx>=0.27"]
    assert str(env_dir) in facts["file"] and facts["client"] == "http://127.0.0.1:9"
    assert sys.prefix != str(env_dir)
