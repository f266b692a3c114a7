"""Stores and authorization models over HTTP: OpenFGA's shapes, statuses and errors."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.core.ulid import is_ulid
from tests.api.conftest import MODEL

MISSING_STORE = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


async def test_create_store_is_201_with_ulid_and_timestamps(client: AsyncTestClient[Any]) -> None:
    response = await client.post("/stores", json={"name": "my store/1"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "created_at", "updated_at"}
    assert is_ulid(body["id"]) and body["name"] == "my store/1"
    assert body["created_at"].endswith("Z")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"name": "ab"}, id="name_too_short"),
        pytest.param({"name": "x" * 65}, id="name_too_long"),
        pytest.param({"name": "bad!name"}, id="name_bad_character"),
        pytest.param({}, id="name_missing"),
    ],
)
async def test_create_store_rejects_invalid_names(
    client: AsyncTestClient[Any], body: dict[str, Any]
) -> None:
    response = await client.post("/stores", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert (
        "invalid CreateStoreRequest.Name: value does not match regex pattern"
        in response.json()["message"]
    )


async def test_get_store_includes_deleted_at_null(
    client: AsyncTestClient[Any], store_id: str
) -> None:
    response = await client.get(f"/stores/{store_id}")
    assert response.status_code == 200
    assert response.json()["deleted_at"] is None and response.json()["id"] == store_id


async def test_unknown_store_is_404_store_id_not_found(client: AsyncTestClient[Any]) -> None:
    response = await client.get(f"/stores/{MISSING_STORE}")
    assert response.status_code == 404
    assert response.json() == {"code": "store_id_not_found", "message": "Store ID not found"}


async def test_invalid_store_id_is_400(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/stores/not-a-ulid")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "GetStoreRequest.StoreId" in response.json()["message"]


async def test_list_stores_pages_and_accepts_empty_parameters(client: AsyncTestClient[Any]) -> None:
    ids = [
        (await client.post("/stores", json={"name": f"store-{i}"})).json()["id"] for i in range(3)
    ]
    response = await client.get("/stores?continuation_token=&page_size=")
    assert response.status_code == 200
    assert [s["id"] for s in response.json()["stores"]] == ids
    assert response.json()["continuation_token"] == ""
    first = (await client.get("/stores", params={"page_size": 2})).json()
    assert len(first["stores"]) == 2 and first["continuation_token"]
    rest = (
        await client.get("/stores", params={"continuation_token": first["continuation_token"]})
    ).json()
    assert [s["id"] for s in rest["stores"]] == ids[2:]
    named = (await client.get("/stores", params={"name": "store-1"})).json()
    assert [s["id"] for s in named["stores"]] == [ids[1]]


@pytest.mark.parametrize("size", ["0", "101", "-1", "abc"])
async def test_list_stores_rejects_bad_page_size(client: AsyncTestClient[Any], size: str) -> None:
    response = await client.get("/stores", params={"page_size": size})
    assert response.status_code == 400
    assert response.json()["code"] == "page_size_invalid"


async def test_list_stores_rejects_garbage_token(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/stores", params={"continuation_token": "garbage"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_continuation_token"


async def test_delete_store_is_204_even_when_missing(
    client: AsyncTestClient[Any], store_id: str
) -> None:
    response = await client.delete(f"/stores/{store_id}")
    assert response.status_code == 204 and response.content == b""
    assert (await client.get(f"/stores/{store_id}")).status_code == 404
    assert (await client.delete(f"/stores/{MISSING_STORE}")).status_code == 204


async def test_write_and_read_model(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    assert is_ulid(model_id)
    response = await client.get(f"/stores/{store_id}/authorization-models/{model_id}")
    assert response.status_code == 200
    model = response.json()["authorization_model"]
    assert model["id"] == model_id and model["schema_version"] == "1.1"
    assert [t["type"] for t in model["type_definitions"]] == ["user", "group", "document"]
    assert model["type_definitions"][0] == {"type": "user", "relations": {}, "metadata": None}
    assert model["conditions"]["small"]["expression"] == "x < 10"


async def test_models_are_listed_newest_first(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    newer = (await client.post(f"/stores/{store_id}/authorization-models", json=MODEL)).json()[
        "authorization_model_id"
    ]
    latest = (
        await client.get(f"/stores/{store_id}/authorization-models", params={"page_size": 1})
    ).json()
    assert [m["id"] for m in latest["authorization_models"]] == [newer]
    assert latest["continuation_token"]
    rest = (
        await client.get(
            f"/stores/{store_id}/authorization-models",
            params={"continuation_token": latest["continuation_token"]},
        )
    ).json()
    assert [m["id"] for m in rest["authorization_models"]] == [model_id]
    assert rest["continuation_token"] == ""


async def test_unknown_model_is_400_authorization_model_not_found(
    client: AsyncTestClient[Any], store_id: str
) -> None:
    response = await client.get(f"/stores/{store_id}/authorization-models/{MISSING_STORE}")
    assert response.status_code == 400
    assert response.json() == {
        "code": "authorization_model_not_found",
        "message": f"Authorization Model '{MISSING_STORE}' not found",
    }


@pytest.mark.parametrize(
    ("model", "code"),
    [
        pytest.param(
            {
                "schema_version": "1.1",
                "type_definitions": [
                    {
                        "type": "document",
                        "relations": {"viewer": {"computedUserset": {"relation": "editor"}}},
                    }
                ],
            },
            "invalid_authorization_model",
            id="undefined_relation",
        ),
        pytest.param(
            {"schema_version": "1.1", "type_definitions": []},
            "invalid_authorization_model",
            id="no_types",
        ),
        pytest.param(
            {"schema_version": "1.0", "type_definitions": [{"type": "user"}]},
            "invalid_authorization_model",
            id="unsupported_schema",
        ),
        pytest.param(
            {"schema_version": "1.1", "type_definitions": "user"},
            "invalid_authorization_model",
            id="types_not_a_list",
        ),
        pytest.param(
            {"schema_version": "1.1", "type_definitions": [{"type": f"t{i}"} for i in range(101)]},
            "exceeded_entity_limit",
            id="too_many_types",
        ),
    ],
)
async def test_invalid_models_are_rejected(
    client: AsyncTestClient[Any], store_id: str, model: dict[str, Any], code: str
) -> None:
    response = await client.post(f"/stores/{store_id}/authorization-models", json=model)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code


async def test_oversized_model_is_exceeded_entity_limit(
    client: AsyncTestClient[Any], store_id: str
) -> None:
    types = [{"type": "user"}] + [
        {
            "type": f"type_{i:04d}",
            "relations": {f"relation_{j}": {"this": {}} for j in range(30)},
            "metadata": {
                "relations": {
                    f"relation_{j}": {"directly_related_user_types": [{"type": "user"}]}
                    for j in range(30)
                }
            },
        }
        for i in range(99)
    ]
    response = await client.post(
        f"/stores/{store_id}/authorization-models",
        json={"schema_version": "1.1", "type_definitions": types},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "exceeded_entity_limit"
    assert response.json()["message"].startswith("model exceeds size limit:")


async def test_write_model_to_unknown_store_is_404(client: AsyncTestClient[Any]) -> None:
    response = await client.post(f"/stores/{MISSING_STORE}/authorization-models", json=MODEL)
    assert response.status_code == 404
    assert response.json()["code"] == "store_id_not_found"
