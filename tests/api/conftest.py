"""In-process API fixtures: the real app (``create_app``) on the memory datastore, driven through
Litestar's AsyncTestClient."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from permsvc.settings import Settings

MODEL: dict[str, Any] = {
    "schema_version": "1.1",
    "type_definitions": [
        {"type": "user"},
        {
            "type": "group",
            "relations": {"member": {"this": {}}},
            "metadata": {
                "relations": {"member": {"directly_related_user_types": [{"type": "user"}]}}
            },
        },
        {
            "type": "document",
            "relations": {
                "owner": {"this": {}},
                "viewer": {
                    "union": {"child": [{"this": {}}, {"computedUserset": {"relation": "owner"}}]}
                },
                "limited": {"this": {}},
            },
            "metadata": {
                "relations": {
                    "owner": {"directly_related_user_types": [{"type": "user"}]},
                    "viewer": {
                        "directly_related_user_types": [
                            {"type": "user"},
                            {"type": "user", "wildcard": {}},
                            {"type": "group", "relation": "member"},
                        ]
                    },
                    "limited": {
                        "directly_related_user_types": [{"type": "user", "condition": "small"}]
                    },
                }
            },
        },
    ],
    "conditions": {
        "small": {
            "name": "small",
            "expression": "x < 10",
            "parameters": {"x": {"type_name": "TYPE_NAME_INT"}},
        }
    },
}


def make_settings(**overrides: Any) -> Settings:
    return Settings(**{"database_url": "memory:", "access_log": False, **overrides})


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(create_app(make_settings())) as test_client:
        yield test_client


@pytest.fixture
async def store_id(client: AsyncTestClient[Any]) -> str:
    response = await client.post("/stores", json={"name": "test-store"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
async def model_id(client: AsyncTestClient[Any], store_id: str) -> str:
    response = await client.post(f"/stores/{store_id}/authorization-models", json=MODEL)
    assert response.status_code == 201, response.text
    return str(response.json()["authorization_model_id"])


async def write_tuples(
    client: AsyncTestClient[Any], store_id: str, *tuples: tuple[str, str, str]
) -> None:
    keys = [{"object": o, "relation": r, "user": u} for o, r, u in tuples]
    response = await client.post(f"/stores/{store_id}/write", json={"writes": {"tuple_keys": keys}})
    assert response.status_code == 200, response.text
