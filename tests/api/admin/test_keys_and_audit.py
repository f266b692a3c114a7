"""API keys through the admin API (created once, stored hashed, scoped, revocable) and the audit
log (every admin and OpenFGA-API write, filters, pagination, never a secret or a token)."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from permsvc.auth.keys import parse_api_key
from tests.api.admin.v1kit import ROOT, Issuer, bearer, seed_store, state_of, v1_client

Client = AsyncTestClient[Any]


async def test_key_lifecycle(client: Client, admin: dict[str, str]) -> None:
    store, _ = await seed_store(client, ("document:a", "viewer", "user:x"))
    created = await client.post(
        "/v1/admin/keys",
        json={"roles": ["read"], "store_id": store, "name": "billing-api"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    key = created.json()["key"]
    info = created.json()["info"]
    assert info["roles"] == ["read"] and info["scope"] == "read"
    assert info["store_id"] == store and info["name"] == "billing-api"
    assert parse_api_key(key).key_id == info["id"]

    datastore = state_of(client).deps.datastore
    stored = await getattr(datastore, "inner", datastore).get_api_key(info["id"])
    assert (
        stored.hashed_secret.startswith("sha256$")
        and parse_api_key(key).secret not in stored.hashed_secret
    )

    listed = await client.get("/v1/admin/keys", headers=admin)
    assert info["id"] in [k["id"] for k in listed.json()["keys"]]
    assert key not in listed.text and parse_api_key(key).secret not in listed.text

    check = await client.post(
        "/v1/check",
        json={"relation": "viewer", "object": "document:a", "user": "user:x", "store_id": store},
        headers=bearer(key),
    )
    assert check.status_code == 200 and check.json()["allowed"] is True

    revoked = await client.delete(f"/v1/admin/keys/{info['id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    again = await client.delete(f"/v1/admin/keys/{info['id']}", headers=admin)
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    refused = await client.post(
        "/v1/check",
        json={"relation": "viewer", "object": "document:a", "user": "user:x", "store_id": store},
        headers=bearer(key),
    )
    assert refused.status_code == 401 and "revoked" in refused.json()["message"]
    assert info["id"] not in [
        k["id"] for k in (await client.get("/v1/admin/keys", headers=admin)).json()["keys"]
    ]
    with_revoked = await client.get(
        "/v1/admin/keys", params={"include_revoked": "true"}, headers=admin
    )
    assert info["id"] in [k["id"] for k in with_revoked.json()["keys"]]


async def test_key_errors(client: Client, admin: dict[str, str]) -> None:
    bad_scope = await client.post("/v1/admin/keys", json={"scope": "root"}, headers=admin)
    assert (
        bad_scope.status_code == 400
        and "check, read, write, admin, claims" in bad_scope.json()["message"]
    )
    both = await client.post(
        "/v1/admin/keys", json={"scope": "check", "roles": ["check"]}, headers=admin
    )
    assert both.status_code == 400 and "'roles'" in both.json()["message"]
    legacy = await client.post("/v1/admin/keys", json={"scope": "check"}, headers=admin)
    assert legacy.status_code == 201 and legacy.json()["info"]["roles"] == ["check"]
    missing = await client.delete("/v1/admin/keys/zzzzzzzzzz", headers=admin)
    assert missing.status_code == 404 and missing.json()["code"] == "api_key_not_found"


async def test_admin_key_limited_to_a_store_stays_there(
    client: Client, admin: dict[str, str]
) -> None:
    store, _ = await seed_store(client)
    other, _ = await seed_store(client)
    created = await client.post(
        "/v1/admin/keys", json={"scope": "admin", "store_id": store}, headers=admin
    )
    limited = bearer(created.json()["key"])
    ok = await client.post(
        "/v1/admin/grants",
        json={
            "store_id": store,
            "tuples": [{"object": "document:a", "relation": "viewer", "user": "user:q"}],
        },
        headers=limited,
    )
    assert ok.status_code == 200
    refused = await client.post(
        "/v1/admin/grants",
        json={
            "store_id": other,
            "tuples": [{"object": "document:a", "relation": "viewer", "user": "user:q"}],
        },
        headers=limited,
    )
    assert refused.status_code == 403 and "limited to store" in refused.json()["message"]


async def test_openfga_writes_are_audited_with_the_preshared_key_position(issuer: Issuer) -> None:
    async for client in v1_client(
        issuer, auth_method="preshared", api_keys=("first-key-secret", "second-key-secret")
    ):
        psk = {"Authorization": "Bearer second-key-secret"}
        store = (await client.post("/stores", json={"name": "audited"}, headers=psk)).json()["id"]
        from tests.api.conftest import MODEL

        model = (
            await client.post(f"/stores/{store}/authorization-models", json=MODEL, headers=psk)
        ).json()["authorization_model_id"]
        write = await client.post(
            f"/stores/{store}/write",
            json={
                "writes": {
                    "tuple_keys": [{"object": "document:a", "relation": "viewer", "user": "user:x"}]
                },
            },
            headers={**psk, "X-Request-ID": "fga-write-1"},
        )
        assert write.status_code == 200
        delete = await client.post(
            f"/stores/{store}/write",
            json={
                "deletes": {
                    "tuple_keys": [{"object": "document:a", "relation": "viewer", "user": "user:x"}]
                }
            },
            headers=psk,
        )
        assert delete.status_code == 200
        put = await client.put(
            f"/stores/{store}/assertions/{model}",
            json={
                "assertions": [
                    {
                        "tuple_key": {
                            "object": "document:a",
                            "relation": "viewer",
                            "user": "user:x",
                        },
                        "expectation": False,
                    }
                ]
            },
            headers=psk,
        )
        assert put.status_code == 204
        assert (await client.delete(f"/stores/{store}", headers=psk)).status_code == 204

        log = state_of(client).deps.datastore
        log = getattr(log, "inner", log)
        from permsvc.store.protocol import AuditFilter

        entries = (await log.read_audit(AuditFilter(store_id=store), page_size=50)).items
        assert [e.action for e in entries] == [
            "store_delete",
            "assertions_write",
            "write",
            "write",
            "model_write",
            "store_create",
        ]
        assert {e.actor for e in entries} == {"preshared:2"}
        written = entries[3]
        assert written.request_id == "fga-write-1" and written.revision == 1
        assert written.detail["writes"]["tuples"] == [
            {"object": "document:a", "relation": "viewer", "user": "user:x"}
        ]
        assert entries[2].detail["deletes"]["count"] == 1 and entries[2].revision == 2
        assert entries[4].detail["authorization_model_id"] == model
        assert all("second-key-secret" not in str(e) for e in entries)


async def test_audit_filters_and_pages(
    client: Client, issuer: Issuer, admin: dict[str, str]
) -> None:
    store, _ = await seed_store(client)
    operator = bearer(issuer.admin())
    for i in range(5):
        await client.post(
            "/v1/admin/grants",
            json={
                "store_id": store,
                "tuples": [{"object": f"document:{i}", "relation": "viewer", "user": "user:a"}],
            },
            headers=operator,
        )
    await client.post(
        "/v1/admin/revokes",
        json={
            "store_id": store,
            "tuples": [{"object": "document:0", "relation": "viewer", "user": "user:a"}],
        },
        headers=admin,
    )

    grants = (
        await client.get(
            "/v1/admin/audit",
            params={"store_id": store, "actor": "client:admin-client", "page_size": "2"},
            headers=admin,
        )
    ).json()
    assert [e["action"] for e in grants["entries"]] == ["grant", "grant"] and grants[
        "continuation_token"
    ]
    revisions = [e["revision"] for e in grants["entries"]]
    token = grants["continuation_token"]
    while token:
        page = (
            await client.get(
                "/v1/admin/audit",
                params={
                    "store_id": store,
                    "actor": "client:admin-client",
                    "page_size": "2",
                    "continuation_token": token,
                },
                headers=admin,
            )
        ).json()
        revisions += [e["revision"] for e in page["entries"]]
        token = page["continuation_token"]
    assert revisions == [5, 4, 3, 2, 1]
    revokes = (
        await client.get(
            "/v1/admin/audit", params={"store_id": store, "action": "revoke"}, headers=admin
        )
    ).json()["entries"]
    assert len(revokes) == 1 and revokes[0]["actor"].startswith("key:")
    future = (
        await client.get(
            "/v1/admin/audit",
            params={"store_id": store, "since": "2999-01-01T00:00:00Z"},
            headers=admin,
        )
    ).json()
    assert future["entries"] == []
    bad_time = await client.get("/v1/admin/audit", params={"since": "yesterday"}, headers=admin)
    assert bad_time.status_code == 400 and "RFC 3339" in bad_time.json()["message"]
    bad_page = await client.get("/v1/admin/audit", params={"page_size": "1000"}, headers=admin)
    assert bad_page.status_code == 400


async def test_audit_never_holds_secrets_or_tokens(
    client: Client, issuer: Issuer, admin: dict[str, str]
) -> None:
    store, _ = await seed_store(client)
    admin_token = issuer.admin()
    created = await client.post(
        "/v1/admin/keys", json={"scope": "check", "name": "svc"}, headers=bearer(admin_token)
    )
    new_key = created.json()["key"]
    await client.post(
        "/v1/admin/grants",
        json={
            "store_id": store,
            "tuples": [{"object": "document:a", "relation": "viewer", "user": "user:a"}],
        },
        headers=bearer(admin_token),
    )
    await client.delete(f"/v1/admin/keys/{created.json()['info']['id']}", headers=admin)
    dump = (await client.get("/v1/admin/audit", params={"page_size": "100"}, headers=admin)).text
    secrets = [
        new_key,
        parse_api_key(new_key).secret,
        admin_token,
        admin["Authorization"].split()[1],
        parse_api_key(admin["Authorization"].split()[1]).secret,
    ]
    for secret in secrets:
        assert secret not in dump
    assert "[redacted]" not in dump
    assert (
        "key_create" in dump
        and created.json()["info"]["id"] in dump
        and "client:admin-client" in dump
    )


async def test_every_grant_and_revoke_of_a_tuple_is_traced_to_its_actor(
    client: Client, issuer: Issuer, admin: dict[str, str]
) -> None:
    store, _ = await seed_store(client)
    target = {"object": "document:t", "relation": "viewer", "user": "user:traced"}
    bulk = [
        {"object": f"document:{i}", "relation": "viewer", "user": "user:other"} for i in range(150)
    ]
    await client.post(
        "/v1/admin/grants", json={"store_id": store, "tuples": [*bulk, target]}, headers=admin
    )
    await client.post(
        "/v1/admin/revokes",
        json={"store_id": store, "tuples": [target]},
        headers=bearer(issuer.admin()),
    )
    await client.post(
        f"/stores/{store}/write", json={"writes": {"tuple_keys": [target]}}, headers=ROOT
    )
    response = await client.get(
        "/v1/admin/audit/trace", params={"store_id": store, **target}, headers=admin
    )
    assert response.status_code == 200, response.text
    changes = response.json()["changes"]
    assert [(c["operation"], c["revision"]) for c in changes] == [
        ("write", 1),
        ("delete", 2),
        ("write", 3),
    ]
    actors = [[a["actor"] for a in c["audit"]] for c in changes]
    assert (
        actors[0][0].startswith("key:")
        and actors[1] == ["client:admin-client"]
        and actors[2] == ["preshared:1"]
    )
    assert target not in changes[0]["audit"][0]["detail"]["tuples"], (
        "beyond the 100 listed, the revision links them"
    )
