"""ListObjects reports definite candidates without a confirming Check.

A candidate reached through unions, computed usersets, tuple-to-usersets and tuples (whose
conditions held) only is a result as it is; one reached through an intersection or an exclusion,
through a userset user's own node, or at the resolution depth limit is confirmed by Check. The
tests count the confirming checks (``LocalChecker.bounded``) and compare every listing with the
one that confirms every candidate (``confirm_all=True``).
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from permsvc.commands.list_objects import ListObjectsParams
from permsvc.core.refs import TupleCondition, TupleKey
from permsvc.engine import list_objects as list_objects_module
from permsvc.engine.errors import ResolutionDepthExceededError
from permsvc.engine.graph import ReverseGraph
from permsvc.engine.plan import ModelPlan
from permsvc.model.compile import parse_dsl
from permsvc.model.typesystem import TypeSystem

MODEL = """
model
  schema 1.1
type user
type group
  relations
    define member: [user, group#member]
type folder
  relations
    define parent: [folder]
    define owner: [user]
    define viewer: [user, group#member] or owner or viewer from parent
type document
  relations
    define parent: [folder]
    define owner: [user]
    define blocked: [user]
    define approved: [user]
    define editor: [user, user with in_hours] or owner
    define viewer: [user, user:*, group#member] or editor or viewer from parent
    define can_view: viewer but not blocked
    define can_publish: editor and approved
    define mixed: owner or (viewer and approved)
condition in_hours(hour: int) {
  hour >= 9 && hour < 17
}
"""

IN_HOURS = TupleCondition(name="in_hours")

TUPLES: list[str | TupleKey] = [
    "group:g1#member@user:anne",
    "group:g2#member@group:g1#member",
    "folder:f1#viewer@group:g2#member",
    "folder:f2#parent@folder:f1",
    "folder:f3#owner@user:anne",
    "document:1#parent@folder:f2",
    "document:2#parent@folder:f3",
    "document:3#viewer@user:*",
    "document:4#owner@user:anne",
    "document:5#viewer@user:bob",
    "document:1#blocked@user:anne",
    "document:4#approved@user:anne",
    "document:2#approved@user:anne",
    TupleKey(object="document:6", relation="editor", user="user:anne", condition=IN_HOURS),
]


@pytest.fixture
def confirmations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Objects confirmed by Check during the test, in order."""
    seen: list[str] = []
    original = list_objects_module.LocalChecker.bounded

    async def counting(self: Any, ctx: Any, rp: Any, obj: str) -> int:
        seen.append(obj)
        return await original(self, ctx, rp, obj)

    monkeypatch.setattr(list_objects_module.LocalChecker, "bounded", counting)
    return seen


def confirm_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "permsvc.commands.list_objects.list_objects",
        functools.partial(list_objects_module.list_objects, confirm_all=True),
    )


def test_graph_marks_edges_under_intersection_or_exclusion_indefinite() -> None:
    graph = ReverseGraph(ModelPlan(TypeSystem.new(parse_dsl(MODEL))))
    computed = {(t, src, rel): d for (t, src), edges in graph.computed.items() for rel, d in edges}
    assert computed[("document", "editor", "viewer")] is True
    assert computed[("document", "viewer", "can_view")] is False
    assert computed[("document", "editor", "can_publish")] is False
    assert computed[("document", "owner", "mixed")] is True
    assert computed[("document", "viewer", "mixed")] is False
    ttu = {(p, cr, t, rel): d for (p, cr), edges in graph.ttu.items() for t, rel, _ts, d in edges}
    assert ttu[("folder", "viewer", "document", "viewer")] is True
    assert ttu[("folder", "viewer", "folder", "viewer")] is True
    direct = {(key, t, rel): d for key, edges in graph.direct.items() for t, rel, d in edges}
    assert direct[("user", "document", "viewer")] is True
    assert direct[("user", "document", "approved")] is True


async def test_union_only_paths_are_listed_without_confirming(
    make_env: Any, confirmations: list[str]
) -> None:
    env = await make_env(MODEL, TUPLES)
    listed = await env.objects("document", "viewer", "user:anne", context={"hour": 10})
    assert listed == ["document:1", "document:2", "document:3", "document:4", "document:6"]
    assert confirmations == []


@pytest.mark.parametrize(
    "hour", [pytest.param(10, id="condition_true"), pytest.param(20, id="condition_false")]
)
async def test_conditional_tuples_count_only_when_their_condition_held(
    make_env: Any, confirmations: list[str], hour: int
) -> None:
    env = await make_env(MODEL, TUPLES)
    listed = await env.objects("document", "editor", "user:anne", context={"hour": hour})
    assert listed == (["document:4", "document:6"] if hour == 10 else ["document:4"])
    assert confirmations == []


@pytest.mark.parametrize(
    ("relation", "expected", "confirmed"),
    [
        pytest.param("can_view", ["document:2", "document:3", "document:4"], 4, id="exclusion"),
        pytest.param("can_publish", ["document:4"], 2, id="intersection"),
        pytest.param("mixed", ["document:2", "document:4"], 3, id="union_over_intersection"),
    ],
)
async def test_intersection_and_exclusion_paths_are_confirmed(
    make_env: Any, confirmations: list[str], relation: str, expected: list[str], confirmed: int
) -> None:
    env = await make_env(MODEL, TUPLES)
    assert await env.objects("document", relation, "user:anne", context={"hour": 20}) == expected
    assert len(confirmations) == confirmed


async def test_a_userset_users_own_node_is_confirmed(
    make_env: Any, confirmations: list[str]
) -> None:
    env = await make_env(MODEL, TUPLES)
    assert await env.objects("group", "member", "group:g1#member") == ["group:g1", "group:g2"]
    assert confirmations == ["group:g1"]


@pytest.mark.parametrize(
    ("relation", "user"),
    [
        pytest.param(relation, user, id=f"{relation}_{user.replace(':', '_').replace('#', '_')}")
        for relation in ("viewer", "editor", "can_view", "can_publish", "mixed")
        for user in ("user:anne", "user:bob", "user:*", "group:g1#member")
    ],
)
async def test_listing_equals_the_listing_that_confirms_every_candidate(
    make_env: Any, monkeypatch: pytest.MonkeyPatch, relation: str, user: str
) -> None:
    env = await make_env(MODEL, TUPLES)
    fast = await env.objects("document", relation, user, context={"hour": 10})
    confirm_everything(monkeypatch)
    assert await env.objects("document", relation, user, context={"hour": 10}) == fast


DEEP = """
model
  schema 1.1
type user
type folder
  relations
    define parent: [folder]
    define viewer: [user] or viewer from parent
"""


async def test_candidates_near_the_depth_limit_are_left_to_check(
    make_env: Any, confirmations: list[str]
) -> None:
    """``folder:f{99 - k}`` is ``k`` parent hops below the grant, so the deepest sorts first."""
    tuples = [f"folder:f{98 - k}#parent@folder:f{99 - k}" for k in range(30)] + [
        "folder:f99#viewer@user:anne"
    ]
    env = await make_env(DEEP, tuples, max_resolution_depth=25)
    with pytest.raises(ResolutionDepthExceededError):
        await env.objects("folder", "viewer", "user:anne")
    assert confirmations == ["folder:f69"]
    confirmations.clear()
    listed = await env.with_limits(max_resolution_depth=40).objects("folder", "viewer", "user:anne")
    assert listed == [f"folder:f{99 - k}" for k in range(30, -1, -1)]
    assert confirmations == []


async def test_paging_over_definite_results_keeps_sorted_order(make_env: Any) -> None:
    tuples = [f"document:{i:03d}#viewer@user:anne" for i in range(30)]
    env = await make_env(MODEL, tuples)
    pages: list[str] = []
    token = ""
    while True:
        out = await env.queries()["objects"].execute(
            ListObjectsParams(
                store_id=env.store_id,
                type="document",
                relation="viewer",
                user="user:anne",
                continuation_token=token,
                page_size=7,
            )
        )
        pages.extend(out.objects)
        token = out.continuation_token
        if not token:
            break
    assert pages == [f"document:{i:03d}" for i in range(30)]
