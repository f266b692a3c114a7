"""Grant, revoke, delete by filter, grant listings, and import/export through the admin API;
each change traced in the audit log to who made it."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.api.admin.v1kit import ROOT, Issuer, bearer, seed_store

Client = AsyncTestClient[Any]


def _viewers(n: int, start: int = 0) -> list[dict[str, str]]:
    return [
        {"object": f"document:d{i}", "relation": "viewer", "user": f"user:u{i}"}
        for i in range(start, start + n)
    ]


async def _audit(client: Client, admin: dict[str, str], **params: str) -> list[dict[str, Any]]:
    response = await client.get("/v1/admin/audit", params=params, headers=admin)
    assert response.status_code == 200, response.text
    return list(response.json()["entries"])


async def _count(client: Client, store: str) -> int:
    total, token = 0, ""
    while True:
        body: dict[str, Any] = {"page_size": 100}
        if token:
            body["continuation_token"] = token
        page = (await client.post(f"/stores/{store}/read", json=body, headers=ROOT)).json()
        total += len(page["tuples"])
        token = page["continuation_token"]
        if not token:
            return total


async def test_grant_beyond_100_is_one_revision_and_idempotent(
    client: Client, admin: dict[str, str]
) -> None:
    store, model = await seed_store(client)
    tuples = _viewers(250)
    first = await client.post(
        "/v1/admin/grants", json={"store_id": store, "tuples": tuples}, headers=admin
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["changed"] == 250 and body["revision"] == 1 and body["consistency_token"]
    again = await client.post(
        "/v1/admin/grants",
        json={"store_id": store, "tuples": tuples[:10] + tuples[:10]},
        headers=admin,
    )
    assert again.json()["changed"] == 0 and again.json()["revision"] == 1
    assert await _count(client, store) == 250

    [latest, earlier] = (await _audit(client, admin, store_id=store, action="grant"))[:2]
    assert earlier["revision"] == 1 and earlier["detail"]["count"] == 250
    assert earlier["detail"]["truncated"] is True and len(earlier["detail"]["tuples"]) == 100
    assert earlier["detail"]["authorization_model_id"] == model
    assert earlier["actor"].startswith("key:") and earlier["actor_kind"] == "api_key"
    assert latest["detail"]["changed"] == 0


async def test_grant_validates_every_tuple_against_the_model(
    client: Client, admin: dict[str, str]
) -> None:
    store, _ = await seed_store(client)
    bad = [*_viewers(3), {"object": "document:x", "relation": "owner", "user": "user:*"}]
    response = await client.post(
        "/v1/admin/grants", json={"store_id": store, "tuples": bad}, headers=admin
    )
    assert response.status_code == 400
    assert "document:x#owner@user:*" in response.json()["message"]
    assert await _count(client, store) == 0


async def test_revoke_is_idempotent_and_audited_with_the_token_subject(
    client: Client, issuer: Issuer, admin: dict[str, str]
) -> None:
    store, _ = await seed_store(client)
    await client.post(
        "/v1/admin/grants", json={"store_id": store, "tuples": _viewers(5)}, headers=admin
    )
    operator = bearer(issuer.admin())
    response = await client.post(
        "/v1/admin/revokes",
        json={
            "store_id": store,
            "tuples": _viewers(3)
            + [{"object": "document:zz", "relation": "viewer", "user": "user:none"}],
        },
        headers={**operator, "X-Request-ID": "revoke-req-1"},
    )
    assert response.status_code == 200 and response.json()["changed"] == 3
    entry = (await _audit(client, admin, store_id=store, action="revoke"))[0]
    assert entry["actor"] == "client:admin-client" and entry["actor_kind"] == "client_token"
    assert (
        entry["request_id"] == "revoke-req-1" and entry["revision"] == response.json()["revision"]
    )
    assert {"object": "document:d0", "relation": "viewer", "user": "user:u0"} in entry["detail"][
        "tuples"
    ]
    repeat = await client.post(
        "/v1/admin/revokes", json={"store_id": store, "tuples": _viewers(3)}, headers=operator
    )
    assert repeat.json()["changed"] == 0


async def test_list_grants_of_a_user_and_of_an_object(
    client: Client, admin: dict[str, str]
) -> None:
    store, _ = await seed_store(
        client,
        ("document:a", "viewer", "user:auth0|42"),
        ("document:b", "owner", "user:auth0|42"),
        ("document:a", "owner", "user:google-oauth2|1"),
        ("document:a", "viewer", "group:eng#member"),
    )
    mine = await client.get(
        "/v1/admin/users/user:auth0%7C42/grants", params={"store_id": store}, headers=admin
    )
    assert mine.status_code == 200, mine.text
    assert sorted((t["object"], t["relation"]) for t in mine.json()["tuples"]) == [
        ("document:a", "viewer"),
        ("document:b", "owner"),
    ]
    usersets = await client.get(
        "/v1/admin/users/group:eng%23member/grants", params={"store_id": store}, headers=admin
    )
    assert [t["object"] for t in usersets.json()["tuples"]] == ["document:a"]
    on_a = await client.get(
        "/v1/admin/objects/document:a/grants",
        params={"store_id": store, "page_size": "2"},
        headers=admin,
    )
    body = on_a.json()
    assert len(body["tuples"]) == 2 and body["continuation_token"]
    rest = await client.get(
        "/v1/admin/objects/document:a/grants",
        params={"store_id": store, "continuation_token": body["continuation_token"]},
        headers=admin,
    )
    assert len(rest.json()["tuples"]) == 1
    owners = await client.get(
        "/v1/admin/objects/document:a/grants",
        params={"store_id": store, "relation": "owner"},
        headers=admin,
    )
    assert [t["user"] for t in owners.json()["tuples"]] == ["user:google-oauth2|1"]


async def test_delete_everything_of_a_departing_user(client: Client, admin: dict[str, str]) -> None:
    store, _ = await seed_store(
        client,
        ("document:a", "viewer", "user:leaver"),
        ("document:b", "owner", "user:leaver"),
        ("group:eng", "member", "user:leaver"),
        ("document:a", "viewer", "user:stayer"),
    )
    refused = await client.post("/v1/admin/tuples/delete", json={"store_id": store}, headers=admin)
    assert refused.status_code == 400 and '"all": true' in refused.json()["message"]
    response = await client.post(
        "/v1/admin/tuples/delete", json={"store_id": store, "user": "user:leaver"}, headers=admin
    )
    assert response.status_code == 200 and response.json()["changed"] == 3
    assert await _count(client, store) == 1
    entry = (await _audit(client, admin, store_id=store, action="delete_by_filter"))[0]
    assert entry["detail"]["filter"]["user"] == "user:leaver" and entry["detail"]["changed"] == 3


async def test_import_is_all_or_nothing_with_a_line_report(
    client: Client, admin: dict[str, str]
) -> None:
    store, _ = await seed_store(client)
    lines = [
        '{"object":"document:a","relation":"viewer","user":"user:x"}',
        "",
        '{"object":"document:a","relation":"nope","user":"user:x"}',
        "not json",
        '{"object":"document:b","relation":"viewer","user":"user:y","extra":1}',
        '{"object":"document:c","relation":"limited","user":"user:z","condition":{"name":"small","context":{"x":2.5}}}',
    ]
    response = await client.post(
        "/v1/admin/tuples/import",
        params={"store_id": store},
        content="\n".join(lines).encode(),
        headers={**admin, "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "import_validation_failed" and body["failed"] == 4 and body["lines"] == 6
    assert [e["line"] for e in body["errors"]] == [3, 4, 5, 6]
    assert "nope" in body["errors"][0]["error"] and "extra" in body["errors"][2]["error"]
    assert "expected an int value, but found numeric value '2.5'" in body["errors"][3]["error"]
    assert await _count(client, store) == 0


async def test_import_then_export_round_trip(client: Client, admin: dict[str, str]) -> None:
    store, _ = await seed_store(client)
    tuples = [
        f'{{"object":"document:d{i}","relation":"viewer","user":"user:u{i}"}}' for i in range(1500)
    ]
    tuples.append(
        '{"object":"document:c","relation":"limited","user":"user:z","condition":{"name":"small","context":{"x":1}}}'
    )
    tuples.append(tuples[0])
    response = await client.post(
        "/v1/admin/tuples/import",
        params={"store_id": store},
        content=("\n".join(tuples) + "\n").encode(),
        headers=admin,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["lines"] == 1502 and body["imported"] == 1501 and body["revision"] == 1
    export = await client.get("/v1/admin/tuples/export", params={"store_id": store}, headers=admin)
    assert export.status_code == 200 and export.headers["content-type"].startswith(
        "application/x-ndjson"
    )
    exported = [line for line in export.text.split("\n") if line]
    assert len(exported) == 1501
    assert (
        '{"object":"document:c","relation":"limited","user":"user:z","condition":{"name":"small","context":{"x":1}}}'
        in exported
    )
    filtered = await client.get(
        "/v1/admin/tuples/export", params={"store_id": store, "user": "user:u7"}, headers=admin
    )
    assert filtered.text == '{"object":"document:d7","relation":"viewer","user":"user:u7"}\n'
    entry = (await _audit(client, admin, store_id=store, action="import"))[0]
    assert (
        entry["revision"] == 1
        and entry["detail"]["count"] == 1502
        and entry["detail"]["imported"] == 1501
    )

    other, _ = await seed_store(client)
    again = await client.post(
        "/v1/admin/tuples/import", params={"store_id": other}, content=export.content, headers=admin
    )
    assert again.json()["imported"] == 1501


async def test_export_of_a_missing_store_is_404_before_streaming(
    client: Client, admin: dict[str, str]
) -> None:
    response = await client.get(
        "/v1/admin/tuples/export", params={"store_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}, headers=admin
    )
    assert response.status_code == 404


async def test_import_larger_than_the_request_body_limit(
    client: Client, admin: dict[str, str]
) -> None:
    store, _ = await seed_store(client)
    body = "".join(
        f'{{"object":"document:d{i}","relation":"viewer","user":"user:someone-with-a-long-id-{i}"}}\n'
        for i in range(20_000)
    )
    assert len(body) > 1024 * 1024
    response = await client.post(
        "/v1/admin/tuples/import", params={"store_id": store}, content=body.encode(), headers=admin
    )
    assert response.status_code == 200, response.text
    assert response.json()["imported"] == 20_000 and response.json()["revision"] == 1
