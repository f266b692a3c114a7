"""Private PostgreSQL clusters for failover and read-replica tests: a primary, a synchronous hot
standby or asynchronous ones (whose replay can be paused), and a PgBouncer in front of a node.

Never touches the machine's own server: every node is a fresh ``initdb`` in a temporary
directory, on a free loopback port, with its Unix socket in that directory. As root the binaries
run through ``runuser -u postgres`` (``initdb`` refuses root). :meth:`PgCluster.close` stops every
node and removes the directories; tests use it as a context manager.

The standby is made with ``pg_basebackup -R`` (which writes ``primary_conninfo`` and
``standby.signal``) and the primary then requires it for every commit
(``synchronous_standby_names = '*'``, ``synchronous_commit = on``): a commit is acknowledged only
once the standby has flushed it, so promoting the standby loses no acknowledged write.

:meth:`PgCluster.kill_primary` is ``kill -9`` of the postmaster and of every one of its children
(a crash: nothing is shut down cleanly, no connection is closed politely).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Self

__all__ = (
    "VIEWER_MODEL",
    "PgCluster",
    "PgNode",
    "pg_bindir",
    "private_cluster",
    "require_cluster_tools",
)

VIEWER_MODEL = {
    "schema_version": "1.1",
    "type_definitions": [
        {"type": "user"},
        {
            "type": "doc",
            "relations": {"viewer": {"this": {}}},
            "metadata": {
                "relations": {"viewer": {"directly_related_user_types": [{"type": "user"}]}}
            },
        },
    ],
}
"""The model the cluster tests write: ``doc#viewer`` of ``user``s."""


