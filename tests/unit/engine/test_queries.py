"""ListObjects / ListUsers (pagination, consistency with Check), BatchCheck, Expand, ListRelations."""

from __future__ import annotations

import time
from typing import Any

import msgspec
import pytest

from permsvc.commands.batch_check import BatchCheckItem, BatchCheckParams
from permsvc.commands.errors import InvalidInputError
from permsvc.commands.expand import ExpandParams
from permsvc.commands.list_objects import ListObjectsParams, ListObjectsQuery
from permsvc.commands.list_relations import ListRelationsParams
from permsvc.commands.list_users import ListUsersParams, UserFilter
from permsvc.core.refs import parse_tuple
from permsvc.engine.errors import DeadlineExceededError
from permsvc.model.typesystem import RelationNotFoundError, TypeNotFoundError
from permsvc.store.errors import InvalidContinuationTokenError
from permsvc.store.wrappers.proxy import TupleReaderProxy

DRIVE = """
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
    define editor: [user] or owner
    define blocked: [user]
    define viewer: [user, user:*, group#member] or editor or viewer from parent
    define can_view: viewer but not blocked
"""


async def test_list_objects_pages_without_duplicates_or_omissions(make_env: Any) -> None:
    tuples = [f"document:{i:03d}#viewer@user:anne" for i in range(25)] + [
        "document:x#viewer@user:bob"
    ]
    env = await make_env(DRIVE, tuples)
    query = env.queries()["objects"]
    params = ListObjectsParams(
        store_id=env.store_id, type="document", relation="viewer", user="user:anne", page_size=10
    )
    seen: list[str] = []
    pages = 0
    while True:
        page = await query.execute(params)
        pages += 1
        seen.extend(page.objects)
        assert page.limit_reached == bool(page.continuation_token)
        if not page.continuation_token:
            break
        params = msgspec.structs.replace(params, continuation_token=page.continuation_token)
    assert pages == 3
    assert seen == sorted(f"document:{i:03d}" for i in range(25))


async def test_continuation_token_is_bound_to_its_query(make_env: Any) -> None:
    env = await make_env(DRIVE, [f"document:{i}#viewer@user:anne" for i in range(5)])
    query = env.queries()["objects"]
    first = await query.execute(
        ListObjectsParams(
            store_id=env.store_id, type="document", relation="viewer", user="user:anne", page_size=2
        )
    )
    with pytest.raises(InvalidContinuationTokenError):
        await query.execute(
            ListObjectsParams(
                store_id=env.store_id,
                type="document",
                relation="viewer",
                user="user:bob",
                continuation_token=first.continuation_token,
            )
        )


async def test_list_objects_stream_yields_everything(make_env: Any) -> None:
    env = await make_env(DRIVE, [f"document:{i}#viewer@user:anne" for i in range(1500)])
    params = ListObjectsParams(
        store_id=env.store_id, type="document", relation="viewer", user="user:anne"
    )
    streamed = [o async for o in env.queries()["objects"].stream(params)]
    assert len(streamed) == 1500
    first_page = await env.queries()["objects"].execute(params)
    assert len(first_page.objects) == env.limits.list_max_results
    assert first_page.limit_reached


async def test_list_deadline_before_any_result_is_an_error(make_env: Any) -> None:
    env = await make_env(DRIVE, [f"document:{i:04d}#viewer@user:anne" for i in range(300)])
    env = env.with_limits(list_deadline_s=0.0)
    with pytest.raises(DeadlineExceededError):
        await env.objects("document", "viewer", "user:anne")


class _SlowReader(TupleReaderProxy):
    """Point lookups take 20 ms, so a listing outlives a short deadline part-way."""

    async def read_user_tuple(self, store_id: str, object: str, relation: str, user: str) -> Any:
        time.sleep(0.02)  # noqa: ASYNC251 - a read that holds the loop, as a slow in-process index would
        return await super().read_user_tuple(store_id, object, relation, user)


