"""Failover without losing acknowledged writes (a primary with a synchronous hot standby).

A private cluster on loopback (:mod:`tests.pgcluster`: ``initdb``, ``pg_basebackup -R``,
``synchronous_standby_names``; never the machine's own server) and two ``permsvc serve``
processes given the multi-host URL ``postgresql://primary,standby/postgres?
target_session_attrs=read-write``. A bounded load of writes and checks runs through both; the
primary is killed with ``kill -9`` (postmaster and every backend), the standby is promoted a
moment later, and the load goes on until writes succeed again. Then:

- every write acknowledged (200) is in the promoted database, and its changelog revisions are
  1..head without a gap;
- no request ever got anything but 200 or 503, and no check ever answered wrongly (a check
  carrying an acknowledged write's consistency token is allowed; a tuple never written is denied);
- both processes' indexes LISTEN again on the new primary (their logs say so) and answer the
  writes made after the failover from their index (``MINIMIZE_LATENCY``);
- the time from the kill to the first acknowledged write is printed (``-s`` shows it).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.api.live import LiveServer, live_server
from tests.pgcluster import VIEWER_MODEL, PgCluster, private_cluster

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]

_BEFORE_KILL_S = 2.0
_KILL_TO_PROMOTE_S = 1.0
_WRITES_AFTER_FAILOVER = 30
_RECOVERY_BUDGET_S = 60.0
_CHECKERS_PER_SERVER = 2


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    yield from private_cluster()


class _Load:
    """Writes ``doc:<n>#viewer@user:<n>`` (each once, never retried) and checks acknowledged ones."""

    def __init__(self, servers: list[LiveServer], store: str) -> None:
        self.servers = servers
        self.store = store
        self.acked: dict[int, str] = {}
        """write number -> consistency token of its acknowledgement"""
        self.ack_time: dict[int, float] = {}
        self.sent_time: dict[int, float] = {}
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.wrong: list[str] = []
        self.unexpected: list[str] = []
        self.stop = asyncio.Event()
        self._next = 0

    async def writer(self, client: httpx.AsyncClient, server: LiveServer) -> None:
        while not self.stop.is_set():
            n = self._next
            self._next += 1
            body = {
                "writes": {
                    "tuple_keys": [
                        {"object": f"doc:{n}", "relation": "viewer", "user": f"user:{n}"}
                    ]
                }
            }
            self.sent_time[n] = time.monotonic()
            status, response = await self._post(client, server, f"/stores/{self.store}/write", body)
            self.statuses[("write", status)] += 1
            if status == 200:
                assert response is not None
                self.acked[n] = response.headers["X-Permsvc-Consistency-Token"]
                self.ack_time[n] = time.monotonic()
            else:
                await asyncio.sleep(0.05)

    async def checker(self, client: httpx.AsyncClient, server: LiveServer) -> None:
        rng = random.Random()
        while not self.stop.is_set():
            if not self.acked:
                await asyncio.sleep(0.01)
                continue
            n = rng.choice(list(self.acked))
            granted = rng.random() < 0.5
            user = f"user:{n}" if granted else f"user:never-{n}"
            body = {
                "tuple_key": {"object": f"doc:{n}", "relation": "viewer", "user": user},
                "consistency_token": self.acked[n],
            }
            status, response = await self._post(client, server, f"/stores/{self.store}/check", body)
            self.statuses[("check", status)] += 1
            if status == 200:
                assert response is not None
                if response.json()["allowed"] is not granted:
                    self.wrong.append(f"{server.url} doc:{n} {user} -> {response.json()}")
            else:
                await asyncio.sleep(0.02)

    async def _post(
        self, client: httpx.AsyncClient, server: LiveServer, path: str, body: dict[str, Any]
    ) -> tuple[int, httpx.Response | None]:
        try:
            response = await client.post(server.url + path, json=body, timeout=10)
        except httpx.TransportError as err:
            self.unexpected.append(f"{server.url}{path}: {type(err).__name__} {err}")
            return -1, None
        if response.status_code not in (200, 503):
            self.unexpected.append(
                f"{server.url}{path}: {response.status_code} {response.text[:300]}"
            )
        elif response.status_code == 503 and not response.headers.get("Retry-After"):
            self.unexpected.append(f"{server.url}{path}: 503 without Retry-After")
        return response.status_code, response


async def _db_state(url: str, store: str) -> tuple[set[str], list[int], int]:
    conn = await asyncpg.connect(url)
    try:
        objects = {
            r[0]
            for r in await conn.fetch("SELECT object_id FROM tuples WHERE store_id = $1", store)
        }
        revisions = [
            r[0]
            for r in await conn.fetch(
                "SELECT DISTINCT revision FROM changelog WHERE store_id = $1 ORDER BY revision",
                store,
            )
        ]
        head = await conn.fetchval(
            "SELECT revision FROM store_revisions WHERE store_id = $1", store
        )
        in_recovery = await conn.fetchval("SELECT pg_is_in_recovery()")
        assert in_recovery is False, "the promoted standby accepts writes"
    finally:
        await conn.close()
    return objects, revisions, int(head)


