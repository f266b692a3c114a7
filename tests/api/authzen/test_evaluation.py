"""Access Evaluation (POST .../access/v1/evaluation) in-process, at the default-store and the
store-scoped paths: the mapping, ids with ``@ | space``, properties -> context, and every way a
request can be malformed."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from tests.api.authzen.conftest import Seeded, settings_for


def _req(subject: str, action: str, resource: str, **extra: Any) -> dict[str, Any]:
    stype, _, sid = subject.partition(":")
    rtype, _, rid = resource.partition(":")
    return {
        "subject": {"type": stype, "id": sid},
        "action": {"name": action},
        "resource": {"type": rtype, "id": rid},
        **extra,
    }


@pytest.mark.parametrize(
    ("subject", "action", "resource", "decision"),
    [
        pytest.param(
            "user:alice@example.com", "can_delete", "document:readme", True, id="email_id_owner"
        ),
        pytest.param(
            "user:alice@example.com", "owner", "document:readme", True, id="role_relation_as_action"
        ),
        pytest.param(
            "user:auth0|42", "can_read", "document:readme", True, id="auth0_id_through_group"
        ),
        pytest.param("user:auth0|42", "can_write", "document:readme", False, id="auth0_id_denied"),
        pytest.param("user:bob", "can_read", "document:readme", True, id="through_parent_folder"),
        pytest.param("user:bob", "can_delete", "document:readme", False, id="viewer_cannot_delete"),
        pytest.param(
            "user:Alice Smith", "can_read", "document:public", True, id="space_id_through_wildcard"
        ),
        pytest.param(
            "user:Alice Smith", "can_read", "document:readme", False, id="space_id_denied"
        ),
        pytest.param(
            "user:alice@example.com",
            "can_read",
            "document:no such doc",
            False,
            id="space_in_resource_id",
        ),
        pytest.param("user:x:y", "can_read", "document:public", True, id="colon_in_subject_id"),
    ],
)
async def test_decisions(
    client: AsyncTestClient[Any],
    base: str,
    subject: str,
    action: str,
    resource: str,
    decision: bool,
) -> None:
    response = await client.post(f"{base}/evaluation", json=_req(subject, action, resource))
    assert response.status_code == 200, response.text
    assert response.json() == {"decision": decision}
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    ("subject_props", "resource_props", "context", "decision"),
    [
        pytest.param({"region": "eu"}, {"region": "eu"}, None, True, id="properties_match"),
        pytest.param({"region": "eu"}, {"region": "us"}, None, False, id="properties_differ"),
        pytest.param(
            {"region": "eu"}, {"region": "us"}, {"resource_region": "eu"}, True, id="context_wins"
        ),
        pytest.param(
            None, None, {"subject_region": "us", "resource_region": "us"}, True, id="context_only"
        ),
    ],
)
async def test_properties_become_condition_context(
    client: AsyncTestClient[Any],
    base: str,
    subject_props: dict[str, Any] | None,
    resource_props: dict[str, Any] | None,
    context: dict[str, Any] | None,
    decision: bool,
) -> None:
    body = _req("user:carol", "can_read", "document:secret")
    if subject_props:
        body["subject"]["properties"] = subject_props
    if resource_props:
        body["resource"]["properties"] = resource_props
    if context:
        body["context"] = context
    response = await client.post(f"{base}/evaluation", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"decision": decision}


async def test_action_properties_are_action_prefixed(
    client: AsyncTestClient[Any], base: str
) -> None:
    body = _req("user:carol", "can_read", "document:secret")
    body["action"]["properties"] = {"region": "eu"}
    body["context"] = {"subject_region": "eu"}
    response = await client.post(f"{base}/evaluation", json=body)
    # action_region is not a parameter of same_region: resource_region is still missing.
    assert response.json()["decision"] is False
    assert "resource_region" in response.json()["context"]["error"]["message"]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        pytest.param(
            _req("user:bob", "can_fly", "document:readme"),
            400,
            "relation 'document#can_fly' not found",
            id="unknown_action",
        ),
        pytest.param(
            _req("robot:r2", "can_read", "document:readme"),
            400,
            "type 'robot' not found",
            id="unknown_subject_type",
        ),
        pytest.param(
            _req("user:bob", "can_read", "memo:readme"),
            400,
            "type 'memo' not found",
            id="unknown_resource_type",
        ),
        pytest.param(
            _req("user:a#b", "can_read", "document:readme"),
            400,
            "contains '#'",
            id="hash_in_subject_id",
        ),
        pytest.param(
            _req("user:bob", "can_read", "document:*"), 400, "wildcard", id="wildcard_resource_id"
        ),
        pytest.param(
            _req("user:carol", "can_read", "document:secret"),
            400,
            "subject_region",
            id="condition_missing_parameters",
        ),
    ],
)
async def test_unevaluable_request_is_a_denial_with_an_error(
    client: AsyncTestClient[Any], base: str, body: dict[str, Any], status: int, fragment: str
) -> None:
    response = await client.post(f"{base}/evaluation", json=body)
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["decision"] is False
    assert out["context"]["error"]["status"] == status
    assert fragment in out["context"]["error"]["message"]


VALID = _req("user:bob", "can_read", "document:readme")


@pytest.mark.parametrize(
    ("content", "headers", "fragment"),
    [
        pytest.param(b"", {}, "body is empty", id="empty_body"),
        pytest.param(b"{not json", {}, "not valid JSON", id="invalid_json"),
        pytest.param(b"[]", {}, "Expected `object`, got `array`", id="array_body"),
        pytest.param(
            b'{"action":{"name":"can_read"},"resource":{"type":"document","id":"x"}}',
            {},
            "subject is required",
            id="missing_subject",
        ),
        pytest.param(
            b'{"subject":{"type":"user","id":"bob"},"resource":{"type":"document","id":"x"}}',
            {},
            "action is required",
            id="missing_action",
        ),
        pytest.param(
            b'{"subject":{"type":"user","id":"bob"},"action":{"name":"can_read"}}',
            {},
            "resource is required",
            id="missing_resource",
        ),
        pytest.param(
            b'{"subject":{"id":"bob"},"action":{"name":"r"},"resource":{"type":"d","id":"x"}}',
            {},
            "subject.type is required",
            id="missing_subject_type",
        ),
        pytest.param(
            b'{"subject":{"type":"user"},"action":{"name":"r"},"resource":{"type":"d","id":"x"}}',
            {},
            "subject.id is required",
            id="missing_subject_id",
        ),
        pytest.param(
            b'{"subject":{"type":"user","id":""},"action":{"name":"r"},"resource":{"type":"d","id":"x"}}',
            {},
            "subject.id is required",
            id="empty_subject_id",
        ),
        pytest.param(
            b'{"subject":{"type":"user","id":"b"},"action":{},"resource":{"type":"d","id":"x"}}',
            {},
            "action.name is required",
            id="missing_action_name",
        ),
        pytest.param(
            b'{"subject":{"type":"user","id":"b"},"action":{"name":"r"},"resource":{"type":"d"}}',
            {},
            "resource.id is required",
            id="missing_resource_id",
        ),
        pytest.param(
            b'{"subject":{"type":"user","id":5},"action":{"name":"r"},"resource":{"type":"d","id":"x"}}',
            {},
            "$.subject.id",
            id="id_not_a_string",
        ),
        pytest.param(
            b'{"subject":{"type":"user","id":"b"},"action":{"name":"r"},"resource":{"type":"d","id":"x"},"context":[1]}',
            {},
            "$.context",
            id="context_not_an_object",
        ),
        pytest.param(
            b'{"subject":{"type":"us:er","id":"b"},"action":{"name":"r"},"resource":{"type":"d","id":"x"}}',
            {},
            "may not contain",
            id="colon_in_type",
        ),
        pytest.param(
            b'{"subject":"user:bob","action":{"name":"r"},"resource":{"type":"d","id":"x"}}',
            {},
            "$.subject",
            id="subject_as_string",
        ),
    ],
)
async def test_malformed_requests_are_400(
    client: AsyncTestClient[Any],
    base: str,
    content: bytes | None,
    headers: dict[str, str],
    fragment: str,
) -> None:
    import json

    payload = json.dumps(VALID).encode() if content is None else content
    response = await client.post(
        f"{base}/evaluation",
        content=payload,
        headers={"content-type": "application/json", **headers},
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "validation_error"
    assert fragment in body["message"]


async def test_unknown_fields_are_ignored(client: AsyncTestClient[Any], base: str) -> None:
    body = {
        **VALID,
        "extra": {"anything": [1, 2]},
        "subject": {"type": "user", "id": "bob", "x": 1},
    }
    response = await client.post(f"{base}/evaluation", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"decision": True}


@pytest.mark.parametrize(
    "media", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
async def test_non_json_content_types_are_refused(
    client: AsyncTestClient[Any], base: str, media: str
) -> None:
    import json

    response = await client.post(
        f"{base}/evaluation", content=json.dumps(VALID).encode(), headers={"content-type": media}
    )
    assert response.status_code == 415, response.text
    assert (
        response.json()["code"] == "invalid_request"
        and "application/json" in response.json()["message"]
    )


async def test_missing_content_type_is_tolerated(client: AsyncTestClient[Any], base: str) -> None:
    import json

    response = await client.post(
        f"{base}/evaluation", content=json.dumps(VALID).encode(), headers={"content-type": ""}
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("request_id", "path"),
    [
        pytest.param("pep-req-0001", "/access/v1/evaluation", id="success"),
        pytest.param(
            "7f0c1d2e-3b4a-5c6d-7e8f-9a0b1c2d3e4f",
            "/access/v1/search/action",
            id="malformed_request",
        ),
    ],
)
async def test_request_id_is_echoed(
    client: AsyncTestClient[Any], request_id: str, path: str
) -> None:
    response = await client.post(path, json=VALID, headers={"X-Request-ID": request_id})
    assert response.headers["x-request-id"] == request_id


async def test_request_id_is_minted_when_absent(client: AsyncTestClient[Any]) -> None:
    response = await client.post("/access/v1/evaluation", json=VALID)
    assert response.status_code == 200
    assert response.headers["x-request-id"]


async def test_unknown_store_is_404(client: AsyncTestClient[Any]) -> None:
    response = await client.post(
        "/stores/01ARZ3NDEKTSV4RRFFQ69G5FAV/access/v1/evaluation", json=VALID
    )
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "store_id_not_found"


async def test_malformed_store_id_is_400(client: AsyncTestClient[Any]) -> None:
    response = await client.post("/stores/not-a-ulid/access/v1/evaluation", json=VALID)
    assert response.status_code == 400, response.text
    assert "StoreId" in response.json()["message"]


async def test_model_pinning_header(client: AsyncTestClient[Any], seeded: Seeded) -> None:
    pinned = await client.post(
        "/access/v1/evaluation",
        json=VALID,
        headers={"Openfga-Authorization-Model-Id": seeded.model_id},
    )
    assert pinned.status_code == 200, pinned.text
    assert pinned.headers["openfga-authorization-model-id"] == seeded.model_id
    bad = await client.post(
        "/access/v1/evaluation", json=VALID, headers={"Openfga-Authorization-Model-Id": "latest"}
    )
    assert bad.status_code == 400
    assert "Openfga-Authorization-Model-Id" in bad.json()["message"]
    unknown = await client.post(
        "/access/v1/evaluation",
        json=VALID,
        headers={"Openfga-Authorization-Model-Id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"},
    )
    assert unknown.status_code == 400
    assert unknown.json()["code"] == "authorization_model_not_found"


@pytest.mark.parametrize(
    "path",
    [
        "/access/v1/evaluation",
        "/access/v1/evaluations",
        "/access/v1/search/subject",
        "/access/v1/search/resource",
        "/access/v1/search/action",
    ],
)
async def test_no_default_store_is_a_clear_404(seeded: Seeded, path: str) -> None:
    async with AsyncTestClient(create_app(settings_for(seeded, store=""))) as client:
        response = await client.post(path, json=VALID, headers={"X-Request-ID": "no-store"})
        assert response.status_code == 404, response.text
        assert "PERMSVC_STORE" in response.json()["message"]
        assert "/stores/{store_id}/access/v1/" in response.json()["message"]
        assert response.headers["x-request-id"] == "no-store"
        scoped = await client.post(f"/stores/{seeded.store_id}{path}", json=VALID)
        assert scoped.status_code == 200, scoped.text


async def test_store_without_model_is_a_precise_400(client: AsyncTestClient[Any]) -> None:
    store = await client.post("/stores", json={"name": "empty-store"})
    response = await client.post(f"/stores/{store.json()['id']}/access/v1/evaluation", json=VALID)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "latest_authorization_model_not_found"


async def test_preshared_key_guards_access_endpoints(seeded: Seeded) -> None:
    async with AsyncTestClient(
        create_app(settings_for(seeded, auth_method="preshared", api_keys=("k-1",)))
    ) as client:
        denied = await client.post("/access/v1/evaluation", json=VALID)
        assert denied.status_code == 401
        assert denied.headers["www-authenticate"].startswith("Bearer")
        allowed = await client.post(
            "/access/v1/evaluation", json=VALID, headers={"Authorization": "Bearer k-1"}
        )
        assert allowed.json() == {"decision": True}
        metadata = await client.get("/.well-known/authzen-configuration")
        assert metadata.status_code == 200
