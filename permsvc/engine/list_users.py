"""ListUsers: the users of one type (or userset type) related to one object.

Forward expansion from ``object#relation`` through the rewrite (computed usersets, usersets in
tuples, tuple-to-userset parents) collects candidate users of the filter type: objects
(``user:anne``), the typed wildcard (``user:*``) and, for a filter with a relation, usersets
(``group:eng#member``). Intersections and exclusions are walked like unions and conditions are not
evaluated here; every candidate is then confirmed by Check. That is what keeps ListUsers
consistent with Check, including the case OpenFGA got wrong (GHSA-g3pg-frfm-pr2m): a user
excluded by ``but not`` under a wildcard inside an intersection is not listed, because its Check
is false.

The expansion advances in waves: the reads of every node queued are issued together, so over a
database (a batching reader) a wave costs one statement, not one per node.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

from permsvc.engine.local import TRUE, LocalChecker
from permsvc.engine.request import ResolveBudget
from permsvc.model import schema
from permsvc.store.protocol import MAX_KEYS_PER_READ

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from permsvc.core.refs import TupleKey
    from permsvc.engine.plan import ModelPlan, RelationPlan
    from permsvc.engine.request import ResolveContext
    from permsvc.model.schema import Rewrite

__all__ = ("condition_counts", "expand_user_candidates", "list_users")

_CONFIRMING = 8
"""Candidates a ListUsers over a database confirms at once (each Check bounded on its own)."""


def condition_counts(plan: ModelPlan, key: TupleKey, ctx: ResolveContext) -> bool:
    """Whether a tuple met during expansion counts; a condition that cannot be evaluated (missing
    parameters) fails the whole listing, as OpenFGA's ListUsers/ListObjects do: unlike Check,
    they do not know whether another path would have decided."""
    return key.condition is None or plan.condition_holds(key, ctx.context)


def _leaves(rewrite: Rewrite) -> list[Rewrite]:
    match rewrite:
        case schema.Union(children=children) | schema.Intersection(children=children):
            return [leaf for child in children for leaf in _leaves(child)]
        case schema.Difference(base=base):
            return _leaves(base)
    return [rewrite]


async def expand_user_candidates(
    ctx: ResolveContext, object_: str, relation: str, filter_type: str, filter_relation: str = ""
) -> list[str]:
    """Candidate users of ``filter_type`` (``filter_type#filter_relation``) for ``object_#relation``, sorted.

    Bounded by the request's deadline; each node is visited once.
    """
    plan = ctx.plan
    budget = ctx.budget
    found: set[str] = set()
    seen: set[str] = {f"{object_}#{relation}"}
    nodes: deque[tuple[str, str]] = deque([(object_, relation)])

    def add(obj: str, rel: str) -> None:
        node = f"{obj}#{rel}"
        if node not in seen:
            seen.add(node)
            nodes.append((obj, rel))

    steps = 0
    while nodes:
        # A wave: every node queued now, its reads issued together (one statement over a database).
        wave: list[tuple[str, str, RelationPlan]] = []
        while nodes:
            obj, rel = nodes.popleft()
            steps += 1
            if not steps & 255:
                budget.check_deadline()
            otype = obj.partition(":")[0]
            rp = plan.relations.get((otype, rel))
            if rp is None:
                continue
            if filter_relation and otype == filter_type and rel == filter_relation:
                found.add(f"{obj}#{rel}")
            wave.append((obj, rel, rp))
        reads: list[tuple[str, str, schema.This | schema.TupleToUserset]] = []
        for obj, rel, rp in wave:
            for leaf in _leaves(rp.rewrite):
                match leaf:
                    case schema.This():
                        reads.append((obj, rel, leaf))
                    case schema.ComputedUserset(relation=other):
                        add(obj, other)
                    case schema.TupleToUserset(tupleset=ts):
                        reads.append((obj, ts, leaf))
        for (obj, _, leaf), tuples in zip(reads, await _read_all(ctx, reads), strict=True):
            if isinstance(leaf, schema.This):
                for tk in tuples:
                    if not plan.fits(tk) or not condition_counts(plan, tk, ctx):
                        continue
                    user = tk.user
                    uobj, sep, urel = user.partition("#")
                    utype = uobj.partition(":")[0]
                    if sep:
                        add(uobj, urel)
                    elif utype == filter_type and not filter_relation:
                        found.add(user)
                continue
            cr = leaf.computed_relation
            for tk in tuples:
                parent = tk.user
                if "#" in parent or parent.endswith(":*") or not plan.fits(tk):
                    continue
                if not condition_counts(plan, tk, ctx):
                    continue
                if (parent.partition(":")[0], cr) in plan.relations:
                    add(parent, cr)
    return sorted(found)


async def _read_all(
    ctx: ResolveContext, reads: Sequence[tuple[str, str, Rewrite]]
) -> list[Sequence[TupleKey]]:
    """``read_object_relation`` of every ``(object, relation)`` of ``reads``, in order: one after
    the other from memory, else issued together (a batching reader sends each
    ``MAX_KEYS_PER_READ`` of them as one statement)."""
    reader, store_id = ctx.reader, ctx.store_id
    if ctx.inline:
        return [await reader.read_object_relation(store_id, obj, rel) for obj, rel, _ in reads]
    out: list[Sequence[TupleKey]] = []
    for start in range(0, len(reads), MAX_KEYS_PER_READ):
        chunk = reads[start : start + MAX_KEYS_PER_READ]
        out.extend(
            await asyncio.gather(
                *(reader.read_object_relation(store_id, obj, rel) for obj, rel, _ in chunk)
            )
        )
    return out


async def list_users(
    ctx: ResolveContext,
    object_: str,
    relation: str,
    filter_type: str,
    filter_relation: str = "",
    *,
    after: str = "",
) -> AsyncIterator[str]:
    """Users related to ``object_#relation``, in sorted order, strictly after ``after``; each
    confirmed by Check (fresh dispatch allowance, the request's remaining deadline).

    From memory the Checks run one after the other. Over a database up to ``_CONFIRMING`` of them
    run concurrently, so their reads share statements; results are still yielded in order, and the
    first candidate whose Check fails ends the listing with its error after the ones before it.
    """
    checker = LocalChecker()
    candidates = await expand_user_candidates(ctx, object_, relation, filter_type, filter_relation)
    otype = object_.partition(":")[0]
    rp = ctx.plan.relations[(otype, relation)]
    shared = ctx.budget

    async def confirm(user: str) -> bool:
        sub = ctx.for_user(user)
        sub.budget = ResolveBudget(
            max_dispatches=shared.max_dispatches, deadline_s=shared.deadline_s
        )
        sub.budget.deadline = shared.deadline
        return await checker.bounded(sub, rp, object_) == TRUE

    pending = [user for user in candidates if user > after]
    step = 1 if ctx.inline else _CONFIRMING
    for start in range(0, len(pending), step):
        shared.check_deadline()
        chunk = pending[start : start + step]
        if step == 1:
            if await confirm(chunk[0]):
                yield chunk[0]
            continue
        outcomes = await asyncio.gather(*map(confirm, chunk), return_exceptions=True)
        for user, outcome in zip(chunk, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                raise outcome
            if outcome:
                yield user
