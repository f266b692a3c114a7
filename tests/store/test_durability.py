"""Real concurrency and crashes against the durable backends (SQLite file, PostgreSQL).

- Concurrent writers (asyncio tasks on separate connections, and separate processes) produce a
  gap-free changelog in commit order, and lose nothing.
- A writer process killed with SIGKILL in the middle of its transactions leaves nothing
  half-written, and every write it had acknowledged is there.
- Two ``permsvc migrate`` processes started together apply each migration once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from permsvc.core.refs import TupleKey
from permsvc.store.factory import open_datastore
from permsvc.store.protocol import Datastore, ReadFilter
from tests.pg import session_database_url

WRITER = Path(__file__).with_name("writer_process.py")
pytestmark = pytest.mark.timeout(180)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'permsvc.db'}"
    return session_database_url()


@contextlib.asynccontextmanager
async def opened(url: str, **kwargs: object) -> AsyncIterator[Datastore]:
    datastore = await open_datastore(url, data_dir=Path("."), **kwargs)  # type: ignore[arg-type]
    try:
        yield datastore
    finally:
        await datastore.aclose()


async def assert_consistent(datastore: Datastore, store_id: str, batch: int) -> int:
    """Every revision 1..head is in the changelog with exactly ``batch`` writes, and the tuples are
    exactly those the changelog says were written. Returns the head revision."""
    head = await datastore.head_revision(store_id)
    changes = await datastore.changes_since(store_id, 0, limit=10_000_000)
    revisions = [c.revision for c in changes]
    assert revisions == sorted(revisions)
    assert sorted(set(revisions)) == list(range(1, head + 1)), (
        "revisions are gap-free up to the head"
    )
    for revision in range(1, head + 1):
        assert revisions.count(revision) == batch, f"revision {revision} is complete"
    stored: set[tuple[str, str, str]] = set()
    token = ""
    while True:
        page = await datastore.read_page(
            store_id, ReadFilter(), page_size=1000, continuation_token=token
        )
        stored.update(s.key.key for s in page.items)
        token = page.continuation_token
        if not token:
            break
    assert stored == {c.key.key for c in changes}, (
        "no tuple without its changelog row, and vice versa"
    )
    return head


def _spawn_writer(
    url: str, store_id: str, prefix: str, writes: int, batch: int, *extra: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), url, store_id, prefix, str(writes), str(batch), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _acks(output: str) -> list[tuple[int, int]]:
    return [
        (int(parts[1]), int(parts[2]))
        for line in output.splitlines()
        if (parts := line.split())[:1] == ["ack"]
    ]


async def test_concurrent_writer_tasks_with_a_follower(database_url: str) -> None:
    """Writers on separate connections (a pool for PostgreSQL; separate datastores, hence separate
    SQLite connections, for SQLite) while a follower tails ``changes_since``: the follower must
    never see a revision before all earlier ones (commit order == revision order)."""
    writers, writes_each, batch = 8, 12, 3
    async with opened(database_url) as first, opened(database_url) as second:
        store_id = (await first.create_store("concurrent")).id
        stores = [first, second]
        done = asyncio.Event()
        intervals: list[tuple[float, float, int]] = []

        async def writer(n: int) -> None:
            datastore = stores[n % 2]
            for i in range(writes_each):
                keys = [
                    TupleKey(object=f"doc:{n}-{i}-{j}", relation="viewer", user=f"user:{j}")
                    for j in range(batch)
                ]
                started = time.monotonic()
                result = await datastore.write(store_id, writes=keys)
                intervals.append((started, time.monotonic(), result.revision))

        async def follower() -> int:
            seen = 0
            while True:
                finished = done.is_set()
                for change in await second.changes_since(store_id, seen, limit=7):
                    assert change.revision in (seen, seen + 1), (
                        f"saw revision {change.revision} right after {seen}"
                    )
                    seen = change.revision
                if finished:
                    return seen
                await asyncio.sleep(0)

        follow = asyncio.create_task(follower())
        await asyncio.gather(*(writer(n) for n in range(writers)))
        done.set()
        assert await follow == writers * writes_each
        assert await assert_consistent(first, store_id, batch) == writers * writes_each
        assert sorted(r for _, _, r in intervals) == list(range(1, writers * writes_each + 1))
        for a_start, a_end, a_rev in intervals:
            for b_start, _, b_rev in intervals:
                if a_end < b_start:
                    assert a_rev < b_rev, (
                        "a write acknowledged before another began has the lower revision"
                    )


async def test_concurrent_writer_processes(database_url: str) -> None:
    processes, writes_each, batch = 4, 15, 4
    async with opened(database_url) as datastore:
        store_id = (await datastore.create_store("processes")).id
        procs = [
            _spawn_writer(database_url, store_id, f"p{n}", writes_each, batch)
            for n in range(processes)
        ]
        outputs = [await asyncio.to_thread(p.communicate, timeout=120) for p in procs]
        for proc, (_, err) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, err
        acked = [_acks(out) for out, _ in outputs]
        for acks in acked:
            assert len(acks) == writes_each
            assert [r for r, _ in acks] == sorted(r for r, _ in acks)
        assert sorted(r for acks in acked for r, _ in acks) == list(
            range(1, processes * writes_each + 1)
        )
        assert await assert_consistent(datastore, store_id, batch) == processes * writes_each


async def test_killed_writer_loses_nothing_acknowledged(database_url: str) -> None:
    batch = 400
    rng = random.Random(7)
    async with opened(database_url) as datastore:
        store_id = (await datastore.create_store("killed")).id
        acknowledged: list[tuple[int, int, str]] = []
        for round_ in range(3):
            proc = _spawn_writer(database_url, store_id, f"r{round_}", 0, batch)
            assert proc.stdout is not None
            acks_before_kill = 0
            while acks_before_kill < 2:
                line = await asyncio.to_thread(proc.stdout.readline)
                assert line, proc.stderr.read() if proc.stderr else "writer exited"
                acks_before_kill += 1
                acknowledged.extend((r, i, f"r{round_}") for r, i in _acks(line))
            await asyncio.sleep(rng.uniform(0.0, 0.05))
            os.kill(proc.pid, signal.SIGKILL)
            rest, _ = await asyncio.to_thread(proc.communicate, timeout=30)
            acknowledged.extend((r, i, f"r{round_}") for r, i in _acks(rest))
            assert proc.returncode == -signal.SIGKILL

        # The killed session's transaction must not hold the store's write lock.
        probe = await asyncio.wait_for(
            datastore.write(
                store_id, writes=[TupleKey(object="doc:probe", relation="viewer", user="user:p")]
            ),
            30,
        )
        head = probe.revision - 1
        for revision, i, prefix in acknowledged:
            assert revision <= head
            for j in (0, batch - 1):
                key = TupleKey(object=f"doc:{prefix}-{i}-{j}", relation="viewer", user=f"user:{j}")
                assert (
                    await datastore.read_user_tuple(store_id, key.object, key.relation, key.user)
                    == key
                )
        await datastore.write(
            store_id, deletes=[TupleKey(object="doc:probe", relation="viewer", user="user:p")]
        )
        changes = await datastore.changes_since(store_id, head, limit=100)
        assert [c.revision for c in changes] == [head + 1, head + 2]
        tail = await datastore.changes_since(store_id, 0, limit=10_000_000)
        writes_per_revision = {
            r: sum(1 for c in tail if c.revision == r) for r in range(1, head + 1)
        }
        assert set(writes_per_revision.values()) == {batch}, "every committed write is complete"
        stored = await datastore.read_page(store_id, ReadFilter(object_type="doc"), page_size=1)
        assert stored.items


async def test_writer_killed_just_before_commit_leaves_nothing(database_url: str) -> None:
    """Deterministic variant: the writer is killed after writing every row of its transaction
    (tuples, changelog, revision) and just before COMMIT."""
    batch = 50
    async with opened(database_url) as datastore:
        store_id = (await datastore.create_store("killed-before-commit")).id
        proc = _spawn_writer(database_url, store_id, "h", 3, batch, "--hang")
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith("inside"):
            line = await asyncio.to_thread(proc.stdout.readline)
            assert line, proc.stderr.read() if proc.stderr else "writer exited"
            lines.append(line.strip())
        assert lines == ["ack 1 0", "ack 2 1", "ack 3 2", "inside 4"]
        os.kill(proc.pid, signal.SIGKILL)
        await asyncio.to_thread(proc.communicate, timeout=30)

        assert await datastore.head_revision(store_id) == 3
        assert await assert_consistent(datastore, store_id, batch) == 3
        hung = TupleKey(object="doc:h-3-0", relation="viewer", user="user:0")
        assert (
            await datastore.read_user_tuple(store_id, hung.object, hung.relation, hung.user) is None
        )
        after = await asyncio.wait_for(datastore.write(store_id, writes=[hung]), 30)
        assert after.revision == 4, "the killed transaction released the store's write lock"


async def test_concurrent_migrators(tmp_path: Path, database_url: str) -> None:
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
        cleanup = None
    else:
        name = f"permsvc_migrate_{secrets.token_hex(4)}"
        admin = await asyncpg.connect(database_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = database_url.rsplit("/", 1)[0] + "/" + name

        async def cleanup() -> None:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()

    try:
        command = [sys.executable, "-m", "permsvc.cli.main", "migrate", "--database-url", url]
        procs = [
            subprocess.Popen(  # noqa: ASYNC220 - both must start before either is awaited
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=tempfile.gettempdir(),
            )
            for _ in range(2)
        ]
        results = [await asyncio.to_thread(p.communicate, timeout=120) for p in procs]
        for proc, (_, err) in zip(procs, results, strict=True):
            assert proc.returncode == 0, err
        outputs = sorted(out for out, _ in results)
        assert "applied 0001" in outputs[0] or "applied 0001" in outputs[1]
        assert sum("applied" in out for out in outputs) == 1, outputs
        async with opened(url, migrate=False) as datastore:
            assert await datastore.is_ready()
            store = await datastore.create_store("after-migrate")
            assert (await datastore.get_store(store.id)).name == "after-migrate"
    finally:
        if cleanup is not None:
            await cleanup()
