"""Writes ahead of reads (:mod:`permsvc.api.priority`): the admission rule, then through the app.

No timing: the tests count event-loop steps and completion order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from permsvc.api.priority import WritePriority, write_route_matcher
from permsvc.api.security.table import ROUTE_RULES, write_routes
from permsvc.store.memory.store import MemoryDatastore
from tests.api.conftest import MODEL, make_settings, write_tuples


class _Steps:
    """Counts event-loop steps: a callback that reschedules itself once per step."""

    def __init__(self) -> None:
        self.now = 0
        self._stopped = False

    def start(self) -> None:
        asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        if not self._stopped:
            self.now += 1
            asyncio.get_running_loop().call_soon(self._tick)

    def stop(self) -> None:
        self._stopped = True


async def _admitted_steps(
    priority: WritePriority, reads: int, steps: _Steps
) -> tuple[list[int], list[int]]:
    """Start ``reads`` admissions; (the order they got in, the step each got in at)."""
    order: list[int] = []
    at: list[int] = []

    async def read(i: int) -> None:
        await priority.admit()
        order.append(i)
        at.append(steps.now)

    tasks = [asyncio.create_task(read(i)) for i in range(reads)]
    await asyncio.gather(*tasks)
    return order, at


def test_per_step_must_admit_something() -> None:
    with pytest.raises(ValueError, match="never starved"):
        WritePriority(per_step=0)


async def test_without_a_write_a_read_is_admitted_without_waiting() -> None:
    priority = WritePriority()
    admission = priority.admit()
    with pytest.raises(StopIteration):
        admission.send(None)  # finished at its first step: it never yielded to the loop
    assert priority.waiting == 0


async def test_during_a_write_reads_get_in_a_few_per_step_in_arrival_order() -> None:
    priority = WritePriority(per_step=2)
    steps = _Steps()
    steps.start()
    with priority.writing():
        order, at = await _admitted_steps(priority, 12, steps)
        assert priority.writes_in_progress == 1
    steps.stop()
    assert order == list(range(12))  # every read got in while the write was still in progress
    per_step = {step: at.count(step) for step in at}
    assert max(per_step.values()) <= 2
    assert len(per_step) >= 6


async def test_the_end_of_the_last_write_lets_every_waiting_read_in() -> None:
    priority = WritePriority(per_step=1)
    steps = _Steps()
    steps.start()
    at: list[int] = []

    async def read() -> None:
        await priority.admit()
        at.append(steps.now)

    with priority.writing():
        tasks = [asyncio.create_task(read()) for _ in range(10)]
        await asyncio.sleep(0)
        assert priority.waiting == 9  # one admitted in this step, nine wait
        with priority.writing():
            pass
        assert priority.waiting == 9  # another write is still in progress
    assert priority.waiting == 0
    released_at = steps.now
    await asyncio.gather(*tasks)
    steps.stop()
    assert len(at) == 10
    assert max(at) - released_at <= 1  # the nine waiting reads got in in the next step


async def test_a_cancelled_read_leaves_the_queue() -> None:
    priority = WritePriority(per_step=1)
    with priority.writing():
        first = asyncio.create_task(priority.admit())
        second = asyncio.create_task(priority.admit())
        third = asyncio.create_task(priority.admit())
        await asyncio.sleep(0)
        assert priority.waiting == 2
        second.cancel()
        await asyncio.gather(first, third, return_exceptions=True)
        assert second.cancelled()
        assert third.done() and not third.cancelled()
        assert priority.waiting == 0


def test_the_write_routes_are_the_mutating_rows_of_the_permission_table() -> None:
    routes = write_routes()
    assert "POST /stores/{store_id}/write" in routes
    assert "PUT /stores/{store_id}/assertions/{authorization_model_id}" in routes
    assert "POST /v1/admin/grants" in routes
    assert all(ROUTE_RULES[key].role in ("write", "admin") for key in routes)
    assert not any(key.startswith("GET ") for key in routes)
    assert "POST /stores/{store_id}/check" not in routes


def test_the_matcher_matches_paths_of_those_routes_only() -> None:
    is_write = write_route_matcher(write_routes())
    assert is_write("POST", "/stores/01HZX/write")
    assert is_write("PUT", "/stores/01HZX/assertions/01HZY")
    assert not is_write("POST", "/stores/01HZX/check")
    assert not is_write("GET", "/stores/01HZX/write")
    assert not is_write("POST", "/stores/01HZX/write/more")
    assert not is_write("POST", "/stores/a/b/write")


# -- through the app -------------------------------------------------------------------------------

_DATABASE_WAITS = 30
"""Event-loop steps the slowed write spends in the datastore (a database write waits ~10 times)."""


@pytest.fixture
def slow_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tuple writes that wait on the event loop like a database's round trips."""
    write = MemoryDatastore.write

    async def waiting_write(self: MemoryDatastore, *args: Any, **kwargs: Any) -> Any:
        for _ in range(_DATABASE_WAITS):
            await asyncio.sleep(0)
        return await write(self, *args, **kwargs)

    monkeypatch.setattr(MemoryDatastore, "write", waiting_write)