async def test_list_deadline_returns_a_partial_page_and_a_token_that_continues(
    make_env: Any,
) -> None:
    env = await make_env(DRIVE, [f"document:{i:03d}#viewer@user:anne" for i in range(40)])
    limits = msgspec.structs.replace(env.limits, list_deadline_s=0.2)
    query = ListObjectsQuery(
        reader=_SlowReader(env.datastore), resolver=env.resolver, limits=limits
    )
    params = ListObjectsParams(
        store_id=env.store_id, type="document", relation="viewer", user="user:anne"
    )
    seen: list[str] = []
    while True:
        page = await query.execute(params)
        seen.extend(page.objects)
        if not page.continuation_token:
            break
        assert page.limit_reached
        assert 0 < len(page.objects) < 40
        params = msgspec.structs.replace(params, continuation_token=page.continuation_token)
    assert seen == [f"document:{i:03d}" for i in range(40)]


async def test_list_objects_through_groups_folders_and_exclusion(make_env: Any) -> None:
    env = await make_env(
        DRIVE,
        [
            "group:eng#member@user:anne",
            "folder:root#viewer@group:eng#member",
            "folder:sub#parent@folder:root",
            "document:a#parent@folder:sub",
            "document:b#viewer@user:*",
            "document:c#owner@user:anne",
            "document:c#blocked@user:anne",
        ],
    )
    assert await env.objects("document", "viewer", "user:anne") == [
        "document:a",
        "document:b",
        "document:c",
    ]
    assert await env.objects("document", "can_view", "user:anne") == ["document:a", "document:b"]
    assert await env.objects("folder", "viewer", "group:eng#member") == [
        "folder:root",
        "folder:sub",
    ]


async def test_list_objects_validation(make_env: Any) -> None:
    env = await make_env(DRIVE)
    with pytest.raises(TypeNotFoundError):
        await env.objects("nope", "viewer", "user:anne")
    with pytest.raises(RelationNotFoundError):
        await env.objects("document", "nope", "user:anne")
    with pytest.raises(InvalidInputError):
        await env.objects("document", "viewer", "robot:anne")


async def test_list_users_lists_objects_wildcards_and_usersets(make_env: Any) -> None:
    env = await make_env(
        DRIVE,
        [
            "group:eng#member@user:anne",
            "group:all#member@group:eng#member",
            "document:1#viewer@group:all#member",
            "document:1#viewer@user:*",
            "document:1#owner@user:carl",
        ],
    )
    assert await env.users("document:1", "viewer", "user") == ["user:*", "user:anne", "user:carl"]
    assert await env.users("document:1", "viewer", "group#member") == [
        "group:all#member",
        "group:eng#member",
    ]
    assert await env.users("document:1", "editor", "user") == ["user:carl"]


CVE = """
model
  schema 1.1
type user
type document
  relations
    define allowed: [user, user:*]
    define blocked: [user]
    define member: [user]
    define viewer: member and (allowed but not blocked)
"""


async def test_list_users_does_not_list_a_user_excluded_under_a_wildcard_in_an_intersection(
    make_env: Any,
) -> None:
    env = await make_env(
        CVE,
        [
            "document:1#allowed@user:*",
            "document:1#blocked@user:bob",
            "document:1#member@user:bob",
            "document:1#member@user:anne",
        ],
    )
    assert not await env.check("document:1#viewer@user:bob")
    assert await env.users("document:1", "viewer", "user") == ["user:anne"]


async def test_list_users_validation(make_env: Any) -> None:
    env = await make_env(DRIVE)
    with pytest.raises(TypeNotFoundError):
        await env.users("document:1", "viewer", "robot")
    with pytest.raises(RelationNotFoundError):
        await env.users("document:1", "viewer", "group#nope")
    with pytest.raises(InvalidInputError):
        await env.queries()["users"].execute(
            ListUsersParams(
                store_id=env.store_id,
                object="document:1",
                relation="viewer",
                user_filters=(UserFilter(type="user"), UserFilter(type="group")),
            )
        )


