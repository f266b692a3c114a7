"""Cross-cutting HTTP behaviour: error format, request ids, body limits, auth, health, metrics, docs."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from tests.api.conftest import make_settings, write_tuples

MISSING = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
_HEX_ID = re.compile(r"^[0-9a-f]{32}$")


async def test_unknown_route_is_json_404(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/no/such/route")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"code": "undefined_endpoint", "message": "Not Found"}


async def test_wrong_method_is_json_405(client: AsyncTestClient[Any], store_id: str) -> None:
    response = await client.get(f"/stores/{store_id}/check")
    assert response.status_code == 405
    assert response.json()["code"] == "undefined_endpoint"
    assert "POST" in response.headers["allow"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{", id="truncated"),
        pytest.param(b"[]", id="array"),
        pytest.param(b"null", id="null"),
        pytest.param(b"\xff\xfe", id="not_utf8"),
        pytest.param(b'{"tuple_key": "user:anne"}', id="wrong_type"),
        pytest.param(
            b'{"context":' + b'{"a":' * 20000 + b"1" + b"}" * 20001, id="nested_too_deeply"
        ),
    ],
)
async def test_bad_json_is_400_validation_error(
    client: AsyncTestClient[Any], store_id: str, body: bytes
) -> None:
    response = await client.post(f"/stores/{store_id}/check", content=body)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert response.json()["message"].startswith("invalid CheckRequest")


async def test_oversized_body_is_413_json() -> None:
    async with AsyncTestClient(create_app(make_settings(max_body_bytes=2048))) as client:
        response = await client.post("/stores", content=b'{"name":"' + b"x" * 4096 + b'"}')
        assert response.status_code == 413
        assert response.json()["code"] == "resource_exhausted"
        assert _HEX_ID.match(response.headers["x-request-id"])


async def test_request_id_is_echoed_or_generated(client: AsyncTestClient[Any]) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-ID": "trace-123"})
    assert echoed.headers["x-request-id"] == "trace-123"
    generated = await client.get("/healthz")
    assert _HEX_ID.match(generated.headers["x-request-id"])
    spaced = await client.get("/healthz", headers={"X-Request-ID": "trace 42\twith | odd; chars"})
    assert spaced.headers["x-request-id"] == "trace 42\twith | odd; chars"
    long_id = "x" * 1024
    assert (await client.get("/healthz", headers={"X-Request-ID": long_id})).headers[
        "x-request-id"
    ] == long_id
    unsafe = await client.get("/healthz", headers={"X-Request-ID": "x" * 1025})
    assert _HEX_ID.match(unsafe.headers["x-request-id"])
    non_ascii = await client.get("/healthz", headers={"X-Request-ID": "caf\u00e9".encode()})
    assert _HEX_ID.match(non_ascii.headers["x-request-id"])
    for response in (await client.get("/nope"), await client.post("/stores", content=b"{")):
        assert _HEX_ID.match(response.headers["x-request-id"])


class _BrokenDatastore:
    """Fault injection: every store lookup fails like a bug would."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def get_store(self, store_id: str) -> Any:
        raise RuntimeError("disk on fire: secret detail")

    async def is_ready(self) -> bool:
        return False


async def test_server_fault_is_generic_500_logged_with_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(make_settings())
    async with AsyncTestClient(app) as client:
        deps = app.state.deps
        deps.datastore = _BrokenDatastore(deps.datastore)
        with caplog.at_level(logging.ERROR, logger="permsvc.api"):
            response = await client.get(f"/stores/{MISSING}", headers={"X-Request-ID": "fault-1"})
        assert response.status_code == 500
        assert response.json() == {"code": "internal_error", "message": "Internal Server Error"}
        assert "secret" not in response.text
        records = [r for r in caplog.records if r.name == "permsvc.api"]
        assert records and records[-1].fields["request_id"] == "fault-1"  # type: ignore[attr-defined]
        assert records[-1].exc_info is not None
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["code"] == "unavailable"


async def test_health_and_readiness(client: AsyncTestClient[Any]) -> None:
    assert (await client.get("/healthz")).json() == {"status": "SERVING"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "READY"}


