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
   conditions of tuples that cannot contribute are never looked at;
2. every candidate is *confirmed by Check*, in a deterministic (sorted) order.

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

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from permsvc.engine.request import ResolveContext

__all__ = ("expand_candidates", "list_objects")


async def expand_candidates(ctx: ResolveContext, object_type: str, relation: str) -> list[str]:
    """Objects of ``object_type`` that may have ``relation`` with ``ctx.user``, sorted.

    Bounded by the request's deadline (checked every few hundred nodes), not by the dispatch
    allowance: the walk visits each node once, so its work is linear in the tuples it reads.
    """
    plan = ctx.plan
    graph = plan.graph
    relevant = graph.relevant(object_type, relation)
    reader = ctx.reader
    store_id = ctx.store_id
    budget = ctx.budget
    found: set[str] = set()
    steps = 0
    seen_nodes: set[str] = set()
    seen_subjects: set[str] = set()
    subjects: deque[str] = deque()
    nodes: deque[tuple[str, str]] = deque()

    def add_node(obj: str, rel: str) -> None:
        node = f"{obj}#{rel}"
        if node not in seen_nodes:
            seen_nodes.add(node)
            nodes.append((obj, rel))

    def add_subject(subject: str) -> None:
        if subject not in seen_subjects:
            seen_subjects.add(subject)
            subjects.append(subject)

    user = ctx.user
    uobj, sep, urel = user.partition("#")
    if sep:
        add_node(uobj, urel)
    else:
        add_subject(user)
        if ctx.user_wildcard:
            add_subject(ctx.user_wildcard)
    while subjects or nodes:
        while subjects:
            subject = subjects.popleft()
            steps += 1
            if not steps & 255:
                budget.check_deadline()
            sobj, ssep, srel = subject.partition("#")
            stype, _, sid = sobj.partition(":")
            key = f"{stype}#{srel}" if ssep else (f"{stype}:*" if sid == "*" else stype)
            for otype, rel in graph.direct.get(key, ()):
                if (otype, rel) not in relevant:
                    continue
                for tk in await reader.read_starting_with_user(store_id, otype, rel, [subject]):
                    if plan.fits(tk) and condition_counts(plan, tk, ctx):
                        add_node(tk.object, rel)
        while nodes:
            obj, rel = nodes.popleft()
            steps += 1
            if not steps & 255:
                budget.check_deadline()
            otype = obj.partition(":")[0]
            if otype == object_type and rel == relation:
                found.add(obj)
            add_subject(f"{obj}#{rel}")
            for other in graph.computed.get((otype, rel), ()):
                if (otype, other) in relevant:
                    add_node(obj, other)
            for ttype, trel, tupleset in graph.ttu.get((otype, rel), ()):
                if (ttype, trel) not in relevant:
                    continue
                for tk in await reader.read_starting_with_user(store_id, ttype, tupleset, [obj]):
                    if plan.fits(tk) and condition_counts(plan, tk, ctx):
                        add_node(tk.object, trel)
            if subjects:
                break
    return sorted(found)


async def list_objects(
    ctx: ResolveContext, object_type: str, relation: str, *, after: str = ""
) -> AsyncIterator[str]:
    """Objects (``type:id``) with ``relation`` to ``ctx.user``, in sorted order, strictly after ``after``.

    Each candidate is confirmed by its own Check with a fresh dispatch allowance and the request's
    remaining deadline. Branch errors of a candidate (a condition missing parameters, the depth
    limit) end the listing with that error, as OpenFGA's ListObjects does.
    """
    checker = LocalChecker()
    candidates = await expand_candidates(ctx, object_type, relation)
    rp = ctx.plan.relations[(object_type, relation)]
    shared = ctx.budget
    for obj in candidates:
        if obj <= after:
            continue
        shared.check_deadline()
        ctx.budget = ResolveBudget(max_dispatches=shared.max_dispatches, deadline_s=shared.deadline_s)
        ctx.budget.deadline = shared.deadline
        try:
            result = await checker.bounded(ctx, rp, obj)
        finally:
            ctx.budget = shared
        if result == TRUE:
            yield obj
