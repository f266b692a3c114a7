"""A live ``permsvc serve`` process for tests that drive real clients over HTTP."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import REPO_ROOT

__all__ = ("LiveServer", "free_port", "live_server")

PERMSVC = Path(sys.executable).with_name("permsvc")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    def __init__(self, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url = url
        self.process = process
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def live_server(
    data_dir: Path, *args: str, env: dict[str, str] | None = None, startup_s: float = 30.0
) -> Iterator[LiveServer]:
    """Start ``permsvc serve`` on a free loopback port with its data in ``data_dir``; stop it with
    SIGTERM (graceful shutdown) on exit, failing loudly if it does not stop."""
    port = free_port()
    log = data_dir / "server.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("PERMSVC_")}
    child_env.update({"PERMSVC_DATA_DIR": str(data_dir / "data"), **(env or {})})
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(PERMSVC), "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=child_env,
            cwd=REPO_ROOT,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"permsvc serve exited with {process.returncode}:\n{server.output()}"
                )
            try:
                with urllib.request.urlopen(server.url + "/readyz", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"permsvc serve did not become ready:\n{server.output()}")
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise RuntimeError(f"permsvc serve ignored SIGTERM:\n{server.output()}") from None
