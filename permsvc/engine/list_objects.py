"""ListObjects: the objects of a type a user has a relation with.

Two phases, as OpenFGA's reverse expansion + ``RequiresFurtherEvalStatus`` in
``commands/list_objects.go``, but simpler and stricter:

1. *reverse expansion* walks from the user through the model's reverse edges
   (:class:`~permsvc.engine.graph.ReverseGraph`), reading tuples by user, and collects every
   object of the requested type that could be related (a superset: intersections and exclusions
   are not decided here). Only edges into relations the requested relation depends on
   (:meth:`~permsvc.engine.graph.ReverseGraph.relevant`) are followed, as OpenFGA drives its
   reverse expansion from the target relation's edges: the conditions of tuples met on those
   edges are evaluated (a condition missing parameters fails the listing, as in OpenFGA), the
   conditions of tuples that cannot contribute are never looked at. Each candidate is marked
   *definite* when a path of unions, computed usersets, tuple-to-usersets and tuples whose
   conditions held reaches it (no intersection or exclusion on the way);
2. every other candidate is *confirmed by Check*, in a deterministic (sorted) order.

The expansion advances in waves: all subjects queued are read together (one reverse read per edge
for every subject of a type), then all nodes (one per tuple-to-userset edge for every object of a
relation), so over a database a listing costs a few statements per level, not one per subject.

The result is therefore exactly ``{o | Check(o) is True}`` over the objects the expansion can
find, which is every object that has tuples (an object without any tuple has no relation). The
sorted order is what makes pagination by "last object returned" exact.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from permsvc.engine.list_users import condition_counts
from permsvc.engine.local import TRUE, LocalChecker
from permsvc.engine.request import ResolveBudget
from permsvc.store.protocol import MAX_KEYS_PER_READ, StartingWithUser

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from permsvc.core.refs import TupleKey
    from permsvc.engine.request import ResolveContext
    from permsvc.store.protocol import TupleReader

__all__ = ("expand_candidates", "list_objects")


async def expand_candidates(
    ctx: ResolveContext, object_type: str, relation: str
) -> list[tuple[str, bool]]:
    """Objects of ``object_type`` that may have ``relation`` with ``ctx.user``, sorted, each with
    whether it is *definite*.

    A candidate is definite when a path from the user reaches it through definite edges only
    (see :class:`~permsvc.engine.graph.ReverseGraph`), every tuple on the path fitting the model
    and its condition, if any, evaluated true with the request's context, and the path's
    dispatches (userset and tuple-to-userset hops) staying below the resolution depth limit: Check
    is then certain to answer true, so, as OpenFGA's reverse expansion does, the object is a result
    without further evaluation. A candidate found only deeper is left to Check, which reports the
    depth error as before. A userset user's own node (``group:eng#member`` when listing for
    ``group:eng#member``) starts indefinite; the tuples naming that userset are definite.

    A node's *level* is the fewest dispatches on a definite path to it; ``cap`` (one below the
    depth limit, the margin keeping clear of the limit's boundary) stands for "indefinite". Each
    node is expanded again only when a path with fewer dispatches reaches it (at most once
    per depth level, in practice once or twice). Bounded by the request's deadline (checked every
    few hundred nodes), not by the dispatch allowance: the walk's work is linear in the tuples it
    reads.
    """
    plan = ctx.plan
    graph = plan.graph
    relevant = graph.relevant(object_type, relation)
    reader = ctx.reader
    store_id = ctx.store_id
    budget = ctx.budget
    cap = max(ctx.limits.max_resolution_depth - 1, 0)
    found: dict[str, int] = {}
    steps = 0
    seen_nodes: dict[str, int] = {}
    seen_subjects: dict[str, int] = {}
    subjects: deque[tuple[str, int]] = deque()
    nodes: deque[tuple[str, str, int]] = deque()

    def add_node(obj: str, rel: str, level: int) -> None:
        node = f"{obj}#{rel}"
        level = min(level, cap)
        if level < seen_nodes.get(node, cap + 1):
            seen_nodes[node] = level
            nodes.append((obj, rel, level))

    def add_subject(subject: str, level: int) -> None:
        if level < seen_subjects.get(subject, cap + 1):
            seen_subjects[subject] = level
            subjects.append((subject, level))

    def ticked() -> None:
        nonlocal steps
        steps += 1
        if not steps & 255:
            budget.check_deadline()

    user = ctx.user
    uobj, sep, urel = user.partition("#")
    add_subject(user, 0)
    if sep:
        add_node(uobj, urel, cap)
    elif ctx.user_wildcard:
        add_subject(ctx.user_wildcard, 0)
    while subjects or nodes:
        # A wave of subjects: one reverse read per edge for all subjects of a type, not per subject.
        by_key: dict[str, dict[str, int]] = {}
        while subjects:
            subject, level = subjects.popleft()
            if level > seen_subjects[subject]:
                continue
            ticked()
            sobj, ssep, srel = subject.partition("#")
            stype, _, sid = sobj.partition(":")
            key = f"{stype}#{srel}" if ssep else (f"{stype}:*" if sid == "*" else stype)
            by_key.setdefault(key, {})[subject] = level + 1 if ssep else level
        for key, hops in by_key.items():
            for otype, rel, definite in graph.direct.get(key, ()):
                if (otype, rel) not in relevant:
                    continue
                for tk in await _read_by_users(reader, store_id, otype, rel, hops):
                    if plan.fits(tk) and condition_counts(plan, tk, ctx):
                        add_node(tk.object, rel, hops[tk.user] if definite else cap)
        # A wave of nodes: one reverse read per tuple-to-userset edge for all objects of a relation.
        parents: dict[tuple[str, str], dict[str, int]] = {}
        while nodes:
            obj, rel, level = nodes.popleft()
            node = f"{obj}#{rel}"
            if level > seen_nodes[node]:
                continue
            ticked()
            otype = obj.partition(":")[0]
            if otype == object_type and rel == relation:
                found[obj] = min(level, found.get(obj, cap))
            add_subject(node, level)
            for other, definite in graph.computed.get((otype, rel), ()):
                if (otype, other) in relevant:
                    add_node(obj, other, level if definite else cap)
            if graph.ttu.get((otype, rel)):
                parents.setdefault((otype, rel), {})[obj] = level
        for (otype, rel), levels in parents.items():
            for ttype, trel, tupleset, definite in graph.ttu[(otype, rel)]:
                if (ttype, trel) not in relevant:
                    continue
                for tk in await _read_by_users(reader, store_id, ttype, tupleset, levels):
                    if plan.fits(tk) and condition_counts(plan, tk, ctx):
                        add_node(tk.object, trel, levels[tk.user] + 1 if definite else cap)
    return [(obj, level < cap) for obj, level in sorted(found.items())]


async def _read_by_users(
    reader: TupleReader, store_id: str, object_type: str, relation: str, users: dict[str, int]
) -> list[TupleKey]:
    """``object_type:*#relation@u`` for every ``u`` of ``users``: one reverse read per
    ``MAX_KEYS_PER_READ`` users (the statement stays bounded)."""
    names = list(users)
    out: list[TupleKey] = []
    for start in range(0, len(names), MAX_KEYS_PER_READ):
        chunk = names[start : start + MAX_KEYS_PER_READ]
        lookup = StartingWithUser(object_type=object_type, relation=relation, users=chunk)
        out.extend(await reader.read_starting_with_user(store_id, lookup))
    return out


async def list_objects(
    ctx: ResolveContext,
    object_type: str,
    relation: str,
    *,
    after: str = "",
    confirm_all: bool = False,
) -> AsyncIterator[str]:
    """Objects (``type:id``) with ``relation`` to ``ctx.user``, in sorted order, strictly after ``after``.

    Definite candidates (see :func:`expand_candidates`) are results as they are; the others are
    confirmed by their own Check with a fresh dispatch allowance and the request's remaining
    deadline. ``confirm_all`` checks every candidate (the reference the shortcut is tested
    against). Branch errors of a candidate (a condition missing parameters, the depth limit) end
    the listing with that error, as OpenFGA's ListObjects does.
    """
    checker = LocalChecker()
    candidates = await expand_candidates(ctx, object_type, relation)
    rp = ctx.plan.relations[(object_type, relation)]
    shared = ctx.budget
    for obj, definite in candidates:
        if obj <= after:
            continue
        shared.check_deadline()
        if definite and not confirm_all:
            yield obj
            continue
        ctx.budget = ResolveBudget(
            max_dispatches=shared.max_dispatches, deadline_s=shared.deadline_s
        )
        ctx.budget.deadline = shared.deadline
        try:
            result = await checker.bounded(ctx, rp, obj)
        finally:
            ctx.budget = shared
        if result == TRUE:
            yield obj