async def test_batch_check_item_errors_and_deduplication(make_env: Any) -> None:
    env = await make_env(DRIVE, ["document:1#viewer@user:anne"])
    items = (
        BatchCheckItem(correlation_id="a", tuple_key=parse_tuple("document:1#viewer@user:anne")),
        BatchCheckItem(correlation_id="b", tuple_key=parse_tuple("document:1#viewer@user:anne")),
        BatchCheckItem(correlation_id="c", tuple_key=parse_tuple("document:1#viewer@user:bob")),
        BatchCheckItem(correlation_id="d", tuple_key=parse_tuple("document:1#nope@user:bob")),
    )
    outcome = await env.queries()["batch"].execute(
        BatchCheckParams(store_id=env.store_id, items=items)
    )
    assert {k: v.allowed for k, v in outcome.results.items()} == {
        "a": True,
        "b": True,
        "c": False,
        "d": False,
    }
    assert outcome.results["a"] is outcome.results["b"]
    assert isinstance(outcome.results["d"].error, InvalidInputError)
    with pytest.raises(InvalidInputError):
        await env.queries()["batch"].execute(
            BatchCheckParams(store_id=env.store_id, items=items[:1] * 2)
        )


async def test_expand_is_one_level_in_openfga_shape(make_env: Any) -> None:
    env = await make_env(
        DRIVE,
        [
            "document:1#viewer@user:anne",
            "document:1#viewer@group:eng#member",
            "document:1#parent@folder:x",
            "document:1#blocked@user:bob",
        ],
    )
    out = await env.queries()["expand"].execute(
        ExpandParams(store_id=env.store_id, object="document:1", relation="can_view")
    )
    name = "document:1#can_view"
    assert out.tree == {
        "root": {
            "name": name,
            "difference": {
                "base": {"name": name, "leaf": {"computed": {"userset": "document:1#viewer"}}},
                "subtract": {"name": name, "leaf": {"computed": {"userset": "document:1#blocked"}}},
            },
        }
    }
    out = await env.queries()["expand"].execute(
        ExpandParams(store_id=env.store_id, object="document:1", relation="viewer")
    )
    name = "document:1#viewer"
    assert out.tree == {
        "root": {
            "name": name,
            "union": {
                "nodes": [
                    {"name": name, "leaf": {"users": {"users": ["user:anne", "group:eng#member"]}}},
                    {"name": name, "leaf": {"computed": {"userset": "document:1#editor"}}},
                    {
                        "name": name,
                        "leaf": {
                            "tupleToUserset": {
                                "tupleset": "document:1#parent",
                                "computed": [{"userset": "folder:x#viewer"}],
                            }
                        },
                    },
                ]
            },
        }
    }


async def test_list_relations(make_env: Any) -> None:
    env = await make_env(DRIVE, ["document:1#owner@user:anne", "document:1#blocked@user:anne"])
    query = env.queries()["relations"]
    out = await query.execute(
        ListRelationsParams(store_id=env.store_id, object="document:1", user="user:anne")
    )
    assert out.relations == ["owner", "editor", "blocked", "viewer"]
    out = await query.execute(
        ListRelationsParams(
            store_id=env.store_id,
            object="document:1",
            user="user:anne",
            relations=("can_view", "viewer"),
        )
    )
    assert out.relations == ["viewer"]
    with pytest.raises(RelationNotFoundError):
        await query.execute(
            ListRelationsParams(
                store_id=env.store_id,
                object="document:1",
                user="user:anne",
                relations=("nope",),
            )
        )


async def test_list_walk_is_bounded_by_the_deadline_not_the_dispatch_allowance(
    make_env: Any,
) -> None:
    tuples = ["group:eng#member@user:anne"] + [
        f"document:{i:03d}#viewer@group:eng#member" for i in range(300)
    ]
    env = (await make_env(DRIVE, tuples)).with_limits(max_dispatches=50)
    assert len(await env.objects("document", "viewer", "user:anne")) == 300
    assert await env.users("document:000", "viewer", "user") == ["user:anne"]
