"""Write, Read and ReadChanges over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.core.revision import decode_token
from tests.api.conftest import write_tuples

MISSING = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


def _key(obj: str, rel: str, user: str, **extra: Any) -> dict[str, Any]:
    return {"object": obj, "relation": rel, "user": user, **extra}


async def test_write_returns_empty_object_and_consistency_token(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    response = await client.post(
        f"/stores/{store_id}/write",
        json={
            "writes": {"tuple_keys": [_key("document:1", "viewer", "user:anne")]},
            "authorization_model_id": "",
        },
    )
    assert response.status_code == 200 and response.json() == {}
    token = decode_token(response.headers["x-permsvc-consistency-token"], store_id=store_id)
    assert token.revision == 1
    assert response.headers["openfga-authorization-model-id"] == model_id


async def test_write_then_delete_and_read_back(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    await write_tuples(
        client, store_id, ("document:1", "viewer", "user:anne"), ("document:2", "owner", "user:bob")
    )
    response = await client.post(
        f"/stores/{store_id}/write",
        json={"deletes": {"tuple_keys": [_key("document:1", "viewer", "user:anne")]}},
    )
    assert response.status_code == 200
    read = await client.post(f"/stores/{store_id}/read", json={})
    assert read.status_code == 200
    body = read.json()
    assert [t["key"] for t in body["tuples"]] == [
        _key("document:2", "owner", "user:bob", condition=None)
    ]
    assert body["continuation_token"] == ""
    assert body["tuples"][0]["timestamp"].endswith("Z")
    assert read.headers["x-permsvc-revision"] == "2"


async def test_write_conditional_tuple_and_read_condition(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    key = _key(
        "document:1", "limited", "user:anne", condition={"name": "small", "context": {"x": 3}}
    )
    assert (
        await client.post(f"/stores/{store_id}/write", json={"writes": {"tuple_keys": [key]}})
    ).status_code == 200
    read = (
        await client.post(f"/stores/{store_id}/read", json={"tuple_key": {"object": "document:1"}})
    ).json()
    assert read["tuples"][0]["key"]["condition"] == {"name": "small", "context": {"x": 3}}


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        pytest.param(
            {},
            "invalid_write_input",
            "Invalid input. Make sure you provide at least one write or delete",
            id="nothing_to_do",
        ),
        pytest.param(
            {"writes": {"tuple_keys": None}}, "invalid_write_input", None, id="null_tuple_keys"
        ),
        pytest.param(
            {
                "writes": {
                    "tuple_keys": [_key(f"document:{i}", "viewer", "user:anne") for i in range(101)]
                }
            },
            "exceeded_entity_limit",
            "The number of write operations exceeds the allowed limit of 100",
            id="too_many_operations",
        ),
        pytest.param(
            {"writes": {"tuple_keys": [_key("document:1", "viewer", "user:anne")] * 2}},
            "cannot_allow_duplicate_tuples_in_one_request",
            "duplicate tuple in write: user: 'user:anne', relation: 'viewer', object: 'document:1'",
            id="duplicate_in_request",
        ),
        pytest.param(
            {
                "writes": {
                    "tuple_keys": [_key("document:1", "viewer", "user:anne")],
                    "on_duplicate": "maybe",
                }
            },
            "validation_error",
            "invalid on_duplicate option: maybe",
            id="bad_on_duplicate",
        ),
        pytest.param(
            {"writes": {"tuple_keys": [_key("document:1", "nope", "user:anne")]}},
            "invalid_tuple",
            "Invalid tuple 'document:1#nope@user:anne'. Reason: relation 'document#nope' not found",
            id="unknown_relation",
        ),
        pytest.param(
            {"writes": {"tuple_keys": [_key("document:1", "owner", "group:eng#member")]}},
            "invalid_tuple",
            None,
            id="type_restriction",
        ),
        pytest.param(
            {"writes": {"tuple_keys": [_key("document:1", "viewer", "document:1#viewer")]}},
            "invalid_tuple",
            None,
            id="implicit_tuple",
        ),
        pytest.param(
            {
                "writes": {
                    "tuple_keys": [
                        _key(
                            "document:1",
                            "limited",
                            "user:anne",
                            condition={"name": "small", "context": {"x": "three"}},
                        )
                    ]
                }
            },
            "invalid_tuple",
            "Invalid tuple 'document:1#limited@user:anne'. Reason: parameter type error on "
            "condition 'small' - failed to convert context parameter 'x': expected a int64 value, "
            "but found invalid string value 'three'",
            id="context_of_wrong_type",
        ),
        pytest.param(
            {
                "writes": {"tuple_keys": [_key("document:1", "viewer", "user:anne")]},
                "authorization_model_id": "bad",
            },
            "validation_error",
            None,
            id="malformed_model_id",
        ),
        pytest.param(
            {
                "writes": {"tuple_keys": [_key("document:1", "viewer", "user:anne")]},
                "authorization_model_id": MISSING,
            },
            "authorization_model_not_found",
            None,
            id="unknown_model_id",
        ),
        pytest.param(
            {"writes": {"tuple_keys": [{"object": "document:1", "relation": "viewer"}]}},
            "validation_error",
            None,
            id="missing_user",
        ),
    ],
)
async def test_write_errors(
    client: AsyncTestClient[Any],
    store_id: str,
    model_id: str,
    body: dict[str, Any],
    code: str,
    message: str | None,
) -> None:
    response = await client.post(f"/stores/{store_id}/write", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code
    if message is not None:
        assert response.json()["message"] == message


async def test_write_existing_tuple_is_write_failed_due_to_invalid_input(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    await write_tuples(client, store_id, ("document:1", "viewer", "user:anne"))
    again = await client.post(
        f"/stores/{store_id}/write",
        json={"writes": {"tuple_keys": [_key("document:1", "viewer", "user:anne")]}},
    )
    assert again.status_code == 400
    assert again.json()["code"] == "write_failed_due_to_invalid_input"
    assert again.json()["message"].startswith("cannot write a tuple which already exists")
    ignored = await client.post(
        f"/stores/{store_id}/write",
        json={
            "writes": {
                "tuple_keys": [_key("document:1", "viewer", "user:anne")],
                "on_duplicate": "ignore",
            }
        },
    )
    assert ignored.status_code == 200


async def test_delete_missing_tuple_errors_unless_ignored(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    body: dict[str, Any] = {"deletes": {"tuple_keys": [_key("document:1", "viewer", "user:anne")]}}
    missing = await client.post(f"/stores/{store_id}/write", json=body)
    assert missing.status_code == 400
    assert missing.json()["code"] == "write_failed_due_to_invalid_input"
    body["deletes"]["on_missing"] = "ignore"
    assert (await client.post(f"/stores/{store_id}/write", json=body)).status_code == 200


async def test_condition_conflict_is_409_aborted(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    first = _key(
        "document:1", "limited", "user:anne", condition={"name": "small", "context": {"x": 1}}
    )
    await client.post(f"/stores/{store_id}/write", json={"writes": {"tuple_keys": [first]}})
    second = _key(
        "document:1", "limited", "user:anne", condition={"name": "small", "context": {"x": 2}}
    )
    response = await client.post(
        f"/stores/{store_id}/write",
        json={"writes": {"tuple_keys": [second], "on_duplicate": "ignore"}},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "Aborted"


async def test_write_without_model_is_latest_model_not_found(
    client: AsyncTestClient[Any], store_id: str
) -> None:
    response = await client.post(
        f"/stores/{store_id}/write",
        json={"writes": {"tuple_keys": [_key("document:1", "viewer", "user:anne")]}},
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "latest_authorization_model_not_found",
        "message": f"No authorization models found for store '{store_id}'",
    }


async def test_write_to_unknown_store_is_404(client: AsyncTestClient[Any]) -> None:
    response = await client.post(
        f"/stores/{MISSING}/write",
        json={"writes": {"tuple_keys": [_key("document:1", "viewer", "user:anne")]}},
    )
    assert response.status_code == 404
    assert response.json()["code"] == "store_id_not_found"


async def test_read_filters_and_pages(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    await write_tuples(
        client,
        store_id,
        ("document:1", "viewer", "user:anne"),
        ("document:2", "viewer", "user:anne"),
        ("document:2", "owner", "user:bob"),
    )
    by_user = await client.post(
        f"/stores/{store_id}/read", json={"tuple_key": {"object": "document:", "user": "user:anne"}}
    )
    assert [t["key"]["object"] for t in by_user.json()["tuples"]] == ["document:1", "document:2"]
    by_object = await client.post(
        f"/stores/{store_id}/read",
        json={"tuple_key": {"object": "document:2", "relation": "owner"}},
    )
    assert [t["key"]["user"] for t in by_object.json()["tuples"]] == ["user:bob"]
    page = (
        await client.post(
            f"/stores/{store_id}/read", json={"page_size": "2", "continuation_token": ""}
        )
    ).json()
    assert len(page["tuples"]) == 2 and page["continuation_token"]
    rest = (
        await client.post(
            f"/stores/{store_id}/read", json={"continuation_token": page["continuation_token"]}
        )
    ).json()
    assert len(rest["tuples"]) == 1 and rest["continuation_token"] == ""


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param(
            {"tuple_key": {"object": "document:"}}, "validation_error", id="type_only_without_user"
        ),
        pytest.param(
            {"tuple_key": {"relation": "viewer"}}, "validation_error", id="no_object_type"
        ),
        pytest.param({"page_size": 101}, "page_size_invalid", id="page_size_too_big"),
        pytest.param({"page_size": "ten"}, "page_size_invalid", id="page_size_not_a_number"),
        pytest.param({"page_size": 1.5}, "validation_error", id="page_size_float"),
        pytest.param({"continuation_token": "bogus"}, "invalid_continuation_token", id="bad_token"),
        pytest.param({"consistency": "SOMETIMES"}, "validation_error", id="bad_consistency"),
        pytest.param(
            {"consistency_token": "v1.bogus"}, "validation_error", id="bad_consistency_token"
        ),
    ],
)
async def test_read_errors(
    client: AsyncTestClient[Any], store_id: str, model_id: str, body: dict[str, Any], code: str
) -> None:
    response = await client.post(f"/stores/{store_id}/read", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code


async def test_read_accepts_consistency_and_own_token(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    written = await client.post(
        f"/stores/{store_id}/write",
        json={"writes": {"tuple_keys": [_key("document:1", "viewer", "user:anne")]}},
    )
    token = written.headers["x-permsvc-consistency-token"]
    for consistency in ("HIGHER_CONSISTENCY", "MINIMIZE_LATENCY", "UNSPECIFIED", 200):
        response = await client.post(
            f"/stores/{store_id}/read",
            json={"consistency": consistency, "consistency_token": token},
        )
        assert response.status_code == 200, response.text
        assert len(response.json()["tuples"]) == 1


async def test_token_of_another_store_is_rejected(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    other = (await client.post("/stores", json={"name": "other"})).json()["id"]
    written = await client.post(
        f"/stores/{store_id}/write",
        json={"writes": {"tuple_keys": [_key("document:1", "viewer", "user:anne")]}},
    )
    response = await client.post(
        f"/stores/{other}/read",
        json={"consistency_token": written.headers["x-permsvc-consistency-token"]},
    )
    assert response.status_code == 400
    assert "another store" in response.json()["message"]


async def test_read_changes_follows_tokens(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    await write_tuples(
        client, store_id, ("document:1", "viewer", "user:anne"), ("group:eng", "member", "user:bob")
    )
    await client.post(
        f"/stores/{store_id}/write",
        json={"deletes": {"tuple_keys": [_key("document:1", "viewer", "user:anne")]}},
    )
    first = (
        await client.get(f"/stores/{store_id}/changes", params={"type": "document", "page_size": 1})
    ).json()
    assert [c["operation"] for c in first["changes"]] == ["TUPLE_OPERATION_WRITE"]
    assert first["changes"][0]["tuple_key"]["object"] == "document:1"
    second = (
        await client.get(
            f"/stores/{store_id}/changes",
            params={"type": "document", "continuation_token": first["continuation_token"]},
        )
    ).json()
    assert [c["operation"] for c in second["changes"]] == ["TUPLE_OPERATION_DELETE"]
    idle = (
        await client.get(
            f"/stores/{store_id}/changes",
            params={"type": "document", "continuation_token": second["continuation_token"]},
        )
    ).json()
    assert idle == {"changes": [], "continuation_token": second["continuation_token"]}
    everything = (
        await client.get(f"/stores/{store_id}/changes?type=&page_size=&continuation_token=")
    ).json()
    assert len(everything["changes"]) == 3


@pytest.mark.parametrize(
    ("params", "code"),
    [
        pytest.param({"page_size": "0"}, "page_size_invalid", id="page_size_zero"),
        pytest.param({"start_time": "yesterday"}, "validation_error", id="start_time_not_rfc3339"),
        pytest.param(
            {"start_time": "2999-01-01T00:00:00Z"}, "invalid_start_time", id="start_time_in_future"
        ),
        pytest.param({"type": "doc#x"}, "validation_error", id="bad_type"),
        pytest.param({"continuation_token": "nope"}, "invalid_continuation_token", id="bad_token"),
    ],
)
async def test_read_changes_errors(
    client: AsyncTestClient[Any], store_id: str, model_id: str, params: dict[str, str], code: str
) -> None:
    response = await client.get(f"/stores/{store_id}/changes", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code


async def test_read_changes_token_type_mismatch(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    await write_tuples(client, store_id, ("document:1", "viewer", "user:anne"))
    token = (await client.get(f"/stores/{store_id}/changes", params={"type": "document"})).json()[
        "continuation_token"
    ]
    response = await client.get(
        f"/stores/{store_id}/changes", params={"type": "group", "continuation_token": token}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_continuation_token"
