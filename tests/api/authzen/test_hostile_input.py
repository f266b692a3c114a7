"""Hostile bodies on every AuthZEN endpoint: each gets a precise 4xx (or a decision), never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

ENDPOINTS = ("evaluation", "evaluations", "search/subject", "search/resource", "search/action")

_TAIL = b'"action":{"name":"can_read"},"resource":{"type":"document","id":"readme"}'


def _body(subject: bytes, extra: bytes = b"") -> bytes:
    return b'{"subject":' + subject + b"," + _TAIL + extra + b"}"


async def _assert_400(
    client: AsyncTestClient[Any], path: str, content: bytes, fragment: str
) -> None:
    response = await client.post(
        path, content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"
    assert fragment in response.json()["message"]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(
            _body(
                b'{"type":"user","id":"bob"}',
                b',"context":{"x":' + b"[" * 5000 + b"]" * 5000 + b"}",
            ),
            "nested too deeply",
            id="deep_nesting",
        ),
        pytest.param(
            _body(b'{"type":"user","id":"\\ud800"}'), "not valid JSON", id="lone_surrogate"
        ),
        pytest.param(
            _body(b'{"type":"user","id":"bob"}', b',"context":{"a":1e999}'),
            "Number out of range",
            id="number_out_of_range",
        ),
        pytest.param(
            _body(b'{"type":"user","id":"bob"}') + b"\xff", "not valid JSON", id="invalid_utf8"
        ),
    ],
)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_unparseable_body_is_400(
    client: AsyncTestClient[Any], base: str, endpoint: str, content: bytes, fragment: str
) -> None:
    await _assert_400(client, f"{base}/{endpoint}", content, fragment)


@pytest.mark.parametrize(
    ("endpoint", "content", "fragment"),
    [
        pytest.param(
            "evaluation",
            _body(b'{"type":"user","id":"bob\\u0000"}'),
            "control character U+0000",
            id="nul_in_id",
        ),
        pytest.param(
            "search/resource",
            _body(b'{"type":"user","id":"bob\\u0000"}'),
            "control character U+0000",
            id="nul_in_searched_id",
        ),
        pytest.param(
            "search/action",
            _body(b'{"type":"us\\u0000er","id":"bob"}'),
            "subject.type",
            id="nul_in_type",
        ),
        pytest.param(
            "search/subject",
            _body(b'{"type":"user"}').replace(b"can_read", b"can read"),
            "action.name",
            id="space_in_action",
        ),
    ],
)
async def test_unstorable_names_are_400(
    client: AsyncTestClient[Any], base: str, endpoint: str, content: bytes, fragment: str
) -> None:
    await _assert_400(client, f"{base}/{endpoint}", content, fragment)


async def test_unstorable_name_in_a_batch_is_that_items_error(
    client: AsyncTestClient[Any], base: str
) -> None:
    content = (
        b'{"evaluations":['
        + _body(b'{"type":"user","id":"bob\\u0000"}')
        + b","
        + _body(b'{"type":"user","id":"bob"}')
        + b"]}"
    )
    response = await client.post(
        f"{base}/evaluations", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    first, second = response.json()["evaluations"]
    assert "control character U+0000" in first["context"]["error"]["message"]
    assert second == {"decision": True}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_huge_id_is_answered(client: AsyncTestClient[Any], base: str, endpoint: str) -> None:
    content = _body(b'{"type":"user","id":"' + b"x" * 500_000 + b'"}')
    response = await client.post(
        f"{base}/{endpoint}", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text


async def test_ill_typed_condition_parameter(client: AsyncTestClient[Any], base: str) -> None:
    body = {
        "subject": {"type": "user", "id": "carol"},
        "action": {"name": "can_read"},
        "resource": {"type": "document", "id": "secret"},
        "context": {"subject_region": 5, "resource_region": "eu"},
    }
    evaluation = await client.post(f"{base}/evaluation", json=body)
    assert evaluation.status_code == 200
    assert evaluation.json()["decision"] is False
    assert "subject_region" in evaluation.json()["context"]["error"]["message"]
    search = await client.post(
        f"{base}/search/resource", json={**body, "resource": {"type": "document"}}
    )
    assert search.status_code == 400
    assert "subject_region" in search.json()["message"]
