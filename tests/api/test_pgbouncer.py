"""permsvc through PgBouncer in transaction-pooling mode.

A private PostgreSQL and Debian's ``pgbouncer`` (``pool_mode = transaction``, 2 server
connections, so concurrent requests share them) on free loopback ports (:mod:`tests.pgcluster`).
Two ``permsvc serve`` processes take ``PERMSVC_DATABASE_URL`` = PgBouncer with
``PERMSVC_DATABASE_STATEMENT_CACHE_SIZE=0`` (the installed PgBouncer, 1.18, cannot keep named
prepared statements: ``max_prepared_statements`` came in 1.21) and LISTEN on a direct connection
(``PERMSVC_LISTEN_DATABASE_URL``). Both migrate through PgBouncer at start-up. Then concurrent
writes, checks with the writes' tokens, reads, ReadChanges and ListObjects all succeed and answer
correctly, and a write on one process reaches the other's index by notification (well within the
1 s safety poll).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.api.live import LiveServer, live_server
from tests.pgcluster import VIEWER_MODEL, PgCluster, private_cluster

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]

_CLIENTS = 8
_WRITES_PER_CLIENT = 15


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    yield from private_cluster(pgbouncer=True)


async def _client_load(
    client: httpx.AsyncClient, server: LiveServer, store: str, client_no: int
) -> list[str]:
    """Writes, then for each: a check with its token, a denied check, a read; problems found."""
    problems: list[str] = []
    for i in range(_WRITES_PER_CLIENT):
        key = {"object": f"doc:{client_no}-{i}", "relation": "viewer", "user": f"user:{client_no}"}
        written = await client.post(
            f"{server.url}/stores/{store}/write", json={"writes": {"tuple_keys": [key]}}
        )
        if written.status_code != 200:
            problems.append(f"write {key}: {written.status_code} {written.text[:200]}")
            continue
        token = written.headers["X-Permsvc-Consistency-Token"]
        for user, expected in ((f"user:{client_no}", True), ("user:nobody", False)):
            check = await client.post(
                f"{server.url}/stores/{store}/check",
                json={"tuple_key": {**key, "user": user}, "consistency_token": token},
            )
            if check.status_code != 200 or check.json()["allowed"] is not expected:
                problems.append(f"check {key} {user}: {check.status_code} {check.text[:200]}")
        read = await client.post(
            f"{server.url}/stores/{store}/read", json={"tuple_key": {"object": key["object"]}}
        )
        if read.status_code != 200 or len(read.json()["tuples"]) != 1:
            problems.append(f"read {key}: {read.status_code} {read.text[:200]}")
    return problems


async def _load(servers: list[LiveServer], store: str) -> list[str]:
    async with httpx.AsyncClient(timeout=30) as client:
        results = await asyncio.gather(
            *(_client_load(client, servers[n % 2], store, n) for n in range(_CLIENTS))
        )
        problems = [p for found in results for p in found]
        changes = await client.get(
            f"{servers[1].url}/stores/{store}/changes", params={"page_size": 100}
        )
        if changes.status_code != 200 or len(changes.json()["changes"]) != min(
            100, _CLIENTS * _WRITES_PER_CLIENT
        ):
            problems.append(f"changes: {changes.status_code} {changes.text[:200]}")
        listed = await client.post(
            f"{servers[0].url}/stores/{store}/list-objects",
            json={
                "type": "doc",
                "relation": "viewer",
                "user": "user:3",
                "consistency": "HIGHER_CONSISTENCY",
            },
        )
        if listed.status_code != 200 or len(listed.json()["objects"]) != _WRITES_PER_CLIENT:
            problems.append(f"list-objects: {listed.status_code} {listed.text[:200]}")
    return problems


def _visibility_delays(servers: list[LiveServer], store: str, rounds: int = 5) -> list[float]:
    """Write on the first process; seconds until the second one's index answers it."""
    delays = []
    with httpx.Client(timeout=10) as client:
        for i in range(rounds):
            key = {"object": f"doc:seen-{i}", "relation": "viewer", "user": "user:seen"}
            written = client.post(
                f"{servers[0].url}/stores/{store}/write", json={"writes": {"tuple_keys": [key]}}
            )
            assert written.status_code == 200, written.text
            start = time.monotonic()
            while not client.post(
                f"{servers[1].url}/stores/{store}/check", json={"tuple_key": key}
            ).json()["allowed"]:
                assert time.monotonic() - start < 10, "the second process never saw the write"
                time.sleep(0.002)
            delays.append(time.monotonic() - start)
    return delays


async def _listeners(url: str) -> list[Any]:
    conn = await asyncpg.connect(url)
    try:
        return list(
            await conn.fetch("SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN %'")
        )
    finally:
        await conn.close()


def test_serving_through_pgbouncer_in_transaction_pooling_mode(
    cluster: PgCluster, tmp_path: Path
) -> None:
    node = cluster.start_primary()
    bouncer = cluster.start_pgbouncer(node, pool_size=2)
    env = {
        "PERMSVC_DATABASE_URL": bouncer,
        "PERMSVC_DATABASE_STATEMENT_CACHE_SIZE": "0",
        "PERMSVC_LISTEN_DATABASE_URL": node.url,
        "PERMSVC_ACCESS_LOG": "false",
    }
    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(live_server(tmp_path / f"worker-{i}", "--workers", "1", env=env))
            for i in range(2)
        ]
        store = httpx.post(servers[0].url + "/stores", json={"name": "bouncer"}, timeout=10).json()[
            "id"
        ]
        model = httpx.post(
            servers[0].url + f"/stores/{store}/authorization-models", json=VIEWER_MODEL, timeout=10
        )
        assert model.status_code == 201, model.text

        problems = asyncio.run(_load(servers, store))
        assert not problems, problems[:10]
        delays = _visibility_delays(servers, store)
        assert statistics.median(delays) < 0.5, f"not woken by notifications: {delays}"
        # One LISTENing session per process, on the server itself: PgBouncer in transaction mode
        # would hand a LISTEN session's server connection to other clients between transactions.
        assert len(asyncio.run(_listeners(node.url))) == 2
    log = cluster.pgbouncer_log()
    assert "prepared statement" not in log, log[-2000:]
    print(
        f"\npgbouncer: {_CLIENTS * _WRITES_PER_CLIENT} writes; visibility on the other process {[round(d * 1000) for d in delays]} ms"
    )
