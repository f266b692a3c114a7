"""Model validate / diff / upload through the admin API: a change that would orphan stored tuples
is refused unless forced, and the diff names the tuples."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.api.admin.v1kit import ROOT, seed_store

Client = AsyncTestClient[Any]

DSL_V2 = """model
  schema 1.1
type user
type group
  relations
    define member: [user]
type document
  relations
    define owner: [user]
    define viewer: [user, group#member] or owner
    define editor: [user]
"""


async def test_validate_reports_located_issues(client: Client, admin: dict[str, str]) -> None:
    ok = await client.post("/v1/admin/models/validate", json={"dsl": DSL_V2}, headers=admin)
    assert ok.status_code == 200 and ok.json()["valid"] is True
    assert ok.json()["model"]["schema_version"] == "1.1"
    bad = await client.post(
        "/v1/admin/models/validate",
        json={
            "dsl": "model\n  schema 1.1\ntype user\ntype doc\n  relations\n    define viewer: [user] or editor\n"
        },
        headers=admin,
    )
    body = bad.json()
    assert bad.status_code == 200 and body["valid"] is False
    assert any("editor" in i["message"] for i in body["issues"])
    syntax = await client.post(
        "/v1/admin/models/validate", json={"dsl": "model\n  schema 1.1\ntype\n"}, headers=admin
    )
    assert syntax.json()["valid"] is False and syntax.json()["issues"][0]["line"] >= 1
    both = await client.post(
        "/v1/admin/models/validate", json={"dsl": DSL_V2, "model": {}}, headers=admin
    )
    assert both.status_code == 400 and "either" in both.json()["message"]


async def test_diff_names_removed_restrictions_and_orphaned_tuples(
    client: Client, admin: dict[str, str]
) -> None:
    store, model = await seed_store(
        client, ("document:a", "viewer", "user:*"), ("document:a", "viewer", "user:x")
    )
    limited = {
        "object": "document:b",
        "relation": "limited",
        "user": "user:y",
        "condition": {"name": "small"},
    }
    granted = await client.post(
        "/v1/admin/grants", json={"store_id": store, "tuples": [limited]}, headers=admin
    )
    assert granted.status_code == 200, granted.text
    response = await client.post(
        "/v1/admin/models/diff", json={"store_id": store, "dsl": DSL_V2}, headers=admin
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["base_model_id"] == model and body["breaking"] is True
    diff = body["diff"]
    assert diff["removed_relations"] == ["document#limited"] and diff["added_relations"] == [
        "document#editor"
    ]
    assert diff["removed_conditions"] == ["small"]
    [viewer] = [c for c in diff["changed_relations"] if c["relation"] == "viewer"]
    assert viewer["removed_restrictions"] == ["user:*"]
    assert body["orphaned_count"] == 2 and body["tuples_scanned"] == 3
    assert sorted(
        t["object"] + "#" + t["relation"] + "@" + t["user"] for t in body["orphaned_tuples"]
    ) == [
        "document:a#viewer@user:*",
        "document:b#limited@user:y",
    ]


async def test_upload_refuses_orphans_unless_forced(client: Client, admin: dict[str, str]) -> None:
    store, model = await seed_store(client, ("document:a", "viewer", "user:*"))
    refused = await client.post(
        "/v1/admin/models", json={"store_id": store, "dsl": DSL_V2}, headers=admin
    )
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["code"] == "model_change_orphans_tuples" and body["orphaned_count"] == 1
    assert body["orphaned_tuples"] == [
        {"object": "document:a", "relation": "viewer", "user": "user:*"}
    ]
    assert '"force": true' in body["message"]
    latest = await client.get(
        f"/stores/{store}/authorization-models", params={"page_size": "1"}, headers=ROOT
    )
    assert latest.json()["authorization_models"][0]["id"] == model

    forced = await client.post(
        "/v1/admin/models", json={"store_id": store, "dsl": DSL_V2, "force": True}, headers=admin
    )
    assert forced.status_code == 201, forced.text
    new_id = forced.json()["authorization_model_id"]
    assert forced.json()["diff"]["orphaned_count"] == 1
    latest = await client.get(
        f"/stores/{store}/authorization-models", params={"page_size": "1"}, headers=ROOT
    )
    assert latest.json()["authorization_models"][0]["id"] == new_id
    audit = (
        await client.get(
            "/v1/admin/audit", params={"store_id": store, "action": "model_write"}, headers=admin
        )
    ).json()
    entry = audit["entries"][0]
    assert entry["detail"]["authorization_model_id"] == new_id and entry["detail"]["forced"] is True
    assert entry["detail"]["base_model_id"] == model


async def test_upload_without_orphans_and_into_an_empty_store(
    client: Client, admin: dict[str, str]
) -> None:
    store, _ = await seed_store(client, ("document:a", "viewer", "user:x"))
    response = await client.post(
        "/v1/admin/models", json={"store_id": store, "dsl": DSL_V2}, headers=admin
    )
    assert response.status_code == 201 and response.json()["diff"]["orphaned_count"] == 0
    empty = (await client.post("/stores", json={"name": "empty-store"}, headers=ROOT)).json()["id"]
    first = await client.post(
        "/v1/admin/models", json={"store_id": empty, "dsl": DSL_V2}, headers=admin
    )
    assert first.status_code == 201 and first.json()["diff"]["base_model_id"] == ""
    assert first.json()["diff"]["diff"]["added_types"] == ["user", "group", "document"]


async def test_upload_rejects_an_invalid_model(client: Client, admin: dict[str, str]) -> None:
    store, _ = await seed_store(client)
    response = await client.post(
        "/v1/admin/models",
        json={
            "store_id": store,
            "model": {
                "schema_version": "1.1",
                "type_definitions": [
                    {"type": "doc", "relations": {"v": {"computedUserset": {"relation": "nope"}}}}
                ],
            },
        },
        headers=admin,
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_authorization_model"