async def test_metrics_count_requests_decisions_and_errors(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    await write_tuples(client, store_id, ("document:1", "viewer", "user:anne"))
    check = {"tuple_key": {"user": "user:anne", "relation": "viewer", "object": "document:1"}}
    await client.post(f"/stores/{store_id}/check", json=check)
    await client.get(f"/stores/{MISSING}")
    text = (await client.get("/metrics")).text
    assert (
        'permsvc_http_requests_total{method="POST",route="/stores/{store_id}/check",status="200"} 1.0'
        in text
    )
    assert (
        'permsvc_http_request_duration_seconds_bucket{le="0.5",method="POST",route="/stores/{store_id}/check"}'
        in text
    )
    assert 'permsvc_decisions_total{allowed="true",api="check"} 1.0' in text
    assert 'permsvc_errors_total{code="store_id_not_found"} 1.0' in text


async def test_openapi_document_lists_every_openfga_operation(client: AsyncTestClient[Any]) -> None:
    doc = (await client.get("/openapi.json")).json()
    operations = {
        op["operationId"]
        for path in doc["paths"].values()
        for op in path.values()
        if "operationId" in op
    }
    assert operations >= {
        "ListStores",
        "CreateStore",
        "GetStore",
        "DeleteStore",
        "ReadAuthorizationModels",
        "WriteAuthorizationModel",
        "ReadAuthorizationModel",
        "Write",
        "Read",
        "ReadChanges",
        "Check",
        "BatchCheck",
        "Expand",
        "ListObjects",
        "StreamedListObjects",
        "ListUsers",
        "ReadAssertions",
        "WriteAssertions",
    }
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "html" in docs.headers["content-type"]


async def test_access_log_is_one_json_line_per_request(capfd: pytest.CaptureFixture[str]) -> None:
    async with AsyncTestClient(create_app(make_settings(access_log=True))) as client:
        await client.get("/healthz", headers={"X-Request-ID": "log-me"})
        await client.get("/nope")
    lines = [
        json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")
    ]
    access = [line for line in lines if line.get("logger") == "permsvc.access"]
    assert [(a["request_id"], a["route"], a["status"]) for a in access[:1]] == [
        ("log-me", "/healthz", 200)
    ]
    assert (
        access[1]["route"] == "unmatched"
        and access[1]["status"] == 404
        and _HEX_ID.match(access[1]["request_id"])
    )
    assert (
        access[0]["level"] == "info"
        and access[0]["msg"] == "request"
        and access[0]["ts"].endswith("Z")
    )
    assert access[0]["method"] == "GET" and access[0]["duration_ms"] >= 0


def test_json_formatter_shape() -> None:
    from permsvc.api.ops import JsonFormatter

    record = logging.LogRecord("permsvc.api", logging.ERROR, __file__, 1, "boom %s", ("x",), None)
    record.fields = {"request_id": "r-1"}
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "boom x" and line["level"] == "error" and line["request_id"] == "r-1"
    assert line["logger"] == "permsvc.api" and line["ts"].endswith("Z")


class TestPresharedKeys:
    @pytest.fixture
    async def secured(self) -> Any:
        settings = make_settings(auth_method="preshared", api_keys=("first-key", "second-key"))
        async with AsyncTestClient(create_app(settings)) as client:
            yield client

    async def test_missing_key_is_401_with_challenge(self, secured: AsyncTestClient[Any]) -> None:
        response = await secured.get("/stores")
        assert response.status_code == 401
        assert response.json() == {
            "code": "unauthenticated",
            "message": "no credential: send 'Authorization: Bearer <API key or access token>'",
        }
        assert response.headers["www-authenticate"].startswith("Bearer")

    async def test_wrong_key_is_401(self, secured: AsyncTestClient[Any]) -> None:
        response = await secured.get("/stores", headers={"Authorization": "Bearer nope"})
        assert response.status_code == 401
        assert response.json()["code"] == "unauthenticated"
        assert 'error="invalid_token"' in response.headers["www-authenticate"]

    @pytest.mark.parametrize("key", ["first-key", "second-key"])
    async def test_any_configured_key_is_accepted(
        self, secured: AsyncTestClient[Any], key: str
    ) -> None:
        response = await secured.get("/stores", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200

    async def test_operations_endpoints_need_no_key(self, secured: AsyncTestClient[Any]) -> None:
        for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
            assert (await secured.get(path)).status_code == 200, path

    async def test_no_auth_method_accepts_anyone(self, client: AsyncTestClient[Any]) -> None:
        assert (await client.get("/stores")).status_code == 200


_STORE_SCOPED = [
    ("GET", "/stores/{s}", None),
    ("GET", "/stores/{s}/authorization-models", None),
    (
        "POST",
        "/stores/{s}/authorization-models",
        {"schema_version": "1.1", "type_definitions": [{"type": "user"}]},
    ),
    ("GET", "/stores/{s}/authorization-models/01ARZ3NDEKTSV4RRFFQ69G5FAW", None),
    (
        "POST",
        "/stores/{s}/write",
        {"writes": {"tuple_keys": [{"user": "user:a", "relation": "r", "object": "d:1"}]}},
    ),
    ("POST", "/stores/{s}/read", {}),
    ("GET", "/stores/{s}/changes", None),
    (
        "POST",
        "/stores/{s}/check",
        {"tuple_key": {"user": "user:a", "relation": "r", "object": "d:1"}},
    ),
    (
        "POST",
        "/stores/{s}/batch-check",
        {
            "checks": [
                {
                    "tuple_key": {"user": "user:a", "relation": "r", "object": "d:1"},
                    "correlation_id": "x",
                }
            ]
        },
    ),
    ("POST", "/stores/{s}/expand", {"tuple_key": {"relation": "r", "object": "d:1"}}),
    ("POST", "/stores/{s}/list-objects", {"type": "d", "relation": "r", "user": "user:a"}),
    ("POST", "/stores/{s}/streamed-list-objects", {"type": "d", "relation": "r", "user": "user:a"}),
    (
        "POST",
        "/stores/{s}/list-users",
        {"object": {"type": "d", "id": "1"}, "relation": "r", "user_filters": [{"type": "user"}]},
    ),
    ("GET", "/stores/{s}/assertions/01ARZ3NDEKTSV4RRFFQ69G5FAW", None),
    ("PUT", "/stores/{s}/assertions/01ARZ3NDEKTSV4RRFFQ69G5FAW", {"assertions": []}),
]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    _STORE_SCOPED,
    ids=[f"{m}_{p[10:] or 'store'}" for m, p, _ in _STORE_SCOPED],
)
async def test_every_store_route_answers_unknown_and_malformed_store_ids(
    client: AsyncTestClient[Any], method: str, path: str, body: Any
) -> None:
    missing = await client.request(method, path.format(s=MISSING), json=body)
    assert missing.status_code == 404, missing.text
    assert missing.json() == {"code": "store_id_not_found", "message": "Store ID not found"}
    malformed = await client.request(method, path.format(s="not-a-store-id"), json=body)
    assert malformed.status_code == 400, malformed.text
    assert (
        malformed.json()["code"] == "validation_error" and "StoreId" in malformed.json()["message"]
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [
        pytest.param("validation_error", 400, id="validation_error"),
        pytest.param("store_id_not_found", 404, id="store_id_not_found"),
        pytest.param("undefined_endpoint", 404, id="undefined_endpoint"),
        pytest.param("unauthenticated", 401, id="unauthenticated"),
        pytest.param("throttled_timeout_error", 422, id="throttled"),
        pytest.param("internal_error", 500, id="internal_error"),
        pytest.param("Aborted", 409, id="aborted"),
        pytest.param("deadline_exceeded", 504, id="deadline_exceeded"),
        pytest.param("resource_exhausted", 422, id="dispatch_limit"),
    ],
)
def test_status_for_code_follows_openfga(code: str, status: int) -> None:
    from permsvc.api.errors import status_for_code

    assert status_for_code(code) == status


def test_engine_budget_errors_are_not_500() -> None:
    from permsvc.api.errors import translate
    from permsvc.engine.errors import (
        DeadlineExceededError,
        DispatchLimitExceededError,
        ResolutionDepthExceededError,
    )

    assert translate(DeadlineExceededError(3.0))[0] == 504
    assert translate(DispatchLimitExceededError(10))[0] == 422
    status, body, _ = translate(ResolutionDepthExceededError(25))
    assert (status, body.code) == (400, "authorization_model_resolution_too_complex")
