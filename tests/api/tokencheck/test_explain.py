"""POST /v1/explain: the same body and credentials as /v1/check, answered with the proof."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.api.admin.v1kit import ROOT, Issuer, api_key, bearer, state_of

Client = AsyncTestClient[Any]


async def test_user_token_gets_a_witness_for_its_own_user(client: Client, issuer: Issuer) -> None:
    response = await client.post(
        "/v1/explain",
        json={"relation": "viewer", "object": "document:design"},
        headers=bearer(issuer.user("auth0|42")),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["allowed"] is True and body["user"] == "user:auth0|42"
    witness = body["witnesses"][0]
    assert witness[0] == {"kind": "relation", "object": "document:design", "relation": "viewer"}
    kinds = [step["kind"] for step in witness]
    assert "userset" in kinds and kinds.count("tuple") >= 2
    stored = [step for step in witness if step["kind"] == "tuple"]
    assert all(step["revision"] == 1 == body["revision"] for step in stored)
    assert stored[-1]["tuple_key"]["user"] == "user:auth0|42"
    assert "denial" not in body


async def test_denied_shows_the_branches_tried(client: Client, issuer: Issuer) -> None:
    response = await client.post(
        "/v1/explain",
        json={"relation": "owner", "object": "document:plan"},
        headers=bearer(issuer.user("auth0|42")),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["allowed"] is False and not body.get("witnesses")
    denial = body["denial"]
    assert denial["object"] == "document:plan" and denial["relation"] == "owner"
    assert denial["reason"] in ("no_tuple", "no_branch")


async def test_user_token_cannot_explain_another_user(client: Client, issuer: Issuer) -> None:
    response = await client.post(
        "/v1/explain",
        json={"relation": "viewer", "object": "document:plan", "user": "user:google-oauth2|1234"},
        headers=bearer(issuer.user("auth0|42")),
    )
    assert response.status_code == 403 and response.json()["code"] == "forbidden"


@pytest.mark.parametrize(
    ("scope", "status"), [("check", 403), ("read", 200), ("admin", 200), ("claims", 403)]
)
async def test_read_and_admin_keys_name_any_user(client: Client, scope: str, status: int) -> None:
    response = await client.post(
        "/v1/explain",
        json={"relation": "viewer", "object": "document:plan", "user": "user:google-oauth2|1234"},
        headers=bearer(await api_key(client, scope)),
    )
    assert response.status_code == status, response.text
    assert response.json().get("allowed") is (True if status == 200 else None)


async def test_all_paths_and_limit(client: Client, issuer: Issuer) -> None:
    headers = bearer(issuer.user("auth0|42"))
    response = await client.post(
        "/v1/explain",
        json={"relation": "viewer", "object": "document:readme", "all_paths": True, "limit": 3},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    witnesses = response.json()["witnesses"]
    assert 1 <= len(witnesses) <= 3
    sizes = [len(w) for w in witnesses]
    assert sizes[0] == min(sizes)
    bad = await client.post(
        "/v1/explain",
        json={"relation": "viewer", "object": "document:readme", "limit": 3},
        headers=headers,
    )
    assert bad.status_code == 400 and "all_paths" in bad.json()["message"]
    huge = await client.post(
        "/v1/explain",
        json={"relation": "viewer", "object": "document:readme", "all_paths": True, "limit": 1000},
        headers=headers,
    )
    assert huge.status_code == 400


async def test_contextual_tuples_are_marked(client: Client, issuer: Issuer) -> None:
    response = await client.post(
        "/v1/explain",
        json={
            "relation": "viewer",
            "object": "document:new",
            "user": "user:carl",
            "contextual_tuples": [
                {"object": "document:new", "relation": "viewer", "user": "user:carl"}
            ],
        },
        headers=bearer(await api_key(client, "read")),
    )
    assert response.status_code == 200, response.text
    witness = response.json()["witnesses"][0]
    assert [s["kind"] for s in witness] == ["relation", "contextual_tuple"]
    assert "revision" not in witness[1]


async def test_unknown_fields_and_bad_relations_are_400(client: Client, issuer: Issuer) -> None:
    headers = bearer(issuer.user("auth0|42"))
    typo = await client.post(
        "/v1/explain", json={"relation": "viewer", "objct": "document:x"}, headers=headers
    )
    assert typo.status_code == 400
    unknown = await client.post(
        "/v1/explain", json={"relation": "nope", "object": "document:x"}, headers=headers
    )
    assert unknown.status_code == 400, unknown.text
    assert state_of(client)["test_store"]


async def test_a_stored_step_names_the_revision_its_tuple_was_written_at(
    client: Client, issuer: Issuer
) -> None:
    """Not the revision the decision was read at: the seed's tuples were written at revision 1;
    dana's tuple at 2, deleted at 3 and written again at 4 (the live write)."""
    store = state_of(client)["test_store"]
    key = {"object": "group:eng", "relation": "member", "user": "user:dana"}
    for body in ({"writes": {"tuple_keys": [key]}}, {"deletes": {"tuple_keys": [key]}}):
        response = await client.post(f"/stores/{store}/write", json=body, headers=ROOT)
        assert response.status_code == 200, response.text
    response = await client.post(
        f"/stores/{store}/write", json={"writes": {"tuple_keys": [key]}}, headers=ROOT
    )
    assert response.status_code == 200, response.text
    response = await client.post(
        "/v1/explain",
        json={"relation": "viewer", "object": "document:design", "user": "user:dana"},
        headers=bearer(await api_key(client, "read")),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["allowed"] is True and body["revision"] == 4
    stored = {
        step["tuple_key"]["user"]: step["revision"]
        for step in body["witnesses"][0]
        if step["kind"] == "tuple"
    }
    assert stored == {"group:eng#member": 1, "user:dana": 4}
