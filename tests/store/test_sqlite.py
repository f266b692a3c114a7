"""SQLite-only properties: WAL mode, index use of every engine query shape (EXPLAIN QUERY PLAN),
and an event loop that keeps running while a large import is written."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from permsvc.core.refs import TupleKey
from permsvc.store.sqlite import SqliteDatastore
from permsvc.store.sqlite import queries as q

SHAPES = [
    pytest.param(
        q.READ_TUPLE, ("s", "doc", "7", "viewer", "user", "7", ""), id="check_point_lookup"
    ),
    pytest.param(q.READ_USERSET_TUPLES, ("s", "doc", "7", "viewer"), id="forward_usersets"),
    pytest.param(q.READ_OBJECT_RELATION, ("s", "doc", "7", "viewer"), id="forward_object_relation"),
    pytest.param(
        q.READ_STARTING_WITH_USER, ("s", "doc", "viewer", "user", "7", ""), id="reverse_user"
    ),
    pytest.param(
        q.READ_STARTING_WITH_USER_OBJECTS,
        ("s", "doc", "viewer", "user", "7", "", '["7"]'),
        id="reverse_user_objects",
    ),
    pytest.param(
        q.READ_PAGE_HEAD + q.READ_PAGE_OBJECT_TYPE + q.READ_PAGE_OBJECT_ID + q.READ_PAGE_TAIL,
        ("s", 0, "doc", "7", 51),
        id="read_object",
    ),
    pytest.param(
        q.READ_PAGE_HEAD + q.READ_PAGE_TAIL, ("s", 0, 51), id="read_everything_first_page"
    ),
    pytest.param(q.READ_CHANGES_AFTER, ("s", 3, 0, 50), id="read_changes"),
    pytest.param(q.READ_CHANGES_AFTER_TYPE, ("s", "doc", 3, 0, 50), id="read_changes_type"),
    pytest.param(q.CHANGES_SINCE, ("s", 1, 9), id="changes_since"),
    pytest.param(q.CHANGES_SINCE_UPPER, ("s", 0, 99), id="changes_since_upper"),
    pytest.param(q.IMPORTED_AFTER, ("s", 1, 50, 50), id="imported_changes"),
    pytest.param(q.IMPORTED_AFTER_TYPE, ("s", 0, 0, 50, "doc"), id="imported_changes_type"),
    pytest.param(q.IMPORTED_BETWEEN, ("s", 0, 1), id="imported_changes_since"),
    pytest.param(q.HEAD_REVISION, ("s",), id="head_revision"),
    pytest.param(q.FIRST_REVISION_SINCE, ("s", 0), id="changes_start_time"),
]


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "permsvc.db"

    async def build() -> None:
        datastore = await SqliteDatastore.open(path)
        try:
            for s in range(3):
                store_id = (await datastore.create_store(f"s{s}")).id
                await datastore.bulk_write(
                    store_id,
                    [
                        TupleKey(object=f"{t}:{i}", relation=r, user=f"user:{i % 300}")
                        for i in range(3000)
                        for t in ("doc", "folder")
                        for r in ("viewer", "editor")
                    ],
                )
        finally:
            await datastore.aclose()

    asyncio.run(build())
    conn = sqlite3.connect(path)
    conn.execute("ANALYZE")
    conn.close()
    return path


def test_wal_mode(database: Path) -> None:
    conn = sqlite3.connect(database)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


@pytest.mark.parametrize(("sql", "params"), SHAPES)
def test_query_shapes_use_indexes(database: Path, sql: str, params: tuple[object, ...]) -> None:
    conn = sqlite3.connect(database)
    try:
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]
    finally:
        conn.close()
    table_steps = [
        p
        for p in plan
        if any(f" {t}" in p for t in ("tuples", "changelog", "store_revisions", "revision_log"))
    ]
    assert table_steps, plan
    for step in table_steps:
        assert step.startswith("SEARCH") and ("USING" in step), plan
    if "JOIN tuples" in sql:
        # An import's changes come out of the join in order: a sort would read the whole import.
        assert not any("TEMP B-TREE" in p for p in plan), plan


async def test_bulk_import_does_not_block_the_event_loop(tmp_path: Path) -> None:
    datastore = await SqliteDatastore.open(tmp_path / "permsvc.db")
    try:
        store_id = (await datastore.create_store("loop")).id
        keys = [
            TupleKey(object=f"doc:{i}", relation="viewer", user=f"user:{i % 100}")
            for i in range(200_000)
        ]
        gaps: list[float] = []
        stop = asyncio.Event()

        async def ticker() -> None:
            last = time.perf_counter()
            while not stop.is_set():
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        tick = asyncio.create_task(ticker())
        started = time.perf_counter()
        result = await datastore.bulk_write(store_id, keys)
        elapsed = time.perf_counter() - started
        stop.set()
        await tick
        assert result.changed == len(keys)
        assert len(gaps) > 10, f"the loop ticked {len(gaps)} times in {elapsed:.2f}s"
        assert max(gaps) < 0.25, f"longest loop stall {max(gaps) * 1000:.0f} ms"
    finally:
        await datastore.aclose()
