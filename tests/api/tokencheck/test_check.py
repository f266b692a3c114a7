"""POST /v1/check, /v1/check/batch, /v1/objects, /v1/relations with user tokens, service tokens
and API keys (local issuer; the real-provider runs are in tests/integration/oidc/test_v1_*.py)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.core.revision import decode_token
from tests.api.admin.v1kit import ROOT, Issuer, api_key, bearer, seed_store, state_of

Client = AsyncTestClient[Any]


def _store(client: Client) -> str:
    return str(state_of(client)["test_store"])


@pytest.mark.parametrize(
    ("sub", "relation", "obj", "allowed"),
    [
        pytest.param("auth0|42", "viewer", "document:readme", True, id="direct_tuple"),
        pytest.param("auth0|42", "viewer", "document:design", True, id="through_group_userset"),
        pytest.param("auth0|42", "viewer", "document:public", True, id="wildcard"),
        pytest.param("auth0|42", "owner", "document:plan", False, id="someone_elses_document"),
        pytest.param(
            "google-oauth2|1234", "viewer", "document:plan", True, id="owner_implies_viewer"
        ),
    ],
)
async def test_user_token_checks_its_own_user(
    client: Client, issuer: Issuer, sub: str, relation: str, obj: str, allowed: bool
) -> None:
    response = await client.post(
        "/v1/check", json={"relation": relation, "object": obj}, headers=bearer(issuer.user(sub))
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["allowed"] is allowed
    assert body["user"] == f"user:{sub}"
    assert body["store_id"] == _store(client)
    assert body["revision"] >= 1
    assert (
        decode_token(body["consistency_token"], store_id=_store(client)).revision
        == body["revision"]
    )
    assert body["authorization_model_id"]


async def test_user_token_may_name_itself_but_not_another_user(
    client: Client, issuer: Issuer
) -> None:
    headers = bearer(issuer.user("auth0|42"))
    own = await client.post(
        "/v1/check",
        json={"relation": "viewer", "object": "document:readme", "user": "user:auth0|42"},
        headers=headers,
    )
    assert own.status_code == 200 and own.json()["allowed"] is True
    other = await client.post(
        "/v1/check",
        json={"relation": "viewer", "object": "document:plan", "user": "user:google-oauth2|1234"},
        headers=headers,
    )
    assert other.status_code == 403
    assert other.json()["code"] == "forbidden"
    assert "user:auth0|42" in other.json()["message"] and "Omit 'user'" in other.json()["message"]


async def test_service_token_with_check_scope_passes_the_users_token(
    client: Client, issuer: Issuer
) -> None:
    headers = bearer(issuer.service())
    body = {"relation": "viewer", "object": "document:plan"}
    response = await client.post(
        "/v1/check",
        json={**body, "subject_token": issuer.user("google-oauth2|1234")},
        headers=headers,
    )
    assert response.status_code == 200 and response.json()["allowed"] is True
    assert response.json()["user"] == "user:google-oauth2|1234"
    named = await client.post(
        "/v1/check", json={**body, "user": "user:google-oauth2|1234"}, headers=headers
    )
    assert named.status_code == 403 and "'read' role" in named.json()["message"]
    reader = bearer(issuer.service(scope="permsvc:read"))
    named = await client.post(
        "/v1/check", json={**body, "user": "user:google-oauth2|1234"}, headers=reader
    )
    assert named.status_code == 200 and named.json()["allowed"] is True
    missing = await client.post("/v1/check", json=body, headers=headers)
    assert missing.status_code == 400
    assert (
        "subject_token" in missing.json()["message"]
        and "client:svc-client" in missing.json()["message"]
    )


async def test_service_token_without_check_scope_is_insufficient_scope(
    client: Client, issuer: Issuer
) -> None:
    response = await client.post(
        "/v1/check",
        json={"relation": "viewer", "object": "document:plan", "user": "user:x"},
        headers=bearer(issuer.service(scope="read:docs")),
    )
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="permsvc:check"' in challenge


@pytest.mark.parametrize(
    ("scope", "status"),
    [
        pytest.param("check", 403, id="check_key_names_no_user"),
        pytest.param("read", 200, id="read_key"),
        pytest.param("admin", 200, id="admin_key"),
        pytest.param("claims", 403, id="claims_key_refused"),
    ],
)
async def test_api_keys_by_role(client: Client, scope: str, status: int) -> None:
    headers = bearer(await api_key(client, scope))
    response = await client.post(
        "/v1/check",
        json={"relation": "viewer", "object": "document:readme", "user": "user:auth0|42"},
        headers=headers,
    )
    assert response.status_code == status, response.text
    if scope == "claims":
        assert "lacks the 'check' role" in response.json()["message"]
    elif scope == "check":
        assert "needs the 'read' role" in response.json()["message"]


async def test_store_limited_key_cannot_use_another_store(client: Client) -> None:
    other, _ = await seed_store(client, ("document:x", "viewer", "user:a"))
    headers = bearer(await api_key(client, "read", store_id=_store(client)))
    body = {"relation": "viewer", "object": "document:x", "user": "user:a", "store_id": other}
    response = await client.post("/v1/check", json=body, headers=headers)
    assert response.status_code == 403 and "limited to store" in response.json()["message"]
    own = await client.post("/v1/check", json={**body, "store_id": _store(client)}, headers=headers)
    assert own.status_code == 200


async def test_store_id_in_body_overrides_default(client: Client, issuer: Issuer) -> None:
    other, _ = await seed_store(client, ("document:x", "viewer", "user:auth0|42"))
    response = await client.post(
        "/v1/check",
        json={"relation": "viewer", "object": "document:x", "store_id": other},
        headers=bearer(issuer.user()),
    )
    assert response.status_code == 200
    assert response.json()["allowed"] is True and response.json()["store_id"] == other


async def test_contextual_tuples_and_context_from_a_service(client: Client, issuer: Issuer) -> None:
    headers = bearer(issuer.service())
    body: dict[str, Any] = {
        "subject_token": issuer.user("auth0|7"),
        "relation": "limited",
        "object": "document:readme",
        "contextual_tuples": [
            {
                "object": "document:readme",
                "relation": "limited",
                "user": "user:auth0|7",
                "condition": {"name": "small"},
            }
        ],
    }
    yes = await client.post("/v1/check", json={**body, "context": {"x": 3}}, headers=headers)
    no = await client.post("/v1/check", json={**body, "context": {"x": 30}}, headers=headers)
    assert yes.json()["allowed"] is True and no.json()["allowed"] is False
    del body["subject_token"]
    own = await client.post(
        "/v1/check", json={**body, "context": {"x": 3}}, headers=bearer(issuer.user("auth0|7"))
    )
    assert own.status_code == 403 and "contextual_tuples" in own.json()["message"]


async def test_consistency_token_from_a_write_is_honoured(client: Client, issuer: Issuer) -> None:
    store = _store(client)
    write = await client.post(
        f"/stores/{store}/write",
        json={
            "writes": {
                "tuple_keys": [
                    {"object": "document:new", "relation": "viewer", "user": "user:auth0|42"}
                ]
            }
        },
        headers=ROOT,
    )
    token = write.headers["x-permsvc-consistency-token"]
    response = await client.post(
        "/v1/check",
        json={"relation": "viewer", "object": "document:new", "consistency_token": token},
        headers=bearer(issuer.user()),
    )
    assert response.json()["allowed"] is True
    assert response.json()["revision"] >= decode_token(token).revision


async def test_unknown_fields_are_refused(client: Client, issuer: Issuer) -> None:
    response = await client.post(
        "/v1/check",
        json={"relation": "viewer", "objct": "document:readme"},
        headers=bearer(issuer.user()),
    )
    assert response.status_code == 400
    assert "objct" in response.json()["message"] or "object" in response.json()["message"]


async def test_no_default_store_says_how_to_choose_one(issuer: Issuer) -> None:
    from tests.api.admin.v1kit import v1_client

    async for plain in v1_client(issuer):
        response = await plain.post(
            "/v1/check",
            json={"relation": "viewer", "object": "document:x"},
            headers=bearer(issuer.user()),
        )
        assert response.status_code == 400
        assert (
            "store_id" in response.json()["message"]
            and "PERMSVC_STORE" in response.json()["message"]
        )


async def test_batch_check_answers_at_one_revision(client: Client, issuer: Issuer) -> None:
    response = await client.post(
        "/v1/check/batch",
        json={
            "checks": [
                {"relation": "viewer", "object": "document:readme", "correlation_id": "a"},
                {"relation": "owner", "object": "document:readme"},
                {"relation": "nope", "object": "document:readme", "correlation_id": "bad"},
            ]
        },
        headers=bearer(issuer.user()),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    results = {r["correlation_id"]: r for r in body["results"]}
    assert results["a"]["allowed"] is True
    assert results["1"]["allowed"] is False and "error" not in results["1"]
    assert results["bad"]["allowed"] is False and results["bad"]["error"]["code"] in (
        "validation_error",
        "relation_not_found",
    )
    assert body["revision"] >= 1 and body["user"] == "user:auth0|42"


async def test_batch_check_needs_one_to_fifty_items(client: Client, issuer: Issuer) -> None:
    response = await client.post(
        "/v1/check/batch", json={"checks": []}, headers=bearer(issuer.user())
    )
    assert response.status_code == 400 and "'checks'" in response.json()["message"]


async def test_list_objects_pages(client: Client, issuer: Issuer) -> None:
    headers = bearer(issuer.user())
    first = await client.post(
        "/v1/objects",
        json={"type": "document", "relation": "viewer", "page_size": 2},
        headers=headers,
    )
    assert first.status_code == 200, first.text
    body = first.json()
    seen = list(body["objects"])
    assert body["revision"] >= 1 and body["continuation_token"]
    rest = await client.post(
        "/v1/objects",
        json={
            "type": "document",
            "relation": "viewer",
            "continuation_token": body["continuation_token"],
        },
        headers=headers,
    )
    seen += rest.json()["objects"]
    assert sorted(seen) == ["document:design", "document:public", "document:readme"]


async def test_list_relations_on_one_object(client: Client, issuer: Issuer) -> None:
    response = await client.post(
        "/v1/relations",
        json={"object": "document:plan"},
        headers=bearer(issuer.user("google-oauth2|1234")),
    )
    assert response.status_code == 200, response.text
    assert response.json()["relations"] == ["owner", "viewer"]
    chosen = await client.post(
        "/v1/relations",
        json={"object": "document:plan", "relations": ["viewer"]},
        headers=bearer(issuer.user("auth0|42")),
    )
    assert chosen.json()["relations"] == []


async def test_list_objects_page_size_is_bounded(client: Client, issuer: Issuer) -> None:
    body = {"type": "document", "relation": "viewer", "page_size": 10**6}
    response = await client.post("/v1/objects", json=body, headers=bearer(issuer.user()))
    assert (
        response.status_code == 400
        and "'page_size' must be 1 to 1000" in response.json()["message"]
    )