def test_failover_to_a_promoted_standby_loses_no_acknowledged_write(
    cluster: PgCluster, tmp_path: Path
) -> None:
    primary = cluster.start_primary()
    standby = cluster.add_sync_standby(primary)
    url = (
        f"postgresql://postgres@127.0.0.1:{primary.port},127.0.0.1:{standby.port}/postgres"
        "?target_session_attrs=read-write"
    )
    env = {"PERMSVC_DATABASE_URL": url, "PERMSVC_ACCESS_LOG": "false"}
    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(live_server(tmp_path / f"worker-{i}", "--workers", "1", env=env))
            for i in range(2)
        ]
        store = httpx.post(
            servers[0].url + "/stores", json={"name": "failover"}, timeout=10
        ).json()["id"]
        model = httpx.post(
            servers[0].url + f"/stores/{store}/authorization-models", json=VIEWER_MODEL, timeout=10
        )
        assert model.status_code == 201, model.text
        figures = asyncio.run(_run_load(cluster, primary, standby, servers, store))
        load: _Load = figures["load"]

        assert not load.unexpected, load.unexpected[:10]
        assert not load.wrong, load.wrong[:10]
        objects, revisions, head = asyncio.run(_db_state(standby.url, store))
        missing = sorted(n for n in load.acked if str(n) not in objects)
        assert not missing, f"acknowledged writes missing after the failover: {missing[:20]}"
        assert revisions == list(range(1, head + 1)), "the changelog has a gap"

        # Both indexes caught up and answer the post-failover writes without a token, and both
        # listeners LISTEN on the new primary (a write's notification, not only polling).
        after = [n for n in load.acked if load.sent_time[n] > figures["kill_done"]]
        assert len(after) >= _WRITES_AFTER_FAILOVER
        for server in servers:
            deadline = time.monotonic() + 10
            while True:
                answers = [
                    httpx.post(
                        server.url + f"/stores/{store}/check",
                        json={
                            "tuple_key": {
                                "object": f"doc:{n}",
                                "relation": "viewer",
                                "user": f"user:{n}",
                            }
                        },
                        timeout=10,
                    ).json()["allowed"]
                    for n in after
                ]
                if all(answers) or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert all(answers), f"{server.url} does not answer every post-failover write"
            # The listener retries its connection every second at most; the answers above may
            # come first (the write's own catch-up, the safety poll), so give it that long.
            deadline = time.monotonic() + 10
            while "LISTENs again" not in server.output() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert "LISTENs again" in server.output(), server.output()[-3000:]
        wake = asyncio.run(_notification_delay(servers, store))

    print(
        f"\nfailover: kill -9 at 0.00 s, promote at {figures['promoted_at'] - figures['killed_at']:.2f} s, "
        f"first acknowledged write at {figures['first_write_s']:.2f} s after the kill "
        f"({figures['first_write_s'] - (figures['promoted_at'] - figures['killed_at']):.2f} s after promotion); "
        f"{len(load.acked)} writes acknowledged, all present; changelog 1..{head} gap-free; "
        f"statuses {dict(load.statuses)}; a new write visible on both indexes in {wake * 1000:.0f} ms"
    )


async def _run_load(
    cluster: PgCluster, primary: Any, standby: Any, servers: list[LiveServer], store: str
) -> dict[str, Any]:
    load = _Load(servers, store)
    limits = httpx.Limits(max_connections=8)
    async with httpx.AsyncClient(limits=limits) as client:
        tasks = [asyncio.create_task(load.writer(client, server)) for server in servers]
        tasks += [
            asyncio.create_task(load.checker(client, server))
            for server in servers
            for _ in range(_CHECKERS_PER_SERVER)
        ]
        try:
            await asyncio.sleep(_BEFORE_KILL_S)
            assert load.acked, f"no write acknowledged before the kill: {load.unexpected[:5]}"
            before = len(load.acked)
            killed_at = time.monotonic()
            await asyncio.to_thread(cluster.kill, primary)
            kill_done = time.monotonic()
            await asyncio.sleep(_KILL_TO_PROMOTE_S)
            promoted_at = time.monotonic()
            await asyncio.to_thread(cluster.promote, standby)
            deadline = killed_at + _RECOVERY_BUDGET_S
            while (
                sum(1 for n in load.acked if load.sent_time[n] > kill_done) < _WRITES_AFTER_FAILOVER
            ):
                assert time.monotonic() < deadline, (
                    f"writes did not recover within {_RECOVERY_BUDGET_S} s: {dict(load.statuses)}, "
                    f"{load.unexpected[:5]}"
                )
                await asyncio.sleep(0.05)
        finally:
            load.stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    # the first write sent once every primary process was gone and then acknowledged
    first = min(load.ack_time[n] for n in load.acked if load.sent_time[n] > kill_done)
    assert before > 0
    return {
        "load": load,
        "killed_at": killed_at,
        "kill_done": kill_done,
        "promoted_at": promoted_at,
        "first_write_s": first - killed_at,
    }


async def _notification_delay(servers: list[LiveServer], store: str) -> float:
    """Write once more on the first process; how long until the second one's index answers it."""
    async with httpx.AsyncClient() as client:
        key = {"object": "doc:after", "relation": "viewer", "user": "user:after"}
        written = await client.post(
            servers[0].url + f"/stores/{store}/write",
            json={"writes": {"tuple_keys": [key]}},
            timeout=10,
        )
        assert written.status_code == 200, written.text
        start = time.monotonic()
        while True:
            answer = await client.post(
                servers[1].url + f"/stores/{store}/check", json={"tuple_key": key}, timeout=10
            )
            if answer.json()["allowed"]:
                return time.monotonic() - start
            assert time.monotonic() - start < 10, "the second process never saw the write"
            await asyncio.sleep(0.005)
