"""Subject, Resource and Action Search (POST .../access/v1/search/{subject,resource,action}):
results, transitivity, the action rule, pagination, and malformed requests."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from tests.api.authzen.conftest import Seeded, settings_for


def _subject_search(
    resource_id: str, action: str = "can_read", subject_type: str = "user"
) -> dict[str, Any]:
    return {
        "subject": {"type": subject_type},
        "action": {"name": action},
        "resource": {"type": "document", "id": resource_id},
    }


def _resource_search(
    subject_id: str, action: str = "can_read", resource_type: str = "document"
) -> dict[str, Any]:
    return {
        "subject": {"type": "user", "id": subject_id},
        "action": {"name": action},
        "resource": {"type": resource_type},
    }


def _action_search(subject_id: str, resource: str) -> dict[str, Any]:
    rtype, _, rid = resource.partition(":")
    return {"subject": {"type": "user", "id": subject_id}, "resource": {"type": rtype, "id": rid}}


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert next(iter(body)) == "page"
    assert body["page"]["count"] == len(body["results"])
    return body


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            _subject_search("readme"),
            [
                {"type": "user", "id": "alice@example.com"},
                {"type": "user", "id": "auth0|42"},
                {"type": "user", "id": "bob"},
            ],
            id="transitive_through_group_and_parent",
        ),
        pytest.param(
            _subject_search("readme", "can_delete"),
            [{"type": "user", "id": "alice@example.com"}],
            id="owner_only",
        ),
        pytest.param(
            _subject_search("public"), [{"type": "user", "id": "*"}], id="wildcard_is_star"
        ),
        pytest.param(
            _subject_search("readme", subject_type="group"), [], id="no_subjects_of_that_type"
        ),
        pytest.param(
            _subject_search("readme", action="can_fly"), [], id="unknown_action_no_results"
        ),
        pytest.param(
            _subject_search("readme", subject_type="robot"),
            [],
            id="unknown_subject_type_no_results",
        ),
        pytest.param(_subject_search("nothing here"), [], id="unknown_resource_id_no_results"),
    ],
)
async def test_subject_search(
    client: AsyncTestClient[Any], base: str, body: dict[str, Any], expected: list[Any]
) -> None:
    out = _ok(await client.post(f"{base}/search/subject", json=body))
    assert out["results"] == expected
    assert out["page"]["next_token"] == ""


async def test_subject_search_ignores_subject_id(client: AsyncTestClient[Any], base: str) -> None:
    body = _subject_search("readme", "can_delete")
    body["subject"]["id"] = "somebody-else"
    assert _ok(await client.post(f"{base}/search/subject", json=body))["results"] == [
        {"type": "user", "id": "alice@example.com"}
    ]


async def test_subject_search_with_properties(client: AsyncTestClient[Any], base: str) -> None:
    body = _subject_search("secret")
    body["subject"]["properties"] = {"region": "eu"}
    body["resource"]["properties"] = {"region": "eu"}
    assert _ok(await client.post(f"{base}/search/subject", json=body))["results"] == [
        {"type": "user", "id": "carol"}
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            _resource_search("alice@example.com", "can_delete"), ["readme"], id="email_id"
        ),
        pytest.param(
            _resource_search("auth0|42"), ["public", "readme"], id="auth0_id_group_and_wildcard"
        ),
        pytest.param(_resource_search("bob"), ["public", "readme"], id="through_parent"),
        pytest.param(_resource_search("Alice Smith"), ["public"], id="space_id_wildcard_only"),
        pytest.param(
            _resource_search("bob", resource_type="memo"), [], id="unknown_resource_type_no_results"
        ),
        pytest.param(_resource_search("bob", action="can_fly"), [], id="unknown_action_no_results"),
    ],
)
async def test_resource_search(
    client: AsyncTestClient[Any], base: str, body: dict[str, Any], expected: list[str]
) -> None:
    out = _ok(await client.post(f"{base}/search/resource", json=body))
    assert out["results"] == [{"type": body["resource"]["type"], "id": i} for i in expected]


async def test_resource_search_ignores_resource_id(client: AsyncTestClient[Any], base: str) -> None:
    body = _resource_search("alice@example.com", "can_delete")
    body["resource"]["id"] = "ignored"
    assert _ok(await client.post(f"{base}/search/resource", json=body))["results"] == [
        {"type": "document", "id": "readme"}
    ]


@pytest.mark.parametrize(
    ("subject_id", "resource", "expected"),
    [
        pytest.param(
            "alice@example.com",
            "document:readme",
            ["can_delete", "can_read", "can_write"],
            id="permissions_only_not_roles",
        ),
        pytest.param("auth0|42", "document:readme", ["can_read"], id="auth0_id"),
        pytest.param("Alice Smith", "document:public", ["can_read"], id="space_id"),
        pytest.param("nobody", "document:readme", [], id="no_actions"),
        pytest.param(
            "alice@example.com",
            "account:1",
            ["owner", "reader"],
            id="all_assignable_fallback_skips_tupleset",
        ),
        pytest.param("bob", "account:1", ["reader"], id="fallback_through_tupleset"),
        pytest.param("bob", "memo:1", [], id="unknown_resource_type"),
    ],
)
async def test_action_search(
    client: AsyncTestClient[Any], base: str, subject_id: str, resource: str, expected: list[str]
) -> None:
    out = _ok(await client.post(f"{base}/search/action", json=_action_search(subject_id, resource)))
    assert out["results"] == [{"name": n} for n in expected]


async def test_action_search_skips_actions_that_cannot_be_evaluated(
    client: AsyncTestClient[Any], base: str
) -> None:
    """carol's can_read goes through a condition; without its parameters it is not an action she has."""
    out = _ok(
        await client.post(f"{base}/search/action", json=_action_search("carol", "document:secret"))
    )
    assert out["results"] == []
    body = _action_search("carol", "document:secret")
    body["context"] = {"subject_region": "eu", "resource_region": "eu"}
    assert _ok(await client.post(f"{base}/search/action", json=body))["results"] == [
        {"name": "can_read"}
    ]


