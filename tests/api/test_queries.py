"""Check, BatchCheck, Expand, ListObjects, StreamedListObjects and ListUsers over HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.api.conftest import write_tuples

MISSING = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


@pytest.fixture
async def seeded(client: AsyncTestClient[Any], store_id: str, model_id: str) -> str:
    await write_tuples(
        client,
        store_id,
        ("document:1", "owner", "user:anne"),
        ("document:2", "viewer", "group:eng#member"),
        ("group:eng", "member", "user:bob"),
        ("document:3", "viewer", "user:*"),
    )
    return store_id


def _check(user: str, relation: str, obj: str, **extra: Any) -> dict[str, Any]:
    return {"tuple_key": {"user": user, "relation": relation, "object": obj}, **extra}


@pytest.mark.parametrize(
    ("user", "relation", "obj", "allowed"),
    [
        pytest.param("user:anne", "viewer", "document:1", True, id="computed_from_owner"),
        pytest.param("user:bob", "viewer", "document:2", True, id="through_group"),
        pytest.param("user:carol", "viewer", "document:2", False, id="not_a_member"),
        pytest.param("user:carol", "viewer", "document:3", True, id="wildcard"),
        pytest.param("group:eng#member", "viewer", "document:2", True, id="userset_user"),
    ],
)
async def test_check(
    client: AsyncTestClient[Any],
    seeded: str,
    model_id: str,
    user: str,
    relation: str,
    obj: str,
    allowed: bool,
) -> None:
    response = await client.post(f"/stores/{seeded}/check", json=_check(user, relation, obj))
    assert response.status_code == 200
    assert response.json() == {"allowed": allowed, "resolution": ""}
    assert response.headers["openfga-authorization-model-id"] == model_id
    assert response.headers["x-permsvc-revision"] == "1"


async def test_check_accepts_what_the_fga_cli_sends(
    client: AsyncTestClient[Any], seeded: str
) -> None:
    body = _check(
        "user:anne",
        "viewer",
        "document:1",
        authorization_model_id="",
        contextual_tuples={"tuple_keys": None},
        context={},
        consistency="HIGHER_CONSISTENCY",
        unknown_field=1,
    )
    response = await client.post(f"/stores/{seeded}/check", json=body)
    assert response.status_code == 200 and response.json()["allowed"] is True


async def test_check_with_contextual_tuples_and_conditions(
    client: AsyncTestClient[Any], seeded: str
) -> None:
    ctx = {"tuple_keys": [{"user": "user:dave", "relation": "member", "object": "group:eng"}]}
    response = await client.post(
        f"/stores/{seeded}/check",
        json=_check("user:dave", "viewer", "document:2", contextual_tuples=ctx),
    )
    assert response.json()["allowed"] is True
    key = {
        "user": "user:anne",
        "relation": "limited",
        "object": "document:9",
        "condition": {"name": "small"},
    }
    await client.post(f"/stores/{seeded}/write", json={"writes": {"tuple_keys": [key]}})
    small = await client.post(
        f"/stores/{seeded}/check",
        json=_check("user:anne", "limited", "document:9", context={"x": 3}),
    )
    assert small.json()["allowed"] is True
    big = await client.post(
        f"/stores/{seeded}/check",
        json=_check("user:anne", "limited", "document:9", context={"x": 30}),
    )
    assert big.json()["allowed"] is False
    missing = await client.post(
        f"/stores/{seeded}/check", json=_check("user:anne", "limited", "document:9")
    )
    assert missing.status_code == 400 and missing.json()["code"] == "validation_error"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param({}, 400, "validation_error", id="no_tuple_key"),
        pytest.param(
            _check("user:anne", "nope", "document:1"),
            400,
            "validation_error",
            id="unknown_relation",
        ),
        pytest.param(
            _check("user:anne", "viewer", "folder:1"), 400, "validation_error", id="unknown_type"
        ),
        pytest.param(
            _check("anne", "viewer", "document:1"), 400, "validation_error", id="malformed_user"
        ),
        pytest.param(
            _check("user:anne", "viewer", "document:1", authorization_model_id=MISSING),
            400,
            "authorization_model_not_found",
            id="unknown_model",
        ),
        pytest.param(
            _check("user:anne", "viewer", "document:1", authorization_model_id="x"),
            400,
            "validation_error",
            id="malformed_model_id",
        ),
        pytest.param(
            _check("user:anne", "viewer", "document:1", consistency=7),
            400,
            "validation_error",
            id="bad_consistency_number",
        ),
        pytest.param(
            _check("user:anne", "viewer", "document:1", context=[1]),
            400,
            "validation_error",
            id="context_not_object",
        ),
        pytest.param(
            _check(
                "user:anne",
                "viewer",
                "document:1",
                contextual_tuples={
                    "tuple_keys": [{"user": "user:x", "relation": "nope", "object": "document:1"}]
                },
            ),
            400,
            "invalid_tuple",
            id="bad_contextual_tuple",
        ),
        pytest.param(
            _check(
                "user:anne",
                "viewer",
                "document:1",
                contextual_tuples={
                    "tuple_keys": [
                        {"user": f"user:{i}", "relation": "owner", "object": "document:1"}
                        for i in range(101)
                    ]
                },
            ),
            400,
            "exceeded_entity_limit",
            id="too_many_contextual_tuples",
        ),
    ],
)
async def test_check_errors(
    client: AsyncTestClient[Any], seeded: str, body: dict[str, Any], status: int, code: str
) -> None:
    response = await client.post(f"/stores/{seeded}/check", json=body)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


async def test_check_unknown_store_is_404(client: AsyncTestClient[Any]) -> None:
    response = await client.post(
        f"/stores/{MISSING}/check", json=_check("user:anne", "viewer", "document:1")
    )
    assert response.status_code == 404 and response.json()["code"] == "store_id_not_found"


async def test_check_without_model_is_latest_model_not_found(
    client: AsyncTestClient[Any], store_id: str
) -> None:
    response = await client.post(
        f"/stores/{store_id}/check", json=_check("user:anne", "viewer", "document:1")
    )
    assert (
        response.status_code == 400
        and response.json()["code"] == "latest_authorization_model_not_found"
    )


async def test_batch_check_results_keyed_by_correlation_id(
    client: AsyncTestClient[Any], seeded: str, model_id: str
) -> None:
    body = {
        "checks": [
            {**_check("user:anne", "viewer", "document:1"), "correlation_id": "a-1"},
            {**_check("user:carol", "viewer", "document:1"), "correlation_id": "b"},
            {**_check("user:anne", "nope", "document:1"), "correlation_id": "c"},
        ]
    }
    response = await client.post(f"/stores/{seeded}/batch-check", json=body)
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["a-1"] == {"allowed": True}
    assert result["b"] == {"allowed": False}
    assert result["c"]["error"]["input_error"] == "validation_error"
    assert "nope" in result["c"]["error"]["message"]
    assert response.headers["openfga-authorization-model-id"] == model_id


@pytest.mark.parametrize(
    "checks",
    [
        pytest.param([], id="empty"),
        pytest.param(
            [
                {**_check("user:anne", "viewer", "document:1"), "correlation_id": str(i)}
                for i in range(51)
            ],
            id="more_than_50",
        ),
        pytest.param([_check("user:anne", "viewer", "document:1")], id="missing_correlation_id"),
        pytest.param(
            [{**_check("user:anne", "viewer", "document:1"), "correlation_id": "bad id!"}],
            id="bad_correlation_id",
        ),
        pytest.param(
            [{**_check("user:anne", "viewer", "document:1"), "correlation_id": "x"}] * 2,
            id="duplicate_correlation_id",
        ),
    ],
)
async def test_batch_check_request_errors(
    client: AsyncTestClient[Any], seeded: str, checks: list[Any]
) -> None:
    response = await client.post(f"/stores/{seeded}/batch-check", json={"checks": checks})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"


async def test_expand(client: AsyncTestClient[Any], seeded: str) -> None:
    response = await client.post(
        f"/stores/{seeded}/expand",
        json={"tuple_key": {"object": "document:2", "relation": "viewer"}},
    )
    assert response.status_code == 200, response.text
    root = response.json()["tree"]["root"]
    assert root["name"] == "document:2#viewer"
    assert "union" in root


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="no_tuple_key"),
        pytest.param({"tuple_key": {"object": "document:2"}}, id="no_relation"),
        pytest.param(
            {"tuple_key": {"object": "document:2", "relation": "nope"}}, id="unknown_relation"
        ),
    ],
)
async def test_expand_errors(
    client: AsyncTestClient[Any], seeded: str, body: dict[str, Any]
) -> None:
    response = await client.post(f"/stores/{seeded}/expand", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] in {"validation_error", "relation_not_found"}


async def test_list_objects(client: AsyncTestClient[Any], seeded: str) -> None:
    response = await client.post(
        f"/stores/{seeded}/list-objects",
        json={"type": "document", "relation": "viewer", "user": "user:bob"},
    )
    assert response.status_code == 200
    assert sorted(response.json()["objects"]) == ["document:2", "document:3"]


async def test_list_objects_pages_with_our_token(client: AsyncTestClient[Any], seeded: str) -> None:
    body: dict[str, Any] = {
        "type": "document",
        "relation": "viewer",
        "user": "user:anne",
        "page_size": 1,
    }
    first = (await client.post(f"/stores/{seeded}/list-objects", json=body)).json()
    assert len(first["objects"]) == 1 and first["continuation_token"]
    rest = (
        await client.post(
            f"/stores/{seeded}/list-objects",
            json={**body, "page_size": None, "continuation_token": first["continuation_token"]},
        )
    ).json()
    assert sorted(first["objects"] + rest["objects"]) == ["document:1", "document:3"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param(
            {"relation": "viewer", "user": "user:bob"}, "type_invalid_pattern", id="no_type"
        ),
        pytest.param(
            {"type": "doc ument", "relation": "viewer", "user": "user:bob"},
            "type_invalid_pattern",
            id="bad_type",
        ),
        pytest.param(
            {"type": "document", "user": "user:bob"}, "validation_error", id="no_relation"
        ),
        pytest.param({"type": "document", "relation": "viewer"}, "validation_error", id="no_user"),
        pytest.param(
            {"type": "folder", "relation": "viewer", "user": "user:bob"},
            "type_not_found",
            id="unknown_type",
        ),
        pytest.param(
            {"type": "document", "relation": "nope", "user": "user:bob"},
            "relation_not_found",
            id="unknown_relation",
        ),
    ],
)
async def test_list_objects_errors(
    client: AsyncTestClient[Any], seeded: str, body: dict[str, Any], code: str
) -> None:
    for path in ("list-objects", "streamed-list-objects"):
        response = await client.post(f"/stores/{seeded}/{path}", json=body)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["code"] == code


async def test_streamed_list_objects_is_ndjson(
    client: AsyncTestClient[Any], seeded: str, model_id: str
) -> None:
    response = await client.post(
        f"/stores/{seeded}/streamed-list-objects",
        json={"type": "document", "relation": "viewer", "user": "user:bob"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert sorted(line["result"]["object"] for line in lines) == ["document:2", "document:3"]
    assert response.headers["openfga-authorization-model-id"] == model_id


async def test_streamed_list_objects_with_no_result_is_empty(
    client: AsyncTestClient[Any], seeded: str
) -> None:
    response = await client.post(
        f"/stores/{seeded}/streamed-list-objects",
        json={"type": "group", "relation": "member", "user": "user:zed"},
    )
    assert response.status_code == 200 and response.text == ""


async def test_list_users_wire_shapes(client: AsyncTestClient[Any], seeded: str) -> None:
    base = {"object": {"type": "document", "id": "2"}, "relation": "viewer"}
    users = await client.post(
        f"/stores/{seeded}/list-users", json={**base, "user_filters": [{"type": "user"}]}
    )
    assert users.status_code == 200, users.text
    assert users.json() == {"users": [{"object": {"type": "user", "id": "bob"}}]}
    sets = await client.post(
        f"/stores/{seeded}/list-users",
        json={**base, "user_filters": [{"type": "group", "relation": "member"}]},
    )
    assert sets.json() == {
        "users": [{"userset": {"type": "group", "id": "eng", "relation": "member"}}]
    }
    wild = await client.post(
        f"/stores/{seeded}/list-users",
        json={
            "object": {"type": "document", "id": "3"},
            "relation": "viewer",
            "user_filters": [{"type": "user"}],
            "contextual_tuples": [
                {"user": "user:erin", "relation": "viewer", "object": "document:3"}
            ],
        },
    )
    assert {"wildcard": {"type": "user"}} in wild.json()["users"]
    assert {"object": {"type": "user", "id": "erin"}} in wild.json()["users"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"relation": "viewer", "user_filters": [{"type": "user"}]}, id="no_object"),
        pytest.param(
            {"object": {"type": "document", "id": "2"}, "relation": "viewer"}, id="no_filters"
        ),
        pytest.param(
            {
                "object": {"type": "document", "id": "2"},
                "relation": "viewer",
                "user_filters": [{"type": "user"}, {"type": "group"}],
            },
            id="two_filters",
        ),
        pytest.param(
            {"object": {"type": "document", "id": "2"}, "user_filters": [{"type": "user"}]},
            id="no_relation",
        ),
    ],
)
async def test_list_users_errors(
    client: AsyncTestClient[Any], seeded: str, body: dict[str, Any]
) -> None:
    response = await client.post(f"/stores/{seeded}/list-users", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"


async def test_check_with_own_write_token_reads_the_write(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    written = await client.post(
        f"/stores/{store_id}/write",
        json={
            "writes": {
                "tuple_keys": [{"user": "user:zoe", "relation": "owner", "object": "document:7"}]
            }
        },
    )
    token = written.headers["x-permsvc-consistency-token"]
    for consistency in ("MINIMIZE_LATENCY", "HIGHER_CONSISTENCY"):
        response = await client.post(
            f"/stores/{store_id}/check",
            json=_check(
                "user:zoe", "viewer", "document:7", consistency=consistency, consistency_token=token
            ),
        )
        assert response.status_code == 200 and response.json()["allowed"] is True
        assert int(response.headers["x-permsvc-revision"]) >= 1


async def test_token_from_the_future_is_rejected(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    from permsvc.core.revision import encode_token

    response = await client.post(
        f"/stores/{store_id}/check",
        json=_check(
            "user:zoe", "viewer", "document:7", consistency_token=encode_token(store_id, 99)
        ),
    )
    assert response.status_code == 400 and response.json()["code"] == "validation_error"
    assert "revision 99" in response.json()["message"]


async def test_streamed_list_objects_reports_a_late_error_as_a_final_line() -> None:
    from permsvc.api.openfga.routes import _ndjson
    from permsvc.engine.errors import ConditionMissingParametersError

    async def objects() -> Any:
        yield "document:2"
        raise ConditionMissingParametersError("small", "document:3#viewer@user:anne", ("x",))

    stream = objects()
    first = await anext(stream)
    lines = [json.loads(chunk) async for chunk in _ndjson(first, stream)]
    assert lines[0] == {"result": {"object": "document:2"}}
    assert lines[1]["error"]["code"] == 2000 and "small" in lines[1]["error"]["message"]
    assert lines[1]["error"]["details"] == []


async def test_streamed_list_objects_fault_mid_stream_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    from permsvc.api.openfga.routes import _ndjson

    async def objects() -> Any:
        yield "document:2"
        raise RuntimeError("bug")

    stream = objects()
    first = await anext(stream)
    with caplog.at_level(logging.ERROR, logger="permsvc.api"):
        lines = [json.loads(chunk) async for chunk in _ndjson(first, stream, "req-9")]
    assert lines[1] == {"error": {"code": 4000, "message": "Internal Server Error", "details": []}}
    assert caplog.records[-1].fields == {"request_id": "req-9"}  # type: ignore[attr-defined]
