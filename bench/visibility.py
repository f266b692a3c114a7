"""Write -> visible on every worker: how long until a grant answers ``allowed`` everywhere.

Through the live ``permsvc serve --workers 2`` of :mod:`bench.http_bench`. The client keeps one
persistent HTTP/1.1 connection per worker; which worker holds a connection is read from the
kernel (the server-side socket of the connection, found in ``/proc/net/tcp``, is an open file of
exactly one worker process), so every poll is known to ask a given worker.

Per round, with a fresh user (so the answer is ``False`` until the grant lands), the writes
alternating between the workers:

- **MINIMIZE_LATENCY**: write ``document#viewer@user`` through one worker, then poll a
  ``MINIMIZE_LATENCY`` check on each worker in turn until every worker has answered ``allowed``.
  Reported from the start of the write request and from its response (the writing worker
  applies the write to its own index before it answers, so the other one is what is measured).
- **token**: write another grant, then check it at once on the *other* worker with the
  consistency token the write returned: it must be ``allowed`` on the first try.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.engine import latency_summary
from bench.http_bench import group_processes

if TYPE_CHECKING:
    from bench.drive import DriveDataset
    from bench.http_bench import LiveServer

__all__ = ("measure_visibility",)

_POLL_TIMEOUT_S = 5.0


class _Connection:
    """One keep-alive HTTP/1.1 connection (requests one at a time; JSON bodies)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.local_port: int = writer.get_extra_info("sockname")[1]
        self.worker = 0

    @classmethod
    async def open(cls, port: int) -> _Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(
        self, method: str, path: str, body: Any = None
    ) -> tuple[int, dict[str, str], Any]:
        payload = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        )
        self.writer.write(head.encode() + payload)
        await self.writer.drain()
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        data = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return status, headers, json.loads(data) if data else None

    def close(self) -> None:
        self.writer.close()


def _server_socket_inode(server_port: int, client_port: int) -> int | None:
    """The inode of the server-side socket of the loopback connection from ``client_port``."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], int(fields[9])
        if (
            int(local.split(":")[1], 16) == server_port
            and int(remote.split(":")[1], 16) == client_port
        ):
            return inode
    return None


def _owner(pgid: int, inode: int) -> int | None:
    """The process of process group ``pgid`` that has socket ``inode`` open."""
    target = f"socket:[{inode}]"
    for entry in group_processes(pgid):
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) == target:
                    return int(entry.name)
        except (OSError, ProcessLookupError):
            continue
    return None


async def _connections_per_worker(server: LiveServer, port: int) -> dict[int, _Connection]:
    """One connection to each worker, opened until the kernel has handed one to every worker."""
    found: dict[int, _Connection] = {}
    spare: list[_Connection] = []
    try:
        for _ in range(64):
            conn = await _Connection.open(port)
            await conn.request("GET", "/healthz")
            inode = _server_socket_inode(port, conn.local_port)
            worker = _owner(server.pid, inode) if inode is not None else None
            if worker is None or worker in found:
                spare.append(conn)
            else:
                conn.worker = worker
                found[worker] = conn
            if len(found) >= server.workers:
                return found
        raise RuntimeError(
            f"could not reach {server.workers} distinct workers in 64 connections (got {len(found)})"
        )
    finally:
        for conn in spare:
            conn.close()


async def measure_visibility(
    server: LiveServer, dataset: DriveDataset, *, rounds: int = 40
) -> dict[str, Any]:
    """p50/p99 of write -> allowed on every worker (MINIMIZE_LATENCY) and the token's immediacy."""
    port = int(server.base_url.rsplit(":", 1)[1])
    conns = await _connections_per_worker(server, port)
    workers = list(conns.values())
    write_path = f"/stores/{server.store_id}/write"
    check_path = f"/stores/{server.store_id}/check"
    stamp = time.strftime("%H%M%S")
    docs = [c.object for c in dataset.checks if c.object.startswith("document:")] or [
        dataset.tuples[-1].object
    ]

    def grant(user: str, obj: str) -> dict[str, Any]:
        return {"user": user, "relation": "viewer", "object": obj}

    async def write(conn: _Connection, key: dict[str, Any]) -> str:
        status, headers, body = await conn.request(
            "POST",
            write_path,
            {"writes": {"tuple_keys": [key]}, "authorization_model_id": server.model_id},
        )
        if status != 200:
            raise RuntimeError(f"write {key} failed: {status} {body}")
        return headers.get("x-permsvc-consistency-token", "")

    async def allowed(conn: _Connection, key: dict[str, Any], token: str = "") -> bool:
        body: dict[str, Any] = {"tuple_key": key, "authorization_model_id": server.model_id}
        if token:
            body["consistency_token"] = token
        else:
            body["consistency"] = "MINIMIZE_LATENCY"
        status, _, answer = await conn.request("POST", check_path, body)
        if status != 200:
            raise RuntimeError(f"check {key} failed: {status} {answer}")
        return bool(answer["allowed"])

    from_start: list[int] = []
    from_ack: list[int] = []
    token_latency: list[int] = []
    token_misses = timeouts = 0
    try:
        for r in range(rounds):
            writer, other = workers[r % len(workers)], workers[(r + 1) % len(workers)]
            key = grant(f"user:vis-{stamp}-{r}", docs[r % len(docs)])
            t0 = time.perf_counter_ns()
            await write(writer, key)
            t_ack = time.perf_counter_ns()
            pending = {id(c): c for c in workers}
            deadline = t_ack + int(_POLL_TIMEOUT_S * 1e9)
            while pending and time.perf_counter_ns() < deadline:
                for conn in list(pending.values()):
                    if await allowed(conn, key):
                        del pending[id(conn)]
            done = time.perf_counter_ns()
            if pending:
                timeouts += 1
                continue
            from_start.append(done - t0)
            from_ack.append(done - t_ack)

            key = grant(f"user:vis-{stamp}-{r}-token", docs[(r * 7 + 3) % len(docs)])
            token = await write(writer, key)
            t1 = time.perf_counter_ns()
            ok = await allowed(other, key, token)
            token_latency.append(time.perf_counter_ns() - t1)
            token_misses += not ok
    finally:
        for conn in workers:
            conn.close()
    return {
        "rounds": rounds,
        "workers_reached": sorted(c.worker for c in workers),
        "minimize_latency_from_write_start": latency_summary(from_start),
        "minimize_latency_after_ack": latency_summary(from_ack),
        "timeouts": timeouts,
        "token_check": {**latency_summary(token_latency), "not_allowed_on_first_try": token_misses},
    }