def pg_bindir() -> Path | None:
    """The newest installed PostgreSQL's ``bin`` directory (``None``: none installed)."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def require_cluster_tools(*, pgbouncer: bool = False) -> None:
    """Skip the calling test when PostgreSQL's binaries (or ``pgbouncer``) are missing; under
    ``CI=true`` fail instead (``.ci/run`` installs them)."""
    import pwd

    import pytest

    missing = []
    if pg_bindir() is None:
        missing.append("PostgreSQL binaries (initdb, pg_basebackup)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            missing.append("the postgres user")
    if pgbouncer and not (shutil.which("pgbouncer") or Path("/usr/sbin/pgbouncer").exists()):
        missing.append("pgbouncer")
    if not missing:
        return
    reason = f"{' and '.join(missing)} not installed"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: this test must run)", pytrace=False)
    pytest.skip(reason)


def private_cluster(*, pgbouncer: bool = False) -> Iterator[PgCluster]:
    """Fixture body: a :class:`PgCluster` (after :func:`require_cluster_tools`), closed after."""
    require_cluster_tools(pgbouncer=pgbouncer)
    with PgCluster() as built:
        yield built


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgNode:
    name: str
    port: int
    data: Path

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])


class PgCluster:
    """A private primary (and, after :meth:`add_sync_standby`, a synchronous hot standby)."""

    def __init__(self) -> None:
        bindir = pg_bindir()
        if bindir is None:
            raise RuntimeError("no PostgreSQL binaries (initdb) installed")
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="permsvc-pgcluster-"))
        self._prefix: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, user="postgres", group="postgres")
            self._prefix = ["runuser", "-u", "postgres", "--"]
        self.nodes: list[PgNode] = []

    # -- plumbing -------------------------------------------------------------------------------

    def _run(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            [*self._prefix, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stderr.strip() or done.stdout}")
        return done.stdout

    def _bin(self, name: str) -> str:
        return str(self.bindir / name)

    def _start(self, node: PgNode) -> None:
        options = f"-p {node.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._run(
            self._bin("pg_ctl"), "-D", str(node.data), "-l", str(self.root / f"{node.name}.log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
        self.nodes.append(node)

    def psql(self, node: PgNode, sql: str) -> str:
        return self._run(
            self._bin("psql"), "-h", "127.0.0.1", "-p", str(node.port), "-U", "postgres",
            "-d", "postgres", "-AtXq", "-v", "ON_ERROR_STOP=1", "-c", sql,
        ).strip()  # fmt: skip

    # -- building -------------------------------------------------------------------------------

    def start_primary(self) -> PgNode:
        node = PgNode("primary", free_port(), self.root / "primary")
        self._run(
            self._bin("initdb"), "-D", str(node.data), "-A", "trust", "-U", "postgres",
            "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        with (node.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# failover test\nwal_level = replica\nmax_wal_senders = 5\nhot_standby = on\n"
                "synchronous_commit = on\nwal_keep_size = '64MB'\nfsync = off\n"
            )
        self._start(node)
        return node

    def add_standby(self, primary: PgNode, name: str = "standby") -> PgNode:
        """An asynchronous hot standby streaming from ``primary`` (a read replica)."""
        node = PgNode(name, free_port(), self.root / name)
        self._run(
            self._bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
            "-D", str(node.data), "-R", "-X", "stream", "-c", "fast", "--no-sync",
        )  # fmt: skip
        self._start(node)
        return node

    def add_sync_standby(self, primary: PgNode) -> PgNode:
        """A hot standby streaming from ``primary``, then made synchronous (waits until it is)."""
        node = self.add_standby(primary)
        self.psql(primary, "ALTER SYSTEM SET synchronous_standby_names = '*'")
        self.psql(primary, "SELECT pg_reload_conf()")
        deadline = time.monotonic() + 60
        while (
            self.psql(primary, "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")
            != "1"
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("the standby did not become synchronous within 60 s")
            time.sleep(0.1)
        return node

    def start_pgbouncer(self, node: PgNode, *, pool_size: int = 2) -> str:
        """Debian's ``pgbouncer`` in transaction-pooling mode in front of ``node``, on a free
        port, with its own ini and userlist here (run as ``postgres``: it refuses root); returns
        its URL. Stopped by :meth:`close`."""
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        if not Path(binary).exists():
            raise RuntimeError("pgbouncer is not installed")
        port = free_port()
        folder = self.root / "pgbouncer"
        folder.mkdir()
        (folder / "userlist.txt").write_text('"postgres" ""\n')
        (folder / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"postgres = host=127.0.0.1 port={node.port} dbname=postgres\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {folder / 'userlist.txt'}\n"
            f"pool_mode = transaction\ndefault_pool_size = {pool_size}\nmax_client_conn = 200\n"
            f"logfile = {folder / 'pgbouncer.log'}\npidfile = {folder / 'pgbouncer.pid'}\n"
            "ignore_startup_parameters = extra_float_digits\n"
        )
        if self._prefix:
            shutil.chown(folder, user="postgres", group="postgres")
            for child in folder.iterdir():
                shutil.chown(child, user="postgres", group="postgres")
        self._run(binary, "-d", str(folder / "pgbouncer.ini"))
        self._pgbouncer_pid = folder / "pgbouncer.pid"
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("pgbouncer did not listen within 10 s")
            time.sleep(0.05)
        return f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def pgbouncer_log(self) -> str:
        log = self.root / "pgbouncer" / "pgbouncer.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def pause_replay(self, standby: PgNode) -> None:
        """Stop ``standby`` applying WAL (it still receives it): it lags deterministically."""
        self.psql(standby, "SELECT pg_wal_replay_pause()")

    def resume_replay(self, standby: PgNode) -> None:
        self.psql(standby, "SELECT pg_wal_replay_resume()")

    def wait_replayed(self, primary: PgNode, standby: PgNode, timeout_s: float = 30) -> None:
        """Until ``standby`` has replayed everything ``primary`` had written when called."""
        target = self.psql(primary, "SELECT pg_current_wal_lsn()")
        deadline = time.monotonic() + timeout_s
        while self.psql(standby, f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn") != "t":
            if time.monotonic() > deadline:
                raise RuntimeError(f"{standby.name} did not replay {target} within {timeout_s} s")
            time.sleep(0.02)

    # -- failing over ---------------------------------------------------------------------------

    def kill(self, node: PgNode) -> None:
        """``kill -9`` the node's postmaster and all its children at once (a crash)."""
        pid = node.postmaster_pid()
        children = [pid, *_children_of(pid)]
        for child in children:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in children) and time.monotonic() < deadline:
            time.sleep(0.01)
        if node in self.nodes:
            self.nodes.remove(node)

    def promote(self, node: PgNode) -> None:
        self._run(self._bin("pg_ctl"), "-D", str(node.data), "-w", "-t", "60", "promote")

    def close(self) -> None:
        pidfile = getattr(self, "_pgbouncer_pid", None)
        if pidfile is not None and pidfile.exists():
            try:
                os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
            except (ValueError, ProcessLookupError):
                pass
        for node in list(self.nodes):
            subprocess.run(
                [
                    *self._prefix,
                    self._bin("pg_ctl"),
                    "-D",
                    str(node.data),
                    "-m",
                    "immediate",
                    "stop",
                ],
                capture_output=True,
                check=False,
            )
        self.nodes.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _children_of(pid: int) -> list[int]:
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.split("/")[2]))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a killed child of a dead postmaster is a zombie until init reaps it
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
