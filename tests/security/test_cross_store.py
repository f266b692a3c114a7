"""A credential limited to one store acts on that store only, on every store-scoped route.

Every route whose table row takes its store from the path, the default store or the request is
called, for store A, with an admin key and a check key limited to store B, and must be refused
(403); the same key on its own store is admitted. Key management, the audit log and the store
list show and change only the limited store's.
"""

from __future__ import annotations

from typing import Any

from permsvc.api.security.table import ROUTE_RULES, rule_key
from tests.security.kit import ROOT, World, bearer, call


async def test_every_store_scoped_route_refuses_another_store(world: World) -> None:
    limited = [c for c in world.credentials if c.limited]
    tried = 0
    for method, path in world.route_table():
        rule = ROUTE_RULES[rule_key(method, path)]
        if rule.role is None or rule.store not in ("path", "default", "request", "unlimited"):
            continue
        for credential in limited:
            response = await call(world, method, path, credential)
            tried += 1
            assert response.status_code == 403, (
                f"{method} {path} as {credential.name}: {response.text}"
            )
            assert response.json()["code"] == "forbidden"
    assert tried >= 2 * 45


async def test_a_limited_key_works_on_its_own_store(world: World) -> None:
    key = bearer(await world.key("admin", world.store_b))
    b = world.store_b
    for method, url, body in [
        ("GET", f"/stores/{b}", None),
        (
            "POST",
            f"/stores/{b}/check",
            {"tuple_key": {"object": "document:readme", "relation": "viewer", "user": "user:anne"}},
        ),
        (
            "POST",
            "/v1/admin/grants",
            {
                "store_id": b,
                "tuples": [{"object": "document:x", "relation": "viewer", "user": "user:b"}],
            },
        ),
        ("GET", f"/v1/admin/stores/{b}/claims-spec", None),
        (
            "POST",
            "/v1/check",
            {"store_id": b, "relation": "viewer", "object": "document:readme", "user": "user:anne"},
        ),
    ]:
        response = await world.client.request(method, url, json=body, headers=key)
        assert response.status_code == 200, (url, response.text)
    listed = (await world.client.get("/stores", headers=key)).json()["stores"]
    assert [s["id"] for s in listed] == [b]


async def _create_key(world: World, headers: dict[str, str], **body: Any) -> Any:
    return await world.client.post("/v1/admin/keys", json=body, headers=headers)


async def test_key_management_stays_in_the_limited_store(world: World) -> None:
    a, b = world.store_a, world.store_b
    limited = bearer(await world.key("admin", b))
    limited_check = bearer(await world.key("check", b))
    # minted keys are limited to its own store, whatever the request says
    own = await _create_key(world, limited, roles=["check"])
    assert own.status_code == 201 and own.json()["info"]["store_id"] == b
    assert (await _create_key(world, limited, roles=["check"], store_id=a)).status_code == 403
    # and carry at most its own roles
    assert (
        await _create_key(world, limited_check, roles=["check"])
    ).status_code == 403  # no admin role at all
    narrow = bearer((await _create_key(world, limited, roles=["write"])).json()["key"])
    assert (await _create_key(world, narrow, roles=["admin"])).status_code == 403
    # global and other-store keys are invisible and cannot be revoked
    global_key = (await _create_key(world, ROOT, roles=["admin"])).json()["info"]["id"]
    other = (await _create_key(world, ROOT, roles=["check"], store_id=a)).json()["info"]["id"]
    listed = (
        await world.client.get(
            "/v1/admin/keys", params={"include_revoked": "true"}, headers=limited
        )
    ).json()["keys"]
    assert {k["store_id"] for k in listed} == {b}
    assert global_key not in {k["id"] for k in listed} and other not in {k["id"] for k in listed}
    for key_id in (global_key, other):
        refused = await world.client.delete(f"/v1/admin/keys/{key_id}", headers=limited)
        assert refused.status_code == 404, refused.text
    everyone = (await world.client.get("/v1/admin/keys", headers=ROOT)).json()["keys"]
    assert {global_key, other} <= {k["id"] for k in everyone if k["revoked_at"] is None}
    mine = own.json()["info"]["id"]
    assert (await world.client.delete(f"/v1/admin/keys/{mine}", headers=limited)).status_code == 200


async def test_audit_shows_the_limited_store_only(world: World) -> None:
    a, b = world.store_a, world.store_b
    limited = bearer(await world.key("admin", b))
    await _create_key(world, limited, roles=["check"])
    await _create_key(world, ROOT, roles=["check"])
    rows = (
        await world.client.get("/v1/admin/audit", params={"page_size": "100"}, headers=limited)
    ).json()["entries"]
    assert rows and {r["store_id"] for r in rows} == {b}
    assert "key_create" in {r["action"] for r in rows}
    refused = await world.client.get("/v1/admin/audit", params={"store_id": a}, headers=limited)
    assert refused.status_code == 403
    everything = (
        await world.client.get("/v1/admin/audit", params={"page_size": "100"}, headers=ROOT)
    ).json()["entries"]
    assert {a, b} <= {r["store_id"] for r in everything}


async def test_a_limited_bootstrap_key(database_url: str) -> None:
    from litestar.testing import AsyncTestClient

    from permsvc.api.app import create_app
    from tests.api.conftest import make_settings
    from tests.security.kit import open_world

    async for world in open_world(database_url):
        a, b = world.store_a, world.store_b
    # The bootstrap keys can be limited too (PERMSVC_API_KEYS_STORE).
    settings = make_settings(
        database_url=database_url, index=False, api_keys=("limited-root",), api_keys_store=b
    )
    async with AsyncTestClient(create_app(settings)) as client:
        key = bearer("limited-root")
        assert (await client.get(f"/stores/{a}", headers=key)).status_code == 403
        assert (await client.get(f"/stores/{b}", headers=key)).status_code == 200
        assert (await client.post("/stores", json={"name": "more"}, headers=key)).status_code == 403
