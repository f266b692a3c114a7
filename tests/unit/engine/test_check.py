"""Check semantics and the engine's bounds: cycles, depth, deep chains, budgets, error precedence."""

from __future__ import annotations

import time
from typing import Any

import pytest

from permsvc.commands.check import CheckParams
from permsvc.commands.errors import InvalidInputError
from permsvc.core.refs import TupleCondition, TupleKey, parse_tuple
from permsvc.engine.errors import (
    ConditionMissingParametersError,
    DeadlineExceededError,
    DispatchLimitExceededError,
    ResolutionDepthExceededError,
    openfga_code,
)
from permsvc.model.compile import parse_dsl
from permsvc.model.tuple_validation import TupleValidationError

GROUPS = """
model
  schema 1.1
type user
type group
  relations
    define member: [user, group#member]
type folder
  relations
    define parent: [folder]
    define viewer: [user, group#member] or viewer from parent
type document
  relations
    define parent: [folder]
    define owner: [user]
    define blocked: [user]
    define viewer: [user, user:*, group#member] or owner or viewer from parent
    define can_view: viewer but not blocked
    define approved: [user]
    define can_publish: owner and approved
"""


@pytest.mark.parametrize(
    ("tuples", "query", "expected"),
    [
        pytest.param(
            ["document:1#viewer@user:anne"], "document:1#viewer@user:anne", True, id="direct"
        ),
        pytest.param(
            ["document:1#viewer@user:anne"],
            "document:1#viewer@user:bob",
            False,
            id="direct_other_user",
        ),
        pytest.param(
            ["document:1#owner@user:anne"],
            "document:1#viewer@user:anne",
            True,
            id="computed_userset",
        ),
        pytest.param(
            [
                "group:a#member@user:anne",
                "group:b#member@group:a#member",
                "document:1#viewer@group:b#member",
            ],
            "document:1#viewer@user:anne",
            True,
            id="nested_usersets",
        ),
        pytest.param(
            ["folder:r#viewer@user:anne", "folder:s#parent@folder:r", "document:1#parent@folder:s"],
            "document:1#viewer@user:anne",
            True,
            id="tuple_to_userset_two_levels",
        ),
        pytest.param(
            ["document:1#viewer@user:*"],
            "document:1#viewer@user:zed",
            True,
            id="wildcard_grants_everyone",
        ),
        pytest.param(
            ["document:1#viewer@user:anne"],
            "document:1#viewer@user:*",
            False,
            id="wildcard_query_needs_wildcard_tuple",
        ),
        pytest.param(
            ["document:1#viewer@user:*", "document:1#blocked@user:bob"],
            "document:1#can_view@user:bob",
            False,
            id="exclusion",
        ),
        pytest.param(
            ["document:1#owner@user:anne"],
            "document:1#can_publish@user:anne",
            False,
            id="intersection_false",
        ),
        pytest.param(
            ["document:1#owner@user:anne", "document:1#approved@user:anne"],
            "document:1#can_publish@user:anne",
            True,
            id="intersection_true",
        ),
        pytest.param(
            [], "document:1#viewer@document:1#viewer", True, id="userset_is_related_to_itself"
        ),
        pytest.param(
            ["group:a#member@user:anne"],
            "document:1#viewer@group:a#member",
            False,
            id="userset_user_not_granted",
        ),
    ],
)
async def test_check(make_env: Any, tuples: list[str], query: str, expected: bool) -> None:
    env = await make_env(GROUPS, tuples)
    assert await env.check(query) is expected


async def test_cycle_is_false_with_flag_not_an_error(make_env: Any) -> None:
    env = await make_env(GROUPS, ["group:a#member@group:b#member", "group:b#member@group:a#member"])
    outcome = await env.queries()["check"].execute(
        CheckParams(store_id=env.store_id, tuple_key=parse_tuple("group:a#member@user:anne"))
    )
    assert (outcome.allowed, outcome.cycle_detected) == (False, True)


async def test_cycle_does_not_hide_another_path(make_env: Any) -> None:
    env = await make_env(
        GROUPS,
        [
            "group:a#member@group:b#member",
            "group:b#member@group:a#member",
            "group:b#member@user:anne",
        ],
    )
    assert await env.check("group:a#member@user:anne")


def _chain(n: int) -> list[str]:
    return [f"group:g{i}#member@group:g{i + 1}#member" for i in range(n)] + [
        f"group:g{n}#member@user:anne"
    ]


async def test_depth_limit_is_resolution_too_complex(make_env: Any) -> None:
    env = await make_env(GROUPS, _chain(30))
    with pytest.raises(ResolutionDepthExceededError) as info:
        await env.check("group:g0#member@user:anne")
    assert openfga_code(info.value) == (2002, "authorization_model_resolution_too_complex")


async def test_chain_just_under_the_depth_limit_resolves(make_env: Any) -> None:
    env = await make_env(GROUPS, _chain(24))
    assert await env.check("group:g0#member@user:anne")


async def test_ten_thousand_deep_chain_answers_fast(make_env: Any) -> None:
    env = await make_env(GROUPS, _chain(10_000))
    start = time.monotonic()
    with pytest.raises(ResolutionDepthExceededError):
        await env.check("group:g0#member@user:anne")
    assert await env.check("group:g9990#member@user:anne")
    assert time.monotonic() - start < env.limits.check_deadline_s


