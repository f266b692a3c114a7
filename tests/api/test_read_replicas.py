"""Read replicas through the HTTP API (``PERMSVC_READ_DATABASE_URL``).

A private primary and an asynchronous hot standby on loopback (:mod:`tests.pgcluster`); the app
gets ``database_url`` = the primary, ``read_database_url`` = the standby and an index memory
budget of 0, so every check and list is evaluated against the database. Each request's routing
is read off ``/metrics`` (``permsvc_database_replica_reads_total`` by target and reason):

- with the standby caught up, an over-budget check (with a write's consistency token), a
  ListObjects, Read, ReadChanges, an export and an audit query are all served by the standby;
- with its replay paused (``pg_wal_replay_pause()``) and a new write made, the same requests,
  carrying the new write's token, are all answered by the primary, with the new tuple in every
  answer; after ``pg_wal_replay_resume()`` they go to the standby again;
- with the standby killed (``kill -9``), every request still answers 200 and correctly (from the
  primary), and ``permsvc_database_replica_up`` says 0;
- ``permsvc_database_replica_lag_seconds`` is on ``/metrics``.

Then ``permsvc serve`` with two workers takes the setting from the environment, as one multi-host
URL, and its checks keep answering right when the standby is killed.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from permsvc.store.postgres.replicas import ReplicatedDatastore
from permsvc.store.protocol import unwrap
from tests.api.conftest import make_settings
from tests.api.live import live_server
from tests.pgcluster import VIEWER_MODEL, PgCluster, PgNode, private_cluster

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(180)]

Client = AsyncTestClient[Any]
_READS = re.compile(
    r'^permsvc_database_replica_reads_total\{reason="(\w+)",target="(\w+)"\} (\S+)$', re.MULTILINE
)


@pytest.fixture
def cluster() -> Iterator[tuple[PgCluster, PgNode, PgNode]]:
    for built in private_cluster():
        primary = built.start_primary()
        yield built, primary, built.add_standby(primary)


async def _routed(client: Client) -> Counter[tuple[str, str]]:
    text = (await client.get("/metrics")).text
    return Counter({(t, r): int(float(v)) for r, t, v in _READS.findall(text)})


async def _requests(
    client: Client,
    store: str,
    token: str,
    docs: set[str],
    settle: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """The replica-eligible requests, each checked against ``docs`` (every ``doc:N`` written,
    each to ``user:N``); where each one was routed. The export writes an audit row, so the audit
    query after it needs the standby to replay that row first: ``settle`` waits for that where
    the standby is expected to serve it (without, a loaded machine sends it to the primary as
    "behind", rightly)."""
    routed: dict[str, Any] = {}

    async def call(name: str, method: str, path: str, **kwargs: Any) -> Any:
        before = await _routed(client)
        response = await client.request(method, path, **kwargs)
        assert response.status_code == 200, f"{name}: {response.status_code} {response.text}"
        after = await _routed(client)
        routed[name] = {k: after[k] - before[k] for k in after if after[k] != before[k]}
        return response

    for doc in sorted(docs):
        user = "user:" + doc.split(":")[1]
        for who, allowed in ((user, True), ("user:nobody", False)):
            body = {
                "tuple_key": {"object": doc, "relation": "viewer", "user": who},
                "consistency_token": token,
            }
            answer = await call(f"check {doc} {who}", "POST", f"/stores/{store}/check", json=body)
            assert answer.json()["allowed"] is allowed, (doc, who)
    newest = max(docs, key=lambda d: int(d.split(":")[1]))
    body = {"type": "doc", "relation": "viewer", "user": "user:" + newest.split(":")[1]}
    listed = await call("list-objects", "POST", f"/stores/{store}/list-objects", json=body)
    assert listed.json()["objects"] == [newest]
    read = await call("read", "POST", f"/stores/{store}/read", json={"consistency_token": token})
    assert {t["key"]["object"] for t in read.json()["tuples"]} == docs
    changes = await call("read-changes", "GET", f"/stores/{store}/changes")
    assert {c["tuple_key"]["object"] for c in changes.json()["changes"]} == docs
    export = await call("export", "GET", "/v1/admin/tuples/export", params={"store_id": store})
    assert {line.split('"object":"')[1].split('"')[0] for line in export.text.splitlines()} == docs
    if settle is not None:
        settle()
    audit = await call("audit", "GET", "/v1/admin/audit", params={"store_id": store})
    assert sum(e["action"] == "write" for e in audit.json()["entries"]) == len(docs)
    return routed


async def _shows(client: Client, line: str) -> None:
    """Until ``/metrics`` has ``line`` (the lag is measured every second, in the background)."""
    for _ in range(100):
        if line in (await client.get("/metrics")).text.splitlines():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"/metrics never showed {line}")


def _all_to(routed: dict[str, Any], target: str, reason: str) -> None:
    for name, decisions in routed.items():
        assert decisions and set(decisions) == {(target, reason)}, (name, decisions)


async def _write(client: Client, store: str, n: int) -> str:
    key = {"object": f"doc:{n}", "relation": "viewer", "user": f"user:{n}"}
    response = await client.post(f"/stores/{store}/write", json={"writes": {"tuple_keys": [key]}})
    assert response.status_code == 200, response.text
    return str(response.headers["X-Permsvc-Consistency-Token"])


async def test_reads_go_to_the_replica_only_when_it_has_replayed_what_they_need(
    cluster: tuple[PgCluster, PgNode, PgNode],
) -> None:
    nodes, primary, standby = cluster
    settings = make_settings(
        database_url=primary.url,
        read_database_url=(standby.url,),
        index=True,
        index_memory_budget=0,
    )
    app = create_app(settings)
    async with AsyncTestClient(app) as client:
        replicated = unwrap(app.state.deps.datastore, ReplicatedDatastore)
        assert replicated is not None
        replicated.probe_s = 0.0  # no waiting for the probe's time to live in a test
        store = (await client.post("/stores", json={"name": "replicas"})).json()["id"]
        model = await client.post(f"/stores/{store}/authorization-models", json=VIEWER_MODEL)
        assert model.status_code == 201, model.text
        token = await _write(client, store, 1)
        nodes.wait_replayed(primary, standby)
        replayed = functools.partial(nodes.wait_replayed, primary, standby)
        _all_to(await _requests(client, store, token, {"doc:1"}, replayed), "replica", "caught_up")
        assert app.state.deps.datastore.mode(store) == "database"  # over the budget

        nodes.pause_replay(standby)
        token = await _write(client, store, 2)
        _all_to(await _requests(client, store, token, {"doc:1", "doc:2"}), "primary", "behind")

        nodes.resume_replay(standby)
        nodes.wait_replayed(primary, standby)
        routed = await _requests(client, store, token, {"doc:1", "doc:2"}, replayed)
        _all_to(routed, "replica", "caught_up")
        label = f'replica="127.0.0.1:{standby.port}/postgres"'
        await _shows(client, f"permsvc_database_replica_lag_seconds{{{label}}} 0.0")
        await _shows(client, f"permsvc_database_replica_up{{{label}}} 1.0")

        nodes.kill(standby)
        token = await _write(client, store, 3)
        routed = await _requests(client, store, token, {"doc:1", "doc:2", "doc:3"})
        # the first request to find the standby dead says so (error), the others skip it (down);
        # the lag probe, every second in the background, may find it dead first (all down)
        reasons = {reason for decisions in routed.values() for _, reason in decisions}
        assert reasons and reasons <= {"error", "down"}, routed
        assert {target for decisions in routed.values() for target, _ in decisions} == {"primary"}
        await _shows(client, f"permsvc_database_replica_up{{{label}}} 0.0")


def test_permsvc_serve_with_a_multi_host_read_url_and_two_workers(
    cluster: tuple[PgCluster, PgNode, PgNode], tmp_path: Path
) -> None:
    """``PERMSVC_READ_DATABASE_URL`` as the environment gives it to ``permsvc serve``: one
    multi-host URL (standby first, then the primary; ``prefer-standby`` picks the standby), two
    worker processes whose metrics are aggregated; the standby killed, checks still answer right."""
    nodes, primary, standby = cluster
    read_url = f"postgresql://postgres@127.0.0.1:{standby.port},127.0.0.1:{primary.port}/postgres"
    env = {
        "PERMSVC_DATABASE_URL": primary.url,
        "PERMSVC_READ_DATABASE_URL": read_url,
        "PERMSVC_INDEX_MEMORY_BUDGET": "0",
        "PERMSVC_ACCESS_LOG": "false",
    }
    with (
        live_server(tmp_path, "--workers", "2", env=env) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        store = client.post("/stores", json={"name": "live"}).json()["id"]
        assert client.post(f"/stores/{store}/authorization-models", json=VIEWER_MODEL).is_success
        key = {"object": "doc:1", "relation": "viewer", "user": "user:1"}
        written = client.post(f"/stores/{store}/write", json={"writes": {"tuple_keys": [key]}})
        token = written.headers["X-Permsvc-Consistency-Token"]
        nodes.wait_replayed(primary, standby)

        def checks() -> None:
            for _ in range(20):  # spread over both workers
                for user, allowed in (("user:1", True), ("user:2", False)):
                    answer = client.post(
                        f"/stores/{store}/check",
                        json={"tuple_key": {**key, "user": user}, "consistency_token": token},
                    )
                    assert answer.status_code == 200, answer.text
                    assert answer.json()["allowed"] is allowed

        checks()
        metrics = client.get("/metrics").text
        routed = Counter({(t, r): float(v) for r, t, v in _READS.findall(metrics)})
        assert routed[("replica", "caught_up")] >= 40, routed
        lag = f'permsvc_database_replica_lag_seconds{{replica="127.0.0.1:{standby.port},127.0.0.1:{primary.port}/postgres"}}'
        assert lag in metrics, metrics
        nodes.kill(standby)
        checks()
        routed = Counter(
            {(t, r): float(v) for r, t, v in _READS.findall(client.get("/metrics").text)}
        )
        # the replica pool's next connections go to the URL's next host (the primary, which
        # prefer-standby accepts when no standby answers); a request that met the dead standby
        # was answered by the primary: either way, every answer above was right
        assert sum(routed.values()) >= 80 and set(routed) <= {
            ("replica", "caught_up"),
            ("primary", "error"),
            ("primary", "down"),
        }, routed
