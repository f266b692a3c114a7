"""A real PostgreSQL for tests: one fresh, migrated database per test session.

Where the server comes from, in order:

1. ``PERMSVC_TEST_DATABASE_URL`` (any database on the server; used to create ours);
2. the local server ``postgresql://postgres@127.0.0.1:5432/test`` (trust auth);
3. when that does not answer and PostgreSQL's binaries are installed (``initdb``), a private
   server started in a temporary directory on a free port (as root, through ``runuser -u
   postgres``, since ``initdb`` refuses to run as root) and stopped at exit.

The session database ``permsvc_test_<hex>`` is created, migrated, and dropped at exit. Tests
isolate themselves by creating fresh stores (ULIDs), never by truncating tables.

When no server can be had, tests that need one skip with the reason, except in CI
(``CI=true``), where they fail: a CI run must never pass by skipping its database tests.
Import the :func:`postgres_url` fixture into a test module (or conftest) to use it.
"""

from __future__ import annotations

import asyncio
import atexit
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from permsvc.store.postgres import PostgresDatastore

__all__ = ("DEFAULT_TEST_SERVER_URL", "PrivateCluster", "postgres_url", "session_database_url")

T = TypeVar("T")

DEFAULT_TEST_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/test"

_lock = threading.Lock()
_state: dict[str, str] = {}


def _run(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on a private loop (callers may be inside a running loop)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(factory())
        except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = err

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def _probe(url: str) -> str | None:
    """``None`` when ``url`` accepts a connection, else the reason it does not."""

    async def connect() -> None:
        conn = await asyncpg.connect(url, timeout=5)
        await conn.close()

    try:
        _run(connect)
    except Exception as err:  # noqa: BLE001 - any failure means "no server here"
        return f"{type(err).__name__}: {err}"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateCluster:
    """A throwaway PostgreSQL cluster of this process: its own ``initdb`` data directory in a
    temporary directory and a free loopback port, run as the ``postgres`` user when we are root
    (``initdb`` refuses root). Never the machine's server: tests may stop and restart it at will.
    """

    def __init__(self) -> None:
        candidates = sorted(
            glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
        )
        initdb = candidates[-1] if candidates else shutil.which("initdb")
        if initdb is None:
            raise RuntimeError("no PostgreSQL binaries (initdb) installed")
        self._bindir = Path(initdb).parent
        self.root = Path(tempfile.mkdtemp(prefix="permsvc-pg-"))
        self._prefix: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, user="postgres", group="postgres")
            self._prefix = ["runuser", "-u", "postgres", "--"]
        self.data, self.port = self.root / "data", _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        """The admin URL (database ``postgres``, trust auth)."""
        subprocess.run(
            [
                *self._prefix,
                str(self._bindir / "initdb"),
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )

    def _ctl(self, *args: str, check: bool = True) -> None:
        subprocess.run(
            [*self._prefix, str(self._bindir / "pg_ctl"), "-D", str(self.data), *args],
            check=check,
            capture_output=True,
        )

    def start(self) -> None:
        """Start (or restart) the server on its port; returns once it accepts connections."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-l", str(self.root / "log"), "-o", options, "-w", "start")

    def kill(self) -> None:
        """Stop the server at once (``-m immediate``: no checkpoint, clients are cut off)."""
        self._ctl("-m", "immediate", "-w", "stop", check=False)

    def destroy(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def _start_private_server() -> str:
    """Start a throwaway server for the session; returns its admin URL."""
    cluster = PrivateCluster()
    cluster.start()
    atexit.register(cluster.destroy)
    return cluster.url


def _admin_url() -> str:
    explicit = os.environ.get("PERMSVC_TEST_DATABASE_URL")
    if explicit:
        reason = _probe(explicit)
        if reason is not None:
            raise RuntimeError(f"PERMSVC_TEST_DATABASE_URL does not answer ({reason})")
        return explicit
    reason = _probe(DEFAULT_TEST_SERVER_URL)
    if reason is None:
        return DEFAULT_TEST_SERVER_URL
    try:
        return _start_private_server()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as err:
        detail = (
            err.stderr.decode(errors="replace").strip()
            if isinstance(err, subprocess.CalledProcessError)
            else err
        )
        raise RuntimeError(
            f"no PostgreSQL at {DEFAULT_TEST_SERVER_URL} ({reason}) and no private server could be started ({detail})"
        ) from err


def _create_session_database(*, migrate: bool = True) -> str:
    admin = _admin_url()
    name = f"permsvc_test_{secrets.token_hex(6)}"

    async def create() -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        if migrate:
            store = await PostgresDatastore.open(_with_database(admin, name), migrate=True)
            await store.aclose()

    async def drop() -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    _run(create)
    atexit.register(lambda: _run(drop))
    return _with_database(admin, name)


def _unavailable(reason: str) -> None:
    message = f"PostgreSQL unavailable: {reason}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: database tests must run, not skip)", pytrace=False)
    pytest.skip(message)


def session_database_url() -> str:
    """The URL of this process's fresh, migrated test database (created on first use).

    Skips the calling test when no server is available (fails it under ``CI=true``).
    """
    with _lock:
        if "url" not in _state and "error" not in _state:
            try:
                _state["url"] = _create_session_database()
            except Exception as err:  # noqa: BLE001 - reported through skip/fail below
                _state["error"] = str(err)
    if "error" in _state:
        _unavailable(_state["error"])
    return _state["url"]


def fresh_database_url() -> str:
    """A new, migrated database of the caller's own (dropped at exit), for tests whose subject is
    what the whole database holds (e.g. whether any API key exists: one closes the anonymous door
    of every server on that database). Skips like :func:`session_database_url`."""
    session_database_url()
    return _create_session_database()


def empty_database_url() -> str:
    """A new database without any migration applied (dropped at exit), for tests of the
    migrations themselves. Skips like :func:`session_database_url`."""
    session_database_url()
    return _create_session_database(migrate=False)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """Session fixture: the URL of a fresh, migrated PostgreSQL database for this test run."""
    return session_database_url()
