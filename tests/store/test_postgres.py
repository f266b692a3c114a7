"""PostgreSQL-only properties: index use of every engine query shape (EXPLAIN), NOTIFY on commit,
immutable models and changelog rows."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import asyncpg
import pytest

from permsvc.core.refs import TupleKey
from permsvc.model.json import model_from_json
from permsvc.store.postgres import PostgresDatastore
from permsvc.store.postgres import queries as q
from tests.pg import session_database_url

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]

_STORES = 4
_OBJECTS = 2_000


@pytest.fixture(scope="module")
def populated() -> tuple[str, str]:
    """A database whose tuples and changelog hold ~100k rows over several stores, analyzed; returns
    (url, one store id)."""
    url = session_database_url()

    async def build() -> str:
        datastore = await PostgresDatastore.open(url, migrate=False)
        try:
            store_id = ""
            for s in range(_STORES):
                store_id = (await datastore.create_store(f"explain-{s}")).id
                await datastore.bulk_write(
                    store_id,
                    (
                        TupleKey(object=f"{otype}:{i}", relation=rel, user=user)
                        for i in range(_OBJECTS)
                        for otype in ("doc", "folder")
                        for rel, user in (
                            ("viewer", f"user:{i % 500}"),
                            ("editor", f"user:{i % 97}"),
                            ("viewer", f"group:{i % 50}#member"),
                        )
                    ),
                )
                for i in range(20):
                    await datastore.write(
                        store_id,
                        writes=[TupleKey(object=f"doc:x{i}", relation="viewer", user="user:*")],
                    )
            async with datastore.pool.acquire() as conn:
                await conn.execute("ANALYZE tuples")
                await conn.execute("ANALYZE changelog")
                await conn.execute("ANALYZE store_revisions")
            return store_id
        finally:
            await datastore.aclose()

    return url, asyncio.run(build())


def _shapes(store_id: str) -> list[Any]:
    users = (["user", "group"], ["7", "3"], ["", "member"])
    keys = (["doc"], ["7"], ["viewer"], ["user"], ["7"], [""])
    return [
        pytest.param(
            q.READ_TUPLE, (store_id, "doc", "7", "viewer", "user", "7", ""), id="check_point_lookup"
        ),
        pytest.param(
            q.READ_USERSET_TUPLES, (store_id, "doc", "7", "viewer"), id="forward_usersets"
        ),
        pytest.param(
            q.READ_OBJECT_RELATION, (store_id, "doc", "7", "viewer"), id="forward_object_relation"
        ),
        pytest.param(
            q.READ_STARTING_WITH_USER, (store_id, "doc", "viewer", *users), id="reverse_users"
        ),
        pytest.param(
            q.READ_STARTING_WITH_USER_OBJECTS,
            (store_id, "doc", "viewer", *users, ["7", "507", "9"]),
            id="reverse_users_objects",
        ),
        pytest.param(q.FIND_TUPLES, (store_id, *keys), id="write_existence_check"),
        pytest.param(
            q.READ_PAGE_HEAD + " AND object_type = $3 AND object_id = $4 ORDER BY seq LIMIT 51",
            (store_id, 0, "doc", "7"),
            id="read_object",
        ),
        pytest.param(
            q.READ_PAGE_HEAD + " ORDER BY seq LIMIT 51",
            (store_id, 0),
            id="read_everything_first_page",
        ),
        pytest.param(q.READ_CHANGES_AFTER, (store_id, 3, 0, 50), id="read_changes"),
        pytest.param(
            q.READ_CHANGES_AFTER_TYPE, (store_id, 3, 0, 50, "folder"), id="read_changes_type"
        ),
        pytest.param(q.CHANGES_SINCE, (store_id, 1, 99), id="changes_since"),
        pytest.param(
            q.FIRST_REVISION_SINCE,
            (store_id, dt.datetime(2020, 1, 1, tzinfo=dt.UTC)),
            id="changes_start_time",
        ),
    ]


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    out = [plan]
    for child in plan.get("Plans", ()):
        out.extend(_nodes(child))
    return out


@pytest.mark.parametrize("shape", range(12), ids=[p.id for p in _shapes("")])
async def test_query_shapes_use_indexes(populated: tuple[str, str], shape: int) -> None:
    url, store_id = populated
    param = _shapes(store_id)[shape]
    sql, args = param.values
    conn = await asyncpg.connect(url)
    try:
        raw = await conn.fetchval("EXPLAIN (FORMAT JSON) " + sql, *args)
    finally:
        await conn.close()
    nodes = _nodes(json.loads(raw)[0]["Plan"])
    # Only the tables that grow with the data matter; tiny tables are rightly sequentially scanned.
    scans = [
        (n["Node Type"], n.get("Index Name", ""), n["Relation Name"])
        for n in nodes
        if n.get("Relation Name") in ("tuples", "changelog", "revision_log")
    ]
    print(param.id, scans)
    assert scans, "the plan reads a table"
    for node_type, index, relation in scans:
        assert node_type in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan"), (
            f"{relation}: {node_type}"
        )
    bitmap_indexes = {n.get("Index Name") for n in nodes if n["Node Type"] == "Bitmap Index Scan"}
    assert all(index or bitmap_indexes for _, index, _ in scans)


async def test_commit_notifies_followers() -> None:
    url = session_database_url()
    datastore = await PostgresDatastore.open(url, migrate=False)
    listener = await asyncpg.connect(url)
    received: asyncio.Queue[str] = asyncio.Queue()
    try:
        await listener.add_listener("permsvc_changes", lambda *args: received.put_nowait(args[-1]))
        store_id = (await datastore.create_store("notify")).id
        await datastore.write(
            store_id, writes=[TupleKey(object="doc:1", relation="viewer", user="user:a")]
        )
        assert await asyncio.wait_for(received.get(), 5) == f"{store_id}:1"
        with pytest.raises(Exception):  # noqa: B017 - any write error; nothing may be notified
            await datastore.write(
                store_id, writes=[TupleKey(object="doc:1", relation="viewer", user="user:a")]
            )
        await datastore.bulk_write(
            store_id, [TupleKey(object="doc:2", relation="viewer", user="user:a")]
        )
        assert await asyncio.wait_for(received.get(), 5) == f"{store_id}:2"
        assert received.empty()
    finally:
        await listener.close()
        await datastore.aclose()


async def test_models_and_changelog_are_immutable() -> None:
    url = session_database_url()
    datastore = await PostgresDatastore.open(url, migrate=False)
    try:
        store_id = (await datastore.create_store("immutable")).id
        model = model_from_json({"schema_version": "1.1", "type_definitions": [{"type": "user"}]})
        stored = await datastore.write_model(store_id, model)
        await datastore.write(
            store_id, writes=[TupleKey(object="doc:1", relation="viewer", user="user:a")]
        )
        await datastore.bulk_write(
            store_id, [TupleKey(object="doc:2", relation="viewer", user="user:a")]
        )
        async with datastore.pool.acquire() as conn:
            with pytest.raises(asyncpg.RaiseError, match="immutable"):
                await conn.execute(
                    "UPDATE changelog_imports SET last_seq = last_seq + 1 WHERE store_id = $1",
                    store_id,
                )
            with pytest.raises(asyncpg.RaiseError, match="immutable"):
                await conn.execute(
                    "UPDATE authorization_models SET dsl = 'x' WHERE id = $1", stored.id
                )
            with pytest.raises(asyncpg.RaiseError, match="immutable"):
                await conn.execute(
                    "UPDATE changelog SET relation = 'x' WHERE store_id = $1", store_id
                )
            with pytest.raises(asyncpg.CheckViolationError):
                await conn.execute(
                    "INSERT INTO authorization_models (store_id, id, schema_version, model, created_at) "
                    "VALUES ($1, 'not-a-ulid', '1.1', '{}', now())",
                    store_id,
                )
    finally:
        await datastore.aclose()
