"""Per-store claim specs through the admin routes, and their effect on POST /v1/claims."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.store.protocol import AuditFilter
from tests.api.claims.conftest import CLAIM, claims_key, write

STORE_CLAIM = "https://store.example.com/p"
YAML_SPEC = f"claim: {STORE_CLAIM}\nbudget_bytes: 512\nrelations: [project#owner]\n"


@pytest.fixture
async def admin(client: AsyncTestClient[Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {await claims_key(client.permsvc, 'admin')}"}  # type: ignore[attr-defined]


def _path(store_id: str) -> str:
    return f"/v1/admin/stores/{store_id}/claims-spec"


async def test_store_spec_replaces_default_until_deleted(
    client: AsyncTestClient[Any], store_id: str, admin: dict[str, str]
) -> None:
    await write(client, store_id, ("project:apollo", "owner", "user:auth0|1"))
    response = await client.get(_path(store_id), headers=admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["spec"] is None and body["updated_at"] is None and body["default"]["claim"] == CLAIM

    response = await client.put(
        _path(store_id), content=YAML_SPEC, headers={**admin, "Content-Type": "application/yaml"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["spec"] == {
        "version": 1,
        "claim": STORE_CLAIM,
        "subject_type": "user",
        "budget_bytes": 512,
        "relations": ["project#owner"],
    }
    feed = (
        await client.post("/v1/claims", json={"user_id": "auth0|1", "store_id": store_id})
    ).json()
    assert feed["claims"] == {
        STORE_CLAIM: {"v": 1, "rev": 1, "p": {"project#owner": ["apollo"]}, "o": False}
    }
    assert (await client.get(_path(store_id), headers=admin)).json()["spec"]["claim"] == STORE_CLAIM

    response = await client.delete(_path(store_id), headers=admin)
    assert response.json() == {"store_id": store_id, "deleted": True}
    assert (await client.delete(_path(store_id), headers=admin)).json()["deleted"] is False
    feed = (
        await client.post("/v1/claims", json={"user_id": "auth0|1", "store_id": store_id})
    ).json()
    assert list(feed["claims"]) == [CLAIM]

    log = client.permsvc.state.deps.datastore.inner  # type: ignore[attr-defined]
    page = await log.read_audit(AuditFilter(store_id=store_id), page_size=10)
    spec_rows = [e for e in page.items if e.action.startswith("claims_spec.")]
    assert [e.action for e in spec_rows] == ["claims_spec.delete", "claims_spec.put"]
    assert (
        spec_rows[1].detail["relations"] == ["project#owner"]
        and spec_rows[1].actor_kind == "api_key"
    )


async def test_json_spec_upload(
    client: AsyncTestClient[Any], store_id: str, admin: dict[str, str]
) -> None:
    spec = {
        "claim": STORE_CLAIM,
        "relations": ["project#viewer"],
        "audiences": {"https://a.example": {"relations": ["organization#admin"]}},
    }
    response = await client.put(_path(store_id), json=spec, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["spec"]["audiences"] == {
        "https://a.example": {
            "claim": STORE_CLAIM,
            "budget_bytes": 2048,
            "relations": ["organization#admin"],
        }
    }


@pytest.mark.parametrize(
    ("content", "content_type", "fragment"),
    [
        pytest.param(
            "claim: roles\nrelations: [project#owner]\n",
            "application/yaml",
            "claim: 'roles' is one of Auth0's restricted",
            id="restricted_name",
        ),
        pytest.param(
            "claim: https://x.auth0.com/p\nrelations: [project#owner, bad]\n",
            "application/yaml",
            "claim: 'x.auth0.com' is an Auth0 domain (auth0.com); Auth0 refuses claims namespaced on it; relations[1]: 'bad' is not",
            id="every_problem_listed",
        ),
        pytest.param(
            f"claim: {STORE_CLAIM}\nrelations: [project#owns]\n",
            "application/yaml",
            "project#owns: type 'project' has no relation 'owns'",
            id="relation_not_in_model",
        ),
        pytest.param("claim: [\n", "text/yaml", "not valid YAML at line", id="yaml_syntax"),
        pytest.param("{", "application/json", "not valid JSON", id="json_syntax"),
    ],
)
async def test_invalid_specs_are_refused(
    client: AsyncTestClient[Any],
    store_id: str,
    admin: dict[str, str],
    content: str,
    content_type: str,
    fragment: str,
) -> None:
    response = await client.put(
        _path(store_id), content=content, headers={**admin, "Content-Type": content_type}
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"
    assert fragment in response.json()["message"]
    assert (await client.get(_path(store_id), headers=admin)).json()["spec"] is None


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_non_spec_media_types_are_refused(
    client: AsyncTestClient[Any], store_id: str, admin: dict[str, str], content_type: str
) -> None:
    response = await client.put(
        _path(store_id), content="claim=x", headers={**admin, "Content-Type": content_type}
    )
    assert response.status_code == 415, response.text
    assert "application/json, application/yaml" in response.json()["message"]
    assert (await client.get(_path(store_id), headers=admin)).json()["spec"] is None


async def test_admin_only(client: AsyncTestClient[Any], store_id: str) -> None:
    response = await client.put(
        _path(store_id), content=YAML_SPEC, headers={"Content-Type": "application/yaml"}
    )
    assert response.status_code == 403, (
        response.text
    )  # the client's default credential is a claims key
    assert "lacks the 'admin' role" in response.json()["message"]


async def test_unknown_store(client: AsyncTestClient[Any], admin: dict[str, str]) -> None:
    response = await client.put(
        _path("01HZZZZZZZZZZZZZZZZZZZZZZZ"),
        content=YAML_SPEC,
        headers={**admin, "Content-Type": "application/yaml"},
    )
    assert response.status_code == 404, response.text
