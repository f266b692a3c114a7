"""WriteAssertions / ReadAssertions over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

MISSING = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


def _assertion(
    user: str, relation: str, obj: str, expectation: bool, **extra: Any
) -> dict[str, Any]:
    return {
        "tuple_key": {"user": user, "relation": relation, "object": obj},
        "expectation": expectation,
        **extra,
    }


async def test_write_is_204_and_read_round_trips(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    body = {
        "assertions": [
            _assertion(
                "user:anne",
                "viewer",
                "document:1",
                True,
                contextual_tuples=[
                    {"user": "user:anne", "relation": "owner", "object": "document:1"}
                ],
            ),
            _assertion("user:bob", "owner", "document:1", False, context={"x": 1}),
        ]
    }
    written = await client.put(f"/stores/{store_id}/assertions/{model_id}", json=body)
    assert written.status_code == 204 and written.content == b""
    read = await client.get(f"/stores/{store_id}/assertions/{model_id}")
    assert read.status_code == 200
    got = read.json()
    assert got["authorization_model_id"] == model_id
    assert got["assertions"][0]["tuple_key"] == {
        "object": "document:1",
        "relation": "viewer",
        "user": "user:anne",
    }
    assert got["assertions"][0]["contextual_tuples"] == [
        {"user": "user:anne", "relation": "owner", "object": "document:1", "condition": None}
    ]
    assert got["assertions"][1]["expectation"] is False and got["assertions"][1]["context"] == {
        "x": 1
    }


async def test_contextual_tuples_in_the_object_form_are_accepted(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    body = {
        "assertions": [
            _assertion(
                "user:anne",
                "viewer",
                "document:1",
                True,
                contextual_tuples={
                    "tuple_keys": [
                        {"user": "user:anne", "relation": "owner", "object": "document:1"}
                    ]
                },
            )
        ]
    }
    assert (
        await client.put(f"/stores/{store_id}/assertions/{model_id}", json=body)
    ).status_code == 204


async def test_write_replaces_previous_assertions(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    path = f"/stores/{store_id}/assertions/{model_id}"
    await client.put(
        path, json={"assertions": [_assertion("user:anne", "viewer", "document:1", True)]}
    )
    await client.put(path, json={"assertions": []})
    assert (await client.get(path)).json()["assertions"] == []


async def test_no_assertions_yet_reads_empty(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    read = await client.get(f"/stores/{store_id}/assertions/{model_id}")
    assert read.json() == {"authorization_model_id": model_id, "assertions": []}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param(
            {"assertions": [_assertion("user:anne", "viewer", "document:1", True)] * 101},
            "assertions_too_many_items",
            id="more_than_100",
        ),
        pytest.param(
            {"assertions": [_assertion("user:anne", "nope", "document:1", True)]},
            "validation_error",
            id="unknown_relation",
        ),
        pytest.param(
            {"assertions": [{"expectation": True}]}, "validation_error", id="missing_tuple_key"
        ),
        pytest.param(
            {"assertions": [_assertion("user:anne", "viewer", "document:1", "yes")]},
            "validation_error",
            id="expectation_not_bool",
        ),
    ],
)
async def test_write_errors(
    client: AsyncTestClient[Any], store_id: str, model_id: str, body: dict[str, Any], code: str
) -> None:
    response = await client.put(f"/stores/{store_id}/assertions/{model_id}", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code


async def test_unknown_model_is_authorization_model_not_found(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    put = await client.put(f"/stores/{store_id}/assertions/{MISSING}", json={"assertions": []})
    assert put.status_code == 400 and put.json()["code"] == "authorization_model_not_found"
    get = await client.get(f"/stores/{store_id}/assertions/{MISSING}")
    assert get.status_code == 400 and get.json()["code"] == "authorization_model_not_found"


async def test_malformed_model_id_is_validation_error(
    client: AsyncTestClient[Any], store_id: str
) -> None:
    response = await client.get(f"/stores/{store_id}/assertions/not-an-id")
    assert response.status_code == 400 and response.json()["code"] == "validation_error"
