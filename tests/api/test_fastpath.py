"""The plain-ASGI Check fast path answers exactly as the framework route does."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from permsvc.core.revision import encode_token
from tests.api.conftest import make_settings, write_tuples

MISSING = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
_COMPARED_HEADERS = (
    "content-type",
    "openfga-authorization-model-id",
    "x-permsvc-revision",
    "www-authenticate",
)


def _check(
    user: str = "user:anne", relation: str = "viewer", obj: str = "document:1", **extra: Any
) -> dict[str, Any]:
    return {"tuple_key": {"user": user, "relation": relation, "object": obj}, **extra}


async def _both(client: AsyncTestClient[Any], store: str, **kwargs: Any) -> tuple[Any, Any]:
    """The same request through the fast path (``/check``) and the framework route (``/check/``)."""
    fast = await client.post(f"/stores/{store}/check", **kwargs)
    framework = await client.post(f"/stores/{store}/check/", **kwargs)
    return fast, framework


def _same(fast: Any, framework: Any) -> None:
    assert fast.status_code == framework.status_code, (fast.text, framework.text)
    assert fast.content == framework.content
    for name in _COMPARED_HEADERS:
        assert fast.headers.get(name) == framework.headers.get(name), name


@pytest.fixture
async def seeded(client: AsyncTestClient[Any], store_id: str, model_id: str) -> str:
    await write_tuples(client, store_id, ("document:1", "owner", "user:anne"))
    return store_id


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(_check(), id="allowed"),
        pytest.param(_check(user="user:bob"), id="denied"),
        pytest.param(
            _check(consistency="HIGHER_CONSISTENCY", authorization_model_id=""), id="cli_shape"
        ),
        pytest.param(_check(relation="nope"), id="unknown_relation"),
        pytest.param(_check(user="anne"), id="malformed_user"),
        pytest.param({}, id="no_tuple_key"),
        pytest.param(_check(authorization_model_id=MISSING), id="unknown_model"),
        pytest.param(_check(consistency="SOMETIMES"), id="bad_consistency"),
        pytest.param(_check(consistency_token="v1.garbage"), id="bad_token"),
        pytest.param(
            _check(
                contextual_tuples={
                    "tuple_keys": [{"user": "user:x", "relation": "nope", "object": "document:1"}]
                }
            ),
            id="bad_contextual",
        ),
    ],
)
async def test_fast_path_matches_framework_route(
    client: AsyncTestClient[Any], seeded: str, body: Any
) -> None:
    _same(*await _both(client, seeded, json=body))


@pytest.mark.parametrize(
    "content",
    [b"{", b"[]", b"", b'{"tuple_key": 1}'],
    ids=["truncated", "array", "empty", "wrong_type"],
)
async def test_fast_path_matches_on_malformed_bodies(
    client: AsyncTestClient[Any], seeded: str, content: bytes
) -> None:
    _same(*await _both(client, seeded, content=content))


@pytest.mark.parametrize(
    "store", [MISSING, "not-a-store"], ids=["unknown_store", "malformed_store"]
)
async def test_fast_path_matches_on_bad_stores(client: AsyncTestClient[Any], store: str) -> None:
    _same(*await _both(client, store, json=_check()))


async def test_fast_path_reads_own_writes_with_a_token(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    written = await client.post(
        f"/stores/{store_id}/write",
        json={
            "writes": {
                "tuple_keys": [{"user": "user:zed", "relation": "owner", "object": "document:5"}]
            }
        },
    )
    token = written.headers["x-permsvc-consistency-token"]
    response = await client.post(
        f"/stores/{store_id}/check",
        json=_check("user:zed", obj="document:5", consistency_token=token),
    )
    assert response.json() == {"allowed": True, "resolution": ""}
    ahead = await client.post(
        f"/stores/{store_id}/check", json=_check(consistency_token=encode_token(store_id, 50))
    )
    assert ahead.status_code == 400 and ahead.json()["code"] == "validation_error"


async def test_fast_path_body_limit() -> None:
    async with AsyncTestClient(create_app(make_settings(max_body_bytes=2048))) as client:
        store = (await client.post("/stores", json={"name": "limits"})).json()["id"]
        big = b'{"context":{"pad":"' + b"x" * 4096 + b'"}}'
        declared = await client.post(f"/stores/{store}/check", content=big)
        assert declared.status_code == 413 and declared.json()["code"] == "resource_exhausted"


async def test_fast_path_body_limit_without_content_length() -> None:
    from permsvc.api.errors import ApiError
    from permsvc.api.openfga.fastpath import _read_body

    messages = iter([{"type": "http.request", "body": b" " * 1000, "more_body": True}] * 5)

    async def receive() -> Any:
        return next(messages)

    with pytest.raises(ApiError) as refused:
        await _read_body([], receive, 2048)
    assert refused.value.status == 413

    parts = iter(
        [
            {"type": "http.request", "body": b"{}", "more_body": True},
            {"type": "http.request", "body": b""},
        ]
    )

    async def receive_small() -> Any:
        return next(parts)

    assert await _read_body([], receive_small, 2048) == b"{}"


async def test_fast_path_authenticates() -> None:
    settings = make_settings(auth_method="preshared", api_keys=("right-key",))
    async with AsyncTestClient(create_app(settings)) as client:
        store = (
            await client.post(
                "/stores", json={"name": "auth"}, headers={"Authorization": "Bearer right-key"}
            )
        ).json()
        missing, framework = await _both(client, store["id"], json=_check())
        _same(missing, framework)
        assert missing.status_code == 401 and missing.json()["code"] == "unauthenticated"
        wrong = await client.post(
            f"/stores/{store['id']}/check", json=_check(), headers={"Authorization": "Bearer no"}
        )
        assert wrong.status_code == 401 and "invalid_token" in wrong.headers["www-authenticate"]
        allowed = await client.post(
            f"/stores/{store['id']}/check",
            json=_check(),
            headers={"Authorization": "Bearer right-key"},
        )
        assert (
            allowed.status_code == 400
            and allowed.json()["code"] == "latest_authorization_model_not_found"
        )


async def test_fast_path_fault_is_generic_500_logged(caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(make_settings())
    async with AsyncTestClient(app) as client:
        store = (await client.post("/stores", json={"name": "fault"})).json()["id"]

        class _Broken:
            async def resolve(self, store_id: str, model_id: str = "") -> Any:
                raise RuntimeError("secret detail")

        from permsvc.api.openfga.routes import services_of

        services = services_of(app.state)
        services.check._resolver = _Broken()  # fault injection into the command's model resolver
        with caplog.at_level(logging.ERROR, logger="permsvc.api"):
            response = await client.post(
                f"/stores/{store}/check", json=_check(), headers={"X-Request-ID": "f-1"}
            )
    assert response.status_code == 500
    assert response.json() == {"code": "internal_error", "message": "Internal Server Error"}
    assert response.headers["x-request-id"] == "f-1"
    assert caplog.records[-1].fields == {"request_id": "f-1"}  # type: ignore[attr-defined]


async def test_other_methods_and_paths_go_to_the_framework(
    client: AsyncTestClient[Any], store_id: str
) -> None:
    assert (await client.get(f"/stores/{store_id}/check")).status_code == 405
    assert (await client.post(f"/stores/{store_id}/x/check", json=_check())).status_code == 404
