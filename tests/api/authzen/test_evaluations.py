"""Access Evaluations (POST .../access/v1/evaluations): defaults, the three semantics, per-item
errors, and the backwards-compatible single form."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.settings import DEFAULT_MAX_BATCH_CHECK_ITEMS

ALICE = {"type": "user", "id": "alice@example.com"}
BOB = {"type": "user", "id": "bob"}
README = {"type": "document", "id": "readme"}
PUBLIC = {"type": "document", "id": "public"}


def _action(name: str) -> dict[str, str]:
    return {"name": name}


def _decisions(response: Any) -> list[bool]:
    assert response.status_code == 200, response.text
    return [item["decision"] for item in response.json()["evaluations"]]


async def test_defaults_are_merged_and_order_is_kept(
    client: AsyncTestClient[Any], base: str
) -> None:
    body = {
        "subject": BOB,
        "resource": README,
        "evaluations": [
            {"action": _action("can_read")},
            {"action": _action("can_delete")},
            {"action": _action("can_delete"), "subject": ALICE},
            {
                "action": _action("can_read"),
                "subject": {"type": "user", "id": "Alice Smith"},
                "resource": PUBLIC,
            },
            {"action": _action("can_write"), "subject": {"type": "user", "id": "auth0|42"}},
        ],
    }
    response = await client.post(f"{base}/evaluations", json=body)
    assert _decisions(response) == [True, False, True, True, False]
    assert "decision" not in response.json()


async def test_item_keys_replace_defaults_whole(client: AsyncTestClient[Any], base: str) -> None:
    """An item's subject replaces the default subject, properties included; same for context."""
    body = {
        "subject": {"type": "user", "id": "carol", "properties": {"region": "eu"}},
        "action": _action("can_read"),
        "resource": {"type": "document", "id": "secret", "properties": {"region": "eu"}},
        "context": {"subject_region": "us"},
        "evaluations": [
            {"context": {}},
            {},
            {"subject": {"type": "user", "id": "carol"}, "context": {}},
        ],
    }
    response = await client.post(f"{base}/evaluations", json=body)
    assert _decisions(response) == [True, False, False]
    third = response.json()["evaluations"][2]
    assert "subject_region" in third["context"]["error"]["message"]


async def test_bad_item_is_a_denial_not_a_failed_batch(
    client: AsyncTestClient[Any], base: str
) -> None:
    body = {
        "action": _action("can_read"),
        "resource": README,
        "evaluations": [
            {"subject": BOB},
            {"resource": README},
            {"subject": {"type": "user", "id": 42}},
            "not an object",
            {"subject": BOB, "action": _action("can_fly")},
            {"subject": {"type": "user", "id": "a#b"}},
            {"subject": ALICE},
        ],
    }
    response = await client.post(f"{base}/evaluations", json=body)
    assert _decisions(response) == [True, False, False, False, False, False, True]
    items = response.json()["evaluations"]
    assert "context" not in items[0]
    expected = [
        (1, "evaluations[1]: subject is required"),
        (2, "evaluations[2]"),
        (3, "Expected `object`"),
        (4, "relation 'document#can_fly' not found"),
        (5, "contains '#'"),
    ]
    for index, fragment in expected:
        error = items[index]["context"]["error"]
        assert error["status"] == 400
        assert fragment in error["message"], (index, error)
    assert items[4]["context"]["error"]["code"] == "relation_not_found"


@pytest.mark.parametrize(
    ("semantic", "actions", "expected"),
    [
        pytest.param(
            "execute_all",
            ["can_read", "can_delete", "can_read"],
            [True, False, True],
            id="execute_all",
        ),
        pytest.param(
            "deny_on_first_deny",
            ["can_read", "can_delete", "can_read"],
            [True, False],
            id="deny_stops_at_deny",
        ),
        pytest.param(
            "deny_on_first_deny", ["can_read", "can_read"], [True, True], id="deny_all_permitted"
        ),
        pytest.param(
            "deny_on_first_deny", ["can_fly", "can_read"], [False], id="deny_error_counts_as_deny"
        ),
        pytest.param(
            "permit_on_first_permit",
            ["can_delete", "can_read", "can_delete"],
            [False, True],
            id="permit_stops_at_permit",
        ),
        pytest.param(
            "permit_on_first_permit",
            ["can_delete", "can_write"],
            [False, False],
            id="permit_none_permitted",
        ),
        pytest.param(
            "permit_on_first_permit",
            ["can_fly", "can_read"],
            [False, True],
            id="permit_error_is_skipped",
        ),
    ],
)
async def test_semantics(
    client: AsyncTestClient[Any], base: str, semantic: str, actions: list[str], expected: list[bool]
) -> None:
    body = {
        "subject": BOB,
        "resource": README,
        "options": {"evaluations_semantic": semantic, "another_option": "value"},
        "evaluations": [{"action": _action(a)} for a in actions],
    }
    assert _decisions(await client.post(f"{base}/evaluations", json=body)) == expected


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param(
            {"options": {"evaluations_semantic": "first_wins"}, "evaluations": [{}]},
            "evaluations_semantic must be one of",
            id="unknown_semantic",
        ),
        pytest.param(
            {"options": {"evaluations_semantic": 1}, "evaluations": [{}]},
            "$.options.evaluations_semantic",
            id="semantic_not_a_string",
        ),
        pytest.param(
            {"options": "fast", "evaluations": [{}]}, "$.options", id="options_not_an_object"
        ),
        pytest.param({"evaluations": {"a": 1}}, "$.evaluations", id="evaluations_not_an_array"),
        pytest.param(
            {"subject": {"type": 1}, "evaluations": [{}]}, "$.subject.type", id="ill_typed_default"
        ),
        pytest.param(
            {"evaluations": []}, "subject is required", id="empty_without_top_level_fields"
        ),
        pytest.param(
            {
                "subject": BOB,
                "action": _action("can_read"),
                "resource": README,
                "evaluations": [{}] * (DEFAULT_MAX_BATCH_CHECK_ITEMS + 1),
            },
            f"at most {DEFAULT_MAX_BATCH_CHECK_ITEMS}",
            id="too_many_items",
        ),
    ],
)
async def test_malformed_batches_are_400(
    client: AsyncTestClient[Any], base: str, body: dict[str, Any], fragment: str
) -> None:
    response = await client.post(f"{base}/evaluations", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"
    assert fragment in response.json()["message"]


@pytest.mark.parametrize(
    "evaluations",
    [pytest.param(None, id="absent"), pytest.param([], id="empty")],
)
async def test_no_items_is_a_single_evaluation(
    client: AsyncTestClient[Any], base: str, evaluations: list[Any] | None
) -> None:
    body: dict[str, Any] = {"subject": ALICE, "action": _action("can_delete"), "resource": README}
    if evaluations is not None:
        body["evaluations"] = evaluations
    response = await client.post(f"{base}/evaluations", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"decision": True}


async def test_request_id_is_echoed(client: AsyncTestClient[Any], base: str) -> None:
    body = {"subject": BOB, "resource": README, "evaluations": [{"action": _action("can_read")}]}
    response = await client.post(
        f"{base}/evaluations", json=body, headers={"X-Request-ID": "batch-7"}
    )
    assert response.headers["x-request-id"] == "batch-7"
