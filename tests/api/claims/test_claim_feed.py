"""POST /v1/claims through the real app: content, determinism, variants, budget, errors, callers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from permsvc.claims.errors import ClaimSpecError
from permsvc.claims.read import read_claim
from permsvc.commands.keys import RevokeApiKeyCommand
from tests.api.admin.v1kit import ROOT, ROOT_KEY
from tests.api.claims.conftest import CLAIM, claims_key, new_store, write
from tests.api.conftest import make_settings

GRANTS = (
    ("organization:acme", "admin", "user:auth0|1"),
    ("project:apollo", "organization", "organization:acme"),
    ("project:zeus", "viewer", "user:auth0|1"),
    ("project:hermes", "owner", "user:auth0|1"),
    ("project:public", "viewer", "user:*"),
    ("project:other", "editor", "user:auth0|2"),
)


async def _claims(client: AsyncTestClient[Any], body: dict[str, Any], **headers: str) -> Any:
    return await client.post("/v1/claims", json=body, headers=headers)


async def test_summary_of_the_permission_graph(client: AsyncTestClient[Any], store_id: str) -> None:
    for grant in GRANTS:
        await write(client, store_id, grant)
    response = await _claims(
        client, {"user_id": "auth0|1", "store_id": store_id, "client_id": "spa"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {
        "claims": {
            CLAIM: {
                "v": 1,
                "rev": 6,
                "o": False,
                "p": {
                    "organization#admin": ["acme"],
                    "project#editor": ["apollo", "hermes"],
                    "project#viewer": ["apollo", "hermes", "public", "zeus"],
                },
            }
        },
        "revision": 6,
        "truncated": False,
    }
    raw = response.content
    assert (
        b'"https://permsvc.example.com/perms":{"o":false,"p":{"organization#admin":["acme"]' in raw
    )
    again = await _claims(client, {"user_id": "auth0|1", "store_id": store_id})
    assert again.content == raw
    view = read_claim(body["claims"], claim_name=CLAIM, min_revision=6)
    assert (
        view.complete
        and view.has("editor", "project:hermes")
        and view.has("editor", "project:zeus") is False
    )


async def test_user_without_grants_gets_empty_lists(
    client: AsyncTestClient[Any], store_id: str
) -> None:
    await write(client, store_id, *GRANTS)
    response = await _claims(client, {"user_id": "google-oauth2|99", "store_id": store_id})
    summary = response.json()["claims"][CLAIM]
    assert summary["p"] == {
        "organization#admin": [],
        "project#editor": [],
        "project#viewer": ["public"],
    }


async def test_audience_variant(client: AsyncTestClient[Any], store_id: str) -> None:
    await write(client, store_id, *GRANTS)
    response = await _claims(
        client,
        {"user_id": "auth0|1", "store_id": store_id, "audience": "https://billing.example.com"},
    )
    assert response.json()["claims"][CLAIM]["p"] == {"organization#admin": ["acme"]}


async def test_revoke_moves_revision_and_content(
    client: AsyncTestClient[Any], store_id: str
) -> None:
    await write(client, store_id, *GRANTS)
    before = (await _claims(client, {"user_id": "auth0|1", "store_id": store_id})).json()
    response = await client.post(
        f"/stores/{store_id}/write",
        json={
            "deletes": {
                "tuple_keys": [
                    {"object": "project:zeus", "relation": "viewer", "user": "user:auth0|1"}
                ]
            }
        },
        headers=ROOT,
    )
    assert response.status_code == 200, response.text
    after = (await _claims(client, {"user_id": "auth0|1", "store_id": store_id})).json()
    assert after["revision"] == before["revision"] + 1
    assert "zeus" in before["claims"][CLAIM]["p"]["project#viewer"]
    assert "zeus" not in after["claims"][CLAIM]["p"]["project#viewer"]
    old = read_claim(before["claims"], claim_name=CLAIM, min_revision=after["revision"])
    assert old.stale and old.has("viewer", "project:zeus") is None


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param({"user_id": "auth0|1"}, "no store", id="no_store"),
        pytest.param(
            {"user_id": " ", "store_id": "01HZZZZZZZZZZZZZZZZZZZZZZZ"},
            "must not be empty",
            id="empty_user",
        ),
        pytest.param(
            {"userId": "auth0|1"}, "Object contains unknown field `userId`", id="unknown_field"
        ),
        pytest.param({"user_id": "auth0|1", "store_id": "nope"}, "StoreId", id="bad_store_id"),
        pytest.param({"user_id": "a b", "store_id": None}, "no store", id="store_null"),
    ],
)
async def test_bad_requests(
    client: AsyncTestClient[Any], body: dict[str, Any], fragment: str
) -> None:
    response = await _claims(client, body)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error" and fragment in response.json()["message"]


async def test_invalid_user_id(client: AsyncTestClient[Any], store_id: str) -> None:
    response = await _claims(client, {"user_id": "has space#x", "store_id": store_id})
    assert response.status_code == 400, response.text


async def test_store_without_model(client: AsyncTestClient[Any]) -> None:
    created = await client.post("/stores", json={"name": "empty"}, headers=ROOT)
    response = await _claims(client, {"user_id": "auth0|1", "store_id": created.json()["id"]})
    assert (
        response.status_code == 400
        and response.json()["code"] == "latest_authorization_model_not_found"
    )


async def test_no_spec_configured() -> None:
    app = create_app(make_settings(api_keys=(ROOT_KEY,)))
    async with AsyncTestClient(app) as client:
        store_id = await new_store(client)
        key = await claims_key(app)
        response = await _claims(
            client, {"user_id": "auth0|1", "store_id": store_id}, Authorization=f"Bearer {key}"
        )
    assert response.status_code == 409 and "PERMSVC_CLAIMS_SPEC" in response.json()["message"]


def test_bad_spec_stops_start_up(tmp_path: Path) -> None:
    path = tmp_path / "claims.yaml"
    path.write_text("claim: permissions\nrelations: [project#viewer]\n")
    with pytest.raises(ClaimSpecError, match="restricted claim names"):
        create_app(make_settings(claims_spec=str(path)))


async def test_key_scope_store_limit_and_revocation(
    client: AsyncTestClient[Any], store_id: str
) -> None:
    app = client.permsvc  # type: ignore[attr-defined]
    body = {"user_id": "u", "store_id": store_id}
    check_key = await claims_key(app, "check")
    response = await _claims(client, body, Authorization=f"Bearer {check_key}")
    assert response.status_code == 403 and "lacks the 'claims' role" in response.json()["message"]

    assert (
        await _claims(client, body, Authorization=f"Bearer {await claims_key(app, 'admin')}")
    ).status_code == 200

    other_store = await new_store(client)
    limited = await claims_key(app, store_id=other_store)
    response = await _claims(client, body, Authorization=f"Bearer {limited}")
    assert (
        response.status_code == 403
        and f"limited to store {other_store}" in response.json()["message"]
    )
    response = await _claims(
        client, {**body, "store_id": other_store}, Authorization=f"Bearer {limited}"
    )
    assert response.status_code == 200

    await RevokeApiKeyCommand(keys=app.state.deps.datastore.inner).execute(limited.split("_")[1])
    response = await _claims(
        client, {**body, "store_id": other_store}, Authorization=f"Bearer {limited}"
    )
    assert response.status_code == 401 and "revoked" in response.json()["message"]


@pytest.mark.parametrize(
    ("header", "status", "fragment"),
    [
        pytest.param(None, 401, "no credential", id="no_header"),
        pytest.param("Basic abc", 401, "Basic", id="other_scheme"),
        pytest.param("Bearer psk_aaaaaaaaaa_" + "a" * 32, 401, "not known", id="unknown_api_key"),
        pytest.param("Bearer psk_bad", 401, "not a permsvc API key", id="malformed_api_key"),
        pytest.param("Bearer a.b.c", 401, "accepts no access tokens", id="token_without_oidc"),
    ],
)
async def test_rejected_callers(
    client: AsyncTestClient[Any], header: str | None, status: int, fragment: str
) -> None:
    del client.headers["Authorization"]
    headers = {"Authorization": header} if header else {}
    response = await _claims(
        client, {"user_id": "auth0|1", "store_id": "01HZZZZZZZZZZZZZZZZZZZZZZZ"}, **headers
    )
    assert response.status_code == status, response.text
    assert fragment in response.json()["message"]
    assert response.headers["www-authenticate"].startswith("Bearer")
