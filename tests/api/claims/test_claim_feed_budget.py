"""POST /v1/claims with a spec of the test's own: the byte budget and relations the model lacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.claims.read import read_claim
from tests.api.claims.conftest import CLAIM, write


async def _claims(client: AsyncTestClient[Any], body: dict[str, Any]) -> Any:
    return await client.post("/v1/claims", json=body)


@pytest.fixture
def spec_path(tmp_path: Path) -> Path:
    path = tmp_path / "claims.yaml"
    path.write_text(
        f"claim: {CLAIM}\nbudget_bytes: 300\n"
        "relations: [organization#admin, project#editor, project#viewer]\n"
        "audiences:\n  https://api.example.com:\n    relations: [project#owner, project#ghost, nothing#viewer]\n"
    )
    return path


async def test_overflow_drops_least_specific_and_says_so(
    client: AsyncTestClient[Any], store_id: str
) -> None:
    grants = [(f"project:project-{i:03d}", "viewer", "user:auth0|7") for i in range(300)]
    grants += [
        ("project:alpha", "editor", "user:auth0|7"),
        ("organization:acme", "admin", "user:auth0|7"),
    ]
    await write(client, store_id, *grants)
    response = await _claims(client, {"user_id": "auth0|7", "store_id": store_id})
    body = response.json()
    assert response.status_code == 200 and body["truncated"] is True
    summary = body["claims"][CLAIM]
    assert summary["o"] is True and summary["d"] == ["project#viewer"]
    assert summary["p"] == {"organization#admin": ["acme"], "project#editor": ["alpha"]}
    assert len(json.dumps(summary, separators=(",", ":"))) <= 300
    view = read_claim(body["claims"], claim_name=CLAIM)
    assert view.has("editor", "project:alpha") is True
    assert view.has("viewer", "project:project-001") is None


async def test_spec_relations_missing_from_model(
    client: AsyncTestClient[Any], store_id: str
) -> None:
    response = await _claims(
        client, {"user_id": "auth0|1", "store_id": store_id, "audience": "https://api.example.com"}
    )
    assert response.status_code == 409
    message = response.json()["message"]
    assert (
        "project#ghost: type 'project' has no relation 'ghost' (it has: editor, organization, owner, viewer)"
        in message
    )
    assert "nothing#viewer: type 'nothing' is not defined" in message
