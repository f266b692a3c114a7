"""The explainer's answers for each kind of step and failure, on small hand-made stores.

(Every witness and denial over the conformance suites and random data is re-verified in
``tests/conformance/test_explain_verified.py``; these pin the shapes a person reads.)"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from permsvc.commands.explain import ExplainParams, ExplainQuery
from permsvc.commands.models import ModelResolver
from permsvc.core.refs import TupleCondition, TupleKey, parse_tuple
from permsvc.engine.explain import (
    Denial,
    prune,
    render,
    short_form,
    stored_keys,
    with_write_revisions,
)
from permsvc.model.compile import parse_dsl
from permsvc.settings import EngineLimits
from permsvc.store.memory import MemoryDatastore

MODEL = """
model
  schema 1.1
type user
type group
  relations
    define member: [user, group#member]
type document
  relations
    define approved: [user]
    define editor: [user, group#member]
    define timed: [user with small]
    define publish: editor and approved
    define viewer: [user] or editor
condition small(x: int) {
  x < 10
}
"""


async def _explain(
    tuples: list[TupleKey], query: str, *, ds: MemoryDatastore | None = None, **params: Any
) -> Any:
    ds = ds or MemoryDatastore()
    store = await ds.create_store("t")
    await ds.write_model(store.id, parse_dsl(MODEL))
    for key in tuples:  # one revision per tuple
        await ds.write(store.id, writes=[key])
    limits = params.pop("limits", EngineLimits())
    out = await ExplainQuery(reader=ds, resolver=ModelResolver(ds), limits=limits).execute(
        ExplainParams(store_id=store.id, tuple_key=parse_tuple(query), **params)
    )
    await ds.aclose()
    return out


async def test_condition_steps_carry_parameters_and_result() -> None:
    key = TupleKey(
        object="document:1", relation="timed", user="user:a", condition=TupleCondition(name="small")
    )
    allowed = await _explain([key], "document:1#timed@user:a", context={"x": 3})
    witness = allowed.explanation.witnesses[0]
    assert [s.kind for s in witness] == ["relation", "tuple", "condition"]
    cond = witness[2].condition
    assert cond.name == "small" and cond.parameters == {"x": 3} and cond.result is True
    assert cond.expression.strip() == "x < 10"
    denied = await _explain([key], "document:1#timed@user:a", context={"x": 30})
    d = denied.explanation.denial
    assert (
        d.reason == "condition_false"
        and d.condition.parameters == {"x": 30}
        and d.condition.result is False
    )
    missing = await _explain([key], "document:1#timed@user:a")
    assert (
        missing.explanation.error is not None
        and missing.explanation.denial.reason == "condition_error"
    )


async def test_stored_steps_name_the_revision_their_tuple_was_written_at() -> None:
    tuples = [
        parse_tuple("document:1#editor@group:x#member"),
        parse_tuple("document:1#approved@user:a"),
        parse_tuple("group:x#member@user:a"),
    ]
    out = await _explain(tuples, "document:1#publish@user:a")
    assert out.revision == 3
    assert sorted(stored_keys(out.explanation), key=str) == sorted(tuples, key=str)
    side_tuples = [
        (step.tuple_key, step.revision)
        for side in out.explanation.witnesses[0][1].sides
        for step in side
        if step.kind == "tuple"
    ]
    assert sorted(side_tuples, key=lambda t: t[1]) == [(k, i + 1) for i, k in enumerate(tuples)]


class _RewrittenSince(MemoryDatastore):
    """A store whose tuples were all written again after the decision's revision."""

    async def tuple_write_revisions(
        self, store_id: str, keys: Sequence[TupleKey]
    ) -> dict[tuple[str, str, str], int]:
        live = await super().tuple_write_revisions(store_id, keys)
        return {k: r + 100 for k, r in live.items()}


async def test_a_tuple_written_again_since_the_decision_has_no_revision() -> None:
    tuples = [parse_tuple("document:1#viewer@user:a")]
    out = await _explain(tuples, "document:1#viewer@user:a", ds=_RewrittenSince())
    step = out.explanation.witnesses[0][1]
    assert step.kind == "tuple" and step.revision is None
    assert any(line.endswith("(stored)") for line in render(out.explanation))
    assert with_write_revisions(out.explanation, {tuples[0].key: 1}).witnesses[0][1].revision == 1


async def test_intersection_side_and_its_witness() -> None:
    tuples = [parse_tuple("document:1#editor@user:a")]
    denied = await _explain(tuples, "document:1#publish@user:a")
    d = denied.explanation.denial
    sides = [c for c in d.children if c.kind == "intersection"]
    assert sides and sides[0].reason == "side_failed" and "side 2 of 2" in sides[0].detail
    tuples.append(parse_tuple("document:1#approved@user:a"))
    allowed = await _explain(tuples, "document:1#publish@user:a")
    step = allowed.explanation.witnesses[0][1]
    assert step.kind == "intersection" and len(step.sides) == 2


async def test_all_paths_lists_witnesses_shortest_first() -> None:
    tuples = [
        parse_tuple("document:1#editor@group:x#member"),
        parse_tuple("group:x#member@user:a"),
        parse_tuple("document:1#viewer@user:a"),
    ]
    out = await _explain(tuples, "document:1#viewer@user:a", all_paths=True, limit=5)
    witnesses = out.explanation.witnesses
    assert len(witnesses) == 2
    assert [s.kind for s in witnesses[0]] == ["relation", "tuple"]
    assert [s.kind for s in witnesses[1]] == ["relation", "computed", "tuple", "userset", "tuple"]
    one = await _explain(tuples, "document:1#viewer@user:a")
    assert len(one.explanation.witnesses) == 1 and len(one.explanation.witnesses[0]) == 2
    assert short_form(one.explanation) == "allowed via document:1#viewer@user:a"


async def test_cycles_and_the_depth_limit_are_reasons() -> None:
    loop = [
        parse_tuple("group:a#member@group:b#member"),
        parse_tuple("group:b#member@group:a#member"),
    ]
    out = await _explain(loop, "group:a#member@user:z")
    assert out.explanation.cycle_detected and not out.explanation.allowed
    assert "cycle" in "\n".join(render(out.explanation))
    chain = [parse_tuple(f"group:g{i}#member@group:g{i + 1}#member") for i in range(6)]
    deep = await _explain(
        chain, "group:g0#member@user:z", limits=EngineLimits(max_resolution_depth=3)
    )
    assert deep.explanation.error is not None
    assert "depth limit" in "\n".join(render(deep.explanation))


def test_prune_counts_what_it_leaves_out_and_shares_memoised_subtrees() -> None:
    leaf = Denial(kind="direct", reason="no_tuple", object="group:x", relation="member")
    shared = Denial(
        kind="relation",
        reason="no_branch",
        object="group:s",
        relation="member",
        children=(leaf, leaf),
    )
    for i in range(40):  # a chain of diamonds: 2**40 paths, 2 objects per level
        shared = Denial(
            kind="relation",
            reason="no_branch",
            object=f"group:{i}",
            relation="member",
            children=(shared, shared),
        )
    tree, pruned = prune(shared, max_nodes=10)
    shown = 0
    todo = [tree]
    while todo:
        d = todo.pop()
        shown += 1
        todo.extend(d.children)
    assert shown == 10
    assert (
        pruned == 2**42 - 1 - 10
    )  # every path's nodes (3 at the bottom, doubling per level), minus those shown
    assert tree.pruned + sum(c.pruned for c in tree.children) > 0


@pytest.mark.parametrize("limit", [0, 101])
async def test_limit_out_of_range_is_refused(limit: int) -> None:
    from permsvc.commands.errors import InvalidInputError

    with pytest.raises(InvalidInputError):
        await _explain([], "document:1#viewer@user:a", all_paths=True, limit=limit)
