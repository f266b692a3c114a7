"""No request can make the API answer 500: random bodies and query strings against every endpoint.

Each example is either arbitrary JSON shaped with OpenFGA's field names, or a valid request with
one field replaced by an arbitrary value. Every answer must be a success or a 4xx with a JSON
``{"code","message"}`` body.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from permsvc.api.app import create_app
from tests.api.conftest import MODEL, make_settings

FIELDS = [
    "tuple_key",
    "tuple_keys",
    "user",
    "relation",
    "object",
    "type",
    "id",
    "condition",
    "name",
    "context",
    "contextual_tuples",
    "authorization_model_id",
    "consistency",
    "consistency_token",
    "writes",
    "deletes",
    "on_duplicate",
    "on_missing",
    "page_size",
    "continuation_token",
    "checks",
    "correlation_id",
    "user_filters",
    "assertions",
    "expectation",
    "schema_version",
    "type_definitions",
    "relations",
    "metadata",
    "this",
    "computedUserset",
    "tupleToUserset",
    "union",
    "child",
    "conditions",
    "expression",
    "parameters",
    "type_name",
]

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.sampled_from(
        [
            "",
            "user:anne",
            "document:1",
            "viewer",
            "user:*",
            "group:eng#member",
            "document:",
            "*",
            "#",
            "HIGHER_CONSISTENCY",
            "ignore",
            "x" * 600,
            "01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "v1.AAAA",
        ]
    )
    | st.text(max_size=20)
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)

VALID: dict[str, dict[str, Any]] = {
    "check": {"tuple_key": {"user": "user:anne", "relation": "viewer", "object": "document:1"}},
    "batch-check": {
        "checks": [
            {
                "tuple_key": {"user": "user:anne", "relation": "viewer", "object": "document:1"},
                "correlation_id": "a",
            }
        ]
    },
    "expand": {"tuple_key": {"relation": "viewer", "object": "document:1"}},
    "list-objects": {"type": "document", "relation": "viewer", "user": "user:anne"},
    "streamed-list-objects": {"type": "document", "relation": "viewer", "user": "user:anne"},
    "list-users": {
        "object": {"type": "document", "id": "1"},
        "relation": "viewer",
        "user_filters": [{"type": "user"}],
    },
    "read": {"tuple_key": {"object": "document:1"}},
    "write": {
        "writes": {
            "tuple_keys": [{"user": "user:anne", "relation": "viewer", "object": "document:1"}]
        }
    },
    "authorization-models": MODEL,
}


def _mutate(value: Any, path: list[str | int], replacement: Any) -> Any:
    if not path:
        return replacement
    head, rest = path[0], path[1:]
    if isinstance(value, dict) and isinstance(head, str) and head in value:
        return {**value, head: _mutate(value[head], rest, replacement)}
    if isinstance(value, list) and isinstance(head, int) and value:
        index = head % len(value)
        return [*value[:index], _mutate(value[index], rest, replacement), *value[index + 1 :]]
    return replacement


@st.composite
def _mutated(draw: st.DrawFn) -> tuple[str, Any]:
    endpoint = draw(st.sampled_from(sorted(VALID)))
    path = draw(st.lists(st.sampled_from(FIELDS) | st.integers(0, 3), max_size=4))
    return endpoint, _mutate(VALID[endpoint], path, draw(JSON))


def _assert_well_formed(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert (
            set(body) == {"code", "message"} and body["code"] and isinstance(body["message"], str)
        )


def test_no_body_makes_the_api_fail() -> None:
    app = create_app(make_settings())
    with TestClient(app) as client:
        store = client.post("/stores", json={"name": "fuzz"}).json()["id"]
        assert client.post(f"/stores/{store}/authorization-models", json=MODEL).status_code == 201

        @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(st.one_of(st.tuples(st.sampled_from(sorted(VALID)), JSON), _mutated()))
        def run(case: tuple[str, Any]) -> None:
            endpoint, body = case
            response = client.post(f"/stores/{store}/{endpoint}", content=json.dumps(body).encode())
            _assert_well_formed(response)

        run()


def test_no_query_string_makes_the_api_fail() -> None:
    app = create_app(make_settings())
    with TestClient(app) as client:
        store = client.post("/stores", json={"name": "fuzz"}).json()["id"]
        values = st.text(max_size=12) | st.sampled_from(
            ["", "0", "1", "100", "101", "-5", "2020-01-01T00:00:00Z"]
        )

        @settings(max_examples=200, deadline=None)
        @given(
            st.sampled_from(
                ["/stores", f"/stores/{store}/changes", f"/stores/{store}/authorization-models"]
            ),
            st.dictionaries(
                st.sampled_from(["page_size", "continuation_token", "name", "type", "start_time"]),
                values,
            ),
        )
        def run(path: str, params: dict[str, str]) -> None:
            _assert_well_formed(client.get(path, params=params))

        run()


def test_no_path_makes_the_api_fail() -> None:
    app = create_app(make_settings())
    with TestClient(app) as client:
        segment = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)

        @settings(max_examples=150, deadline=None)
        @given(
            segment,
            st.sampled_from(["", "/check", "/authorization-models/", "/assertions/", "/changes"]),
            segment,
        )
        def run(store: str, suffix: str, tail: str) -> None:
            from urllib.parse import quote

            path = f"/stores/{quote(store, safe='')}{suffix}"
            if suffix.endswith("/"):
                path += quote(tail, safe="")
            for method in ("GET", "POST", "PUT", "DELETE"):
                _assert_well_formed(client.request(method, path, content=b"{}"))

        run()
