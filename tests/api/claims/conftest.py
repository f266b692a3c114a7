"""Claim-feed API fixtures: the real app on the memory datastore with a claim spec
(``PERMSVC_CLAIMS_SPEC``) and a bootstrap key (:data:`ROOT`, which seeds stores), a store holding
the ``schema/claims.fga`` model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from permsvc.commands.keys import CreateApiKeyCommand
from permsvc.model.compile import parse_dsl
from permsvc.model.json import model_to_json
from tests.api.admin.v1kit import ROOT, ROOT_KEY
from tests.api.conftest import make_settings
from tests.conftest import REPO_ROOT

CLAIM = "https://permsvc.example.com/perms"
SPEC = REPO_ROOT / "schema" / "claims.yaml"
MODEL = model_to_json(parse_dsl((REPO_ROOT / "schema" / "claims.fga").read_text()))


async def write(
    client: AsyncTestClient[Any], store_id: str, *tuples: tuple[str, str, str]
) -> dict[str, Any]:
    for start in range(0, len(tuples), 100):
        keys = [{"object": o, "relation": r, "user": u} for o, r, u in tuples[start : start + 100]]
        response = await client.post(
            f"/stores/{store_id}/write", json={"writes": {"tuple_keys": keys}}, headers=ROOT
        )
        assert response.status_code == 200, response.text
    return response.json()


async def new_store(client: AsyncTestClient[Any]) -> str:
    response = await client.post("/stores", json={"name": "claims"}, headers=ROOT)
    assert response.status_code == 201, response.text
    store_id = str(response.json()["id"])
    response = await client.post(
        f"/stores/{store_id}/authorization-models", json=MODEL, headers=ROOT
    )
    assert response.status_code == 201, response.text
    return store_id


@pytest.fixture
def spec_path() -> Path:
    return SPEC


async def claims_key(app: Any, scope: str = "claims", *, store_id: str | None = None) -> str:
    """A new API key in the app's datastore (behind the in-memory index wrapper)."""
    created = await CreateApiKeyCommand(keys=app.state.deps.datastore.inner).execute(
        scope, store_id=store_id, name="test"
    )
    return created.key


@pytest.fixture
async def client(spec_path: Path) -> AsyncIterator[AsyncTestClient[Any]]:
    """A client whose requests carry a ``claims`` API key (the helpers above seed with :data:`ROOT`)."""
    app = create_app(make_settings(claims_spec=str(spec_path), api_keys=(ROOT_KEY,)))
    async with AsyncTestClient(app) as test_client:
        test_client.headers["Authorization"] = f"Bearer {await claims_key(app)}"
        test_client.permsvc = app  # type: ignore[attr-defined]
        yield test_client


@pytest.fixture
async def store_id(client: AsyncTestClient[Any]) -> str:
    return await new_store(client)