async def test_ten_thousand_deep_folder_chain_lists_within_the_deadline(make_env: Any) -> None:
    tuples = [f"folder:f{i + 1}#parent@folder:f{i}" for i in range(10_000)] + [
        "folder:f0#viewer@user:anne"
    ]
    env = await make_env(GROUPS, tuples)
    start = time.monotonic()
    with pytest.raises(ResolutionDepthExceededError):
        await env.objects("folder", "viewer", "user:anne")
    with pytest.raises(ResolutionDepthExceededError):
        await env.users("folder:f9999", "viewer", "user")
    assert time.monotonic() - start < env.limits.list_deadline_s


async def test_dispatch_limit(make_env: Any) -> None:
    tuples = [f"document:1#viewer@group:g{i}#member" for i in range(50)]
    env = (await make_env(GROUPS, tuples)).with_limits(max_dispatches=10)
    with pytest.raises(DispatchLimitExceededError) as info:
        await env.check("document:1#viewer@user:anne")
    assert openfga_code(info.value)[0] == 4006


async def test_deadline(make_env: Any) -> None:
    tuples = [f"document:1#viewer@group:g{i}#member" for i in range(2000)]
    env = (await make_env(GROUPS, tuples)).with_limits(check_deadline_s=0.0)
    with pytest.raises(DeadlineExceededError) as info:
        await env.check("document:1#viewer@user:anne")
    assert openfga_code(info.value) == (4004, "deadline_exceeded")


CONDITIONS = """
model
  schema 1.1
type user
type document
  relations
    define viewer: [user with in_hours] or editor
    define editor: [user, user with in_hours]
condition in_hours(hour: int) {
  hour >= 9 && hour < 17
}
"""


async def test_condition_missing_parameter_is_an_error(make_env: Any) -> None:
    env = await make_env(CONDITIONS)
    await env.write(
        [
            TupleKey(
                object="document:1",
                relation="editor",
                user="user:anne",
                condition=TupleCondition(name="in_hours"),
            )
        ]
    )
    with pytest.raises(ConditionMissingParametersError) as info:
        await env.check("document:1#viewer@user:anne")
    assert openfga_code(info.value)[0] == 2000
    assert "is missing context parameters '[hour]'" in str(info.value)
    assert await env.check("document:1#viewer@user:anne", context={"hour": 10})
    assert not await env.check("document:1#viewer@user:anne", context={"hour": 20})


async def test_an_error_loses_to_a_deciding_branch(make_env: Any) -> None:
    env = await make_env(CONDITIONS)
    await env.write(
        [
            TupleKey(
                object="document:1",
                relation="viewer",
                user="user:anne",
                condition=TupleCondition(name="in_hours"),
            ),
            TupleKey(object="document:1", relation="editor", user="user:anne"),
        ]
    )
    assert await env.check("document:1#viewer@user:anne")


async def test_persisted_context_wins_over_request_context(make_env: Any) -> None:
    env = await make_env(CONDITIONS)
    await env.write(
        [
            TupleKey(
                object="document:1",
                relation="editor",
                user="user:anne",
                condition=TupleCondition(name="in_hours", context={"hour": 10}),
            )
        ]
    )
    assert await env.check("document:1#viewer@user:anne", context={"hour": 22})


async def test_stale_tuples_are_ignored(make_env: Any) -> None:
    env = await make_env(GROUPS, ["document:1#viewer@user:anne", "document:2#viewer@user:*"])
    assert await env.check("document:1#viewer@user:anne")
    await env.datastore.write_model(
        env.store_id,
        parse_dsl(
            "model\n  schema 1.1\ntype user\ntype employee\ntype document\n  relations\n    define viewer: [employee, user]\n"
        ),
    )
    assert await env.check("document:1#viewer@user:anne")
    await env.datastore.write_model(
        env.store_id,
        parse_dsl(
            "model\n  schema 1.1\ntype user\ntype employee\ntype document\n  relations\n    define viewer: [employee]\n"
        ),
    )
    assert not await env.check("document:1#viewer@user:anne")
    assert not await env.check("document:2#viewer@employee:bob")
    assert await env.objects("document", "viewer", "user:anne") == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param(
            "document:1#nope@user:anne", "relation 'document#nope' not found", id="unknown_relation"
        ),
        pytest.param("nope:1#viewer@user:anne", "type 'nope' not found", id="unknown_object_type"),
        pytest.param(
            "document:1#viewer@robot:anne", "type 'robot' not found", id="unknown_user_type"
        ),
        pytest.param(
            "document:1#viewer@group:x#nope",
            "relation 'group#nope' not found",
            id="unknown_userset_relation",
        ),
    ],
)
async def test_invalid_check_is_validation_error(make_env: Any, query: str, message: str) -> None:
    env = await make_env(GROUPS)
    with pytest.raises(InvalidInputError) as info:
        await env.check(query)
    assert message in str(info.value)
    assert openfga_code(info.value)[0] == 2000


async def test_contextual_tuples_take_part_and_are_validated(make_env: Any) -> None:
    env = await make_env(GROUPS, ["group:a#member@user:anne"])
    assert await env.check(
        "document:1#viewer@user:anne", contextual=["document:1#viewer@group:a#member"]
    )
    assert not await env.check("document:1#viewer@user:anne")
    with pytest.raises(TupleValidationError) as info:
        await env.check("document:1#viewer@user:anne", contextual=["document:1#viewer@folder:x"])
    assert str(info.value) == (
        "Invalid tuple 'document:1#viewer@folder:x'. Reason: type 'folder' is not an allowed type restriction "
        "for 'document#viewer'"
    )
    assert openfga_code(info.value)[0] == 2027