def _asgi_request(app: Any, path: str, body: bytes) -> Callable[[], Any]:
    """A POST sent straight into the ASGI app, as a server's connection would (the body is there
    at once, so the check fast path answers in one event-loop step): its status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8080),
    }

    async def request() -> int:
        status = 0

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(dict(scope), receive, send)
        return status

    return request


async def _checks_during_a_write(write_priority: bool, connections: int = 16) -> list[int]:
    """``connections`` clients sending checks back to back while one grant is written: the
    statuses of the checks answered while the write was in progress."""
    app = create_app(make_settings(write_priority=write_priority))
    async with AsyncTestClient(app) as client:
        store = (await client.post("/stores", json={"name": "priority"})).json()["id"]
        model = await client.post(f"/stores/{store}/authorization-models", json=MODEL)
        assert model.status_code == 201, model.text
        await write_tuples(client, store, ("document:1", "owner", "user:anne"))
        check = _asgi_request(
            app,
            f"/stores/{store}/check",
            b'{"tuple_key":{"user":"user:anne","relation":"viewer","object":"document:1"}}',
        )
        grant = _asgi_request(
            app,
            f"/stores/{store}/write",
            b'{"writes":{"tuple_keys":[{"user":"user:bob","relation":"owner","object":"document:2"}]}}',
        )
        writing = True
        during: list[int] = []

        async def connection() -> None:
            while writing:
                status = await check()
                if writing:
                    during.append(status)

        clients = [asyncio.create_task(connection()) for _ in range(connections)]
        await asyncio.sleep(0)
        status = await grant()
        writing = False
        assert status == 200
        await asyncio.gather(*clients)
        after = await client.post(
            f"/stores/{store}/check",
            json={"tuple_key": {"user": "user:bob", "relation": "viewer", "object": "document:2"}},
        )
        assert after.json()["allowed"] is True
    return during


@pytest.mark.usefixtures("slow_writes")
async def test_a_write_completes_while_checks_keep_every_connection_busy() -> None:
    prioritized = await _checks_during_a_write(True)
    plain = await _checks_during_a_write(False)
    assert set(prioritized) == set(plain) == {200}  # every check answered, none refused
    # Checks kept being answered during the write (never starved) but a few per step, so the
    # write's waits were not each queued behind one check per connection.
    assert 0 < len(prioritized) * 4 < len(plain), (len(prioritized), len(plain))


async def test_only_a_write_the_front_door_admits_gets_priority(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A request on a write route that the door refuses (no credential, a wrong one) must not
    slow everyone's checks: only an admitted write is a write in progress."""
    began: list[str] = []
    begin = WritePriority.begin_write

    def recording_begin(self: WritePriority) -> None:
        began.append("write")
        begin(self)

    monkeypatch.setattr(WritePriority, "begin_write", recording_begin)
    key = "bootstrap-key-for-the-priority-test"
    app = create_app(make_settings(api_keys=(key,)))
    async with AsyncTestClient(app) as client:
        admin = {"Authorization": f"Bearer {key}"}
        store = (await client.post("/stores", json={"name": "prio"}, headers=admin)).json()["id"]
        await client.post(f"/stores/{store}/authorization-models", json=MODEL, headers=admin)
        grant = {
            "writes": {
                "tuple_keys": [{"object": "document:1", "relation": "viewer", "user": "user:a"}]
            }
        }
        began.clear()  # creating the store and the model were admitted writes
        for headers in ({}, {"Authorization": "Bearer wrong-key-of-the-right-length-xx"}):
            refused = await client.post(f"/stores/{store}/write", json=grant, headers=headers)
            assert refused.status_code == 401, refused.text
        assert began == []
        admitted = await client.post(f"/stores/{store}/write", json=grant, headers=admin)
        assert admitted.status_code == 200, admitted.text
        assert began == ["write"]