async def test_action_search_ignores_an_action_key(client: AsyncTestClient[Any], base: str) -> None:
    body = {**_action_search("auth0|42", "document:readme"), "action": {"name": "can_delete"}}
    assert _ok(await client.post(f"{base}/search/action", json=body))["results"] == [
        {"name": "can_read"}
    ]


@pytest.mark.parametrize(
    ("allowlist", "resource", "expected"),
    [
        pytest.param(
            ("can_*",), "document:readme", ["can_delete", "can_read", "can_write"], id="glob"
        ),
        pytest.param(
            ("owner", "document#can_read"),
            "document:readme",
            ["can_read", "owner"],
            id="names_and_typed_names",
        ),
        pytest.param(
            ("account#*",), "account:1", ["owner", "reader"], id="every_relation_of_a_type"
        ),
        pytest.param(("account#*",), "document:readme", [], id="other_types_have_none"),
    ],
)
async def test_action_allowlist(
    seeded: Seeded, allowlist: tuple[str, ...], resource: str, expected: list[str]
) -> None:
    async with AsyncTestClient(
        create_app(settings_for(seeded, authzen_actions=allowlist))
    ) as client:
        out = _ok(
            await client.post(
                "/access/v1/search/action", json=_action_search("alice@example.com", resource)
            )
        )
    assert out["results"] == [{"name": n} for n in expected]


async def test_tupleset_relation_is_an_action_only_when_allowlisted(seeded: Seeded) -> None:
    body = {"subject": {"type": "folder", "id": "root"}, "resource": {"type": "account", "id": "1"}}
    async with AsyncTestClient(create_app(settings_for(seeded))) as client:
        assert _ok(await client.post("/access/v1/search/action", json=body))["results"] == []
    async with AsyncTestClient(
        create_app(settings_for(seeded, authzen_actions=("account#*",)))
    ) as client:
        assert _ok(await client.post("/access/v1/search/action", json=body))["results"] == [
            {"name": "org"}
        ]


async def _pages(
    client: AsyncTestClient[Any], path: str, body: dict[str, Any], limit: int
) -> list[dict[str, Any]]:
    pages = [_ok(await client.post(path, json={**body, "page": {"limit": limit}}))]
    while pages[-1]["page"]["next_token"]:
        token = pages[-1]["page"]["next_token"]
        pages.append(_ok(await client.post(path, json={**body, "page": {"token": token}})))
        assert len(pages) < 10
    return pages


@pytest.mark.parametrize(
    ("endpoint", "body", "limit", "expected"),
    [
        pytest.param(
            "resource",
            _resource_search("pager"),
            2,
            [["page1", "page2"], ["page3", "page4"], ["page5", "public"]],
            id="resources_by_two",
        ),
        pytest.param(
            "resource",
            _resource_search("pager"),
            6,
            [["page1", "page2", "page3", "page4", "page5", "public"]],
            id="exact_page",
        ),
        pytest.param(
            "subject",
            _subject_search("readme"),
            1,
            [["alice@example.com"], ["auth0|42"], ["bob"]],
            id="subjects_by_one",
        ),
        pytest.param(
            "action",
            _action_search("alice@example.com", "document:readme"),
            2,
            [["can_delete", "can_read"], ["can_write"]],
            id="actions_by_two",
        ),
    ],
)
async def test_pagination(
    client: AsyncTestClient[Any],
    base: str,
    endpoint: str,
    body: dict[str, Any],
    limit: int,
    expected: list[list[str]],
) -> None:
    pages = await _pages(client, f"{base}/search/{endpoint}", body, limit)
    got = [[r.get("id", r.get("name")) for r in page["results"]] for page in pages]
    assert got == expected
    assert [p["page"]["count"] for p in pages] == [len(e) for e in expected]
    assert pages[-1]["page"]["next_token"] == ""
    assert all(p["page"]["next_token"] for p in pages[:-1])


