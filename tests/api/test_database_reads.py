"""A server whose index memory budget is 0 serves every store from the database (checks batched
per request, see ``BatchingTupleReader``) and answers exactly as the index would: on SQLite and on
PostgreSQL, through the HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from tests.api.conftest import MODEL, make_settings, write_tuples
from tests.pg import session_database_url

_GROUPS = 50


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
async def client(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AsyncTestClient[Any]]:
    url = (
        f"sqlite:///{tmp_path}/permsvc.db" if request.param == "sqlite" else session_database_url()
    )
    settings = make_settings(database_url=url, index=True, index_memory_budget=0)
    app = create_app(settings)
    async with AsyncTestClient(app) as test_client:
        test_client.permsvc_app = app  # type: ignore[attr-defined]
        yield test_client


def _check(user: str, relation: str, obj: str, **extra: Any) -> dict[str, Any]:
    return {"tuple_key": {"user": user, "relation": relation, "object": obj}, **extra}


async def test_checks_served_from_the_database(client: AsyncTestClient[Any]) -> None:
    store_id = (await client.post("/stores", json={"name": "over-budget"})).json()["id"]
    response = await client.post(f"/stores/{store_id}/authorization-models", json=MODEL)
    assert response.status_code == 201, response.text
    await write_tuples(
        client,
        store_id,
        *[("document:1", "viewer", f"group:g{i}#member") for i in range(_GROUPS)],
        ("group:g49", "member", "user:anne"),
        ("group:g7", "member", "user:bob"),
        ("document:2", "owner", "user:carol"),
        ("document:3", "viewer", "user:*"),
    )
    datastore = client.permsvc_app.state.deps.datastore  # type: ignore[attr-defined]
    assert datastore.mode(store_id) == "database"

    async def allowed(user: str, relation: str, obj: str, **extra: Any) -> bool:
        response = await client.post(
            f"/stores/{store_id}/check", json=_check(user, relation, obj, **extra)
        )
        assert response.status_code == 200, response.text
        return bool(response.json()["allowed"])

    assert await allowed("user:anne", "viewer", "document:1")
    assert await allowed("user:bob", "viewer", "document:1")
    assert not await allowed("user:dave", "viewer", "document:1")
    assert await allowed("user:carol", "viewer", "document:2")
    assert not await allowed("user:anne", "viewer", "document:2")
    assert await allowed("user:dave", "viewer", "document:3")
    assert await allowed("group:g3#member", "viewer", "document:1")
    assert await allowed("user:anne", "viewer", "document:1", consistency="HIGHER_CONSISTENCY")
    ctx = {"tuple_keys": [{"user": "user:dave", "relation": "member", "object": "group:g30"}]}
    assert await allowed("user:dave", "viewer", "document:1", contextual_tuples=ctx)

    key = {
        "user": "user:anne",
        "relation": "limited",
        "object": "document:9",
        "condition": {"name": "small"},
    }
    written = await client.post(f"/stores/{store_id}/write", json={"writes": {"tuple_keys": [key]}})
    assert written.status_code == 200, written.text
    assert await allowed("user:anne", "limited", "document:9", context={"x": 3})
    assert not await allowed("user:anne", "limited", "document:9", context={"x": 30})

    revoke = [{"user": "user:anne", "relation": "member", "object": "group:g49"}]
    response = await client.post(
        f"/stores/{store_id}/write", json={"deletes": {"tuple_keys": revoke}}
    )
    assert response.status_code == 200, response.text
    assert not await allowed("user:anne", "viewer", "document:1")

    batch = await client.post(
        f"/stores/{store_id}/batch-check",
        json={
            "checks": [
                {
                    "tuple_key": {
                        "user": f"user:{u}",
                        "relation": "viewer",
                        "object": "document:1",
                    },
                    "correlation_id": u,
                }
                for u in ("anne", "bob", "dave")
            ]
        },
    )
    assert batch.status_code == 200, batch.text
    assert {k: v["allowed"] for k, v in batch.json()["result"].items()} == {
        "anne": False,
        "bob": True,
        "dave": False,
    }

    listed = await client.post(
        f"/stores/{store_id}/list-objects",
        json={"type": "document", "relation": "viewer", "user": "user:bob"},
    )
    assert sorted(listed.json()["objects"]) == ["document:1", "document:3"]
    assert datastore.mode(store_id) == "database"
