"""A live ``permsvc serve`` on SQLite or PostgreSQL with an admin API key, for the remote CLI tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.api.live import PERMSVC, LiveServer, live_server

__all__ = ("BACKENDS", "RemoteServer", "remote_server", "run_permsvc")

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@dataclass(frozen=True)
class RemoteServer:
    live: LiveServer
    url: str
    admin_key: str
    database: str
    """``--database-url`` of the server's database."""

    def env(self, **extra: str) -> dict[str, str]:
        return {"PERMSVC_URL": self.url, "PERMSVC_API_KEY": self.admin_key, **extra}


def run_permsvc(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The ``permsvc`` executable in a clean environment (no ``PERMSVC_*`` from the caller)."""
    child = {k: v for k, v in os.environ.items() if not k.startswith("PERMSVC_")}
    child.update(env or {})
    return subprocess.run(
        [str(PERMSVC), *args],
        capture_output=True,
        text=True,
        env=child,
        timeout=timeout,
        check=False,
    )


@contextlib.contextmanager
def remote_server(request: pytest.FixtureRequest, folder: Path) -> Iterator[RemoteServer]:
    """``request.param`` is ``sqlite`` or ``postgres``; an admin key is created in the server's
    database with the local ``permsvc admin create-key`` before it starts."""
    if request.param == "postgres":
        database = request.getfixturevalue("postgres_url")
    else:
        database = f"sqlite:///{folder / 'permsvc.db'}"
    made = run_permsvc(
        "admin", "create-key", "--scope", "admin", "--name", "cli-tests", "--database-url", database
    )
    assert made.returncode == 0, made.stderr
    env = {"PERMSVC_DATABASE_URL": database, "PERMSVC_ACCESS_LOG": "false"}
    with live_server(folder, env=env) as live:
        yield RemoteServer(
            live=live, url=live.url, admin_key=made.stdout.strip(), database=database
        )