@pytest.mark.parametrize(
    "limit", [pytest.param(0, id="zero_means_server_default"), pytest.param(10**6, id="capped")]
)
async def test_large_or_zero_limit_returns_everything(
    client: AsyncTestClient[Any], base: str, limit: int
) -> None:
    out = _ok(
        await client.post(
            f"{base}/search/resource", json={**_resource_search("pager"), "page": {"limit": limit}}
        )
    )
    assert out["page"] == {"next_token": "", "count": 6}


async def test_follow_up_must_repeat_the_request(client: AsyncTestClient[Any], base: str) -> None:
    path = f"{base}/search/resource"
    first = _ok(await client.post(path, json={**_resource_search("pager"), "page": {"limit": 2}}))
    token = first["page"]["next_token"]
    same_limit = await client.post(
        path, json={**_resource_search("pager"), "page": {"token": token, "limit": 2}}
    )
    assert _ok(same_limit)["results"] == [
        {"type": "document", "id": "page3"},
        {"type": "document", "id": "page4"},
    ]
    changes = [
        {**_resource_search("pager"), "page": {"token": token, "limit": 3}},
        {**_resource_search("bob"), "page": {"token": token}},
        {**_resource_search("pager", "viewer"), "page": {"token": token}},
        {**_resource_search("pager"), "context": {"x": 1}, "page": {"token": token}},
        {**_resource_search("pager"), "page": {"token": "bm90IGEgdG9rZW4"}},
    ]
    for body in changes:
        response = await client.post(path, json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["code"] == "invalid_continuation_token"
    other_endpoint = await client.post(
        f"{base}/search/action",
        json={**_action_search("pager", "document:page1"), "page": {"token": token}},
    )
    assert other_endpoint.status_code == 400


@pytest.mark.parametrize(
    ("endpoint", "body", "fragment"),
    [
        pytest.param(
            "subject",
            {"action": {"name": "can_read"}, "resource": {"type": "document", "id": "x"}},
            "subject is required",
            id="subject_missing_subject",
        ),
        pytest.param(
            "subject",
            {
                "subject": {"id": "x"},
                "action": {"name": "can_read"},
                "resource": {"type": "document", "id": "x"},
            },
            "subject.type is required",
            id="subject_missing_type",
        ),
        pytest.param(
            "subject",
            {"subject": {"type": "user"}, "resource": {"type": "document", "id": "x"}},
            "action is required",
            id="subject_missing_action",
        ),
        pytest.param(
            "subject",
            {
                "subject": {"type": "user"},
                "action": {"name": "can_read"},
                "resource": {"type": "document"},
            },
            "resource.id is required",
            id="subject_missing_resource_id",
        ),
        pytest.param(
            "resource",
            {
                "subject": {"type": "user"},
                "action": {"name": "can_read"},
                "resource": {"type": "document"},
            },
            "subject.id is required",
            id="resource_missing_subject_id",
        ),
        pytest.param(
            "resource",
            {
                "subject": {"type": "user", "id": "b"},
                "action": {"name": "can_read"},
                "resource": {},
            },
            "resource.type is required",
            id="resource_missing_type",
        ),
        pytest.param(
            "action",
            {"subject": {"type": "user", "id": "b"}},
            "resource is required",
            id="action_missing_resource",
        ),
        pytest.param(
            "action",
            {"resource": {"type": "document", "id": "x"}},
            "subject is required",
            id="action_missing_subject",
        ),
        pytest.param(
            "resource",
            {**_resource_search("b"), "page": {"limit": -1}},
            "$.page.limit",
            id="negative_limit",
        ),
        pytest.param(
            "resource",
            {**_resource_search("b"), "page": {"limit": "2"}},
            "$.page.limit",
            id="limit_not_an_integer",
        ),
        pytest.param(
            "resource", {**_resource_search("b"), "page": []}, "$.page", id="page_not_an_object"
        ),
        pytest.param("resource", _resource_search("a#b"), "contains '#'", id="hash_in_subject_id"),
        pytest.param("subject", _subject_search("a#b"), "contains '#'", id="hash_in_resource_id"),
    ],
)
async def test_malformed_searches_are_400(
    client: AsyncTestClient[Any], base: str, endpoint: str, body: dict[str, Any], fragment: str
) -> None:
    response = await client.post(
        f"{base}/search/{endpoint}", json=body, headers={"X-Request-ID": "search-err"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"
    assert fragment in response.json()["message"]
    assert response.headers["x-request-id"] == "search-err"


async def test_page_token_after_a_maximal_id(
    client: AsyncTestClient[Any], base: str, seeded: Seeded
) -> None:
    """The token carries the last result: it stays usable after the longest id a tuple may hold."""
    longest = "a" * (512 - len("user:"))
    keys = [
        {"object": "document:long", "relation": "viewer", "user": f"user:{u}"}
        for u in (longest, "b")
    ]
    written = await client.post(
        f"/stores/{seeded.store_id}/write", json={"writes": {"tuple_keys": keys}}
    )
    assert written.status_code == 200, written.text
    pages = await _pages(client, f"{base}/search/subject", _subject_search("long"), 1)
    assert [[r["id"] for r in p["results"]] for p in pages] == [[longest], ["b"]]
