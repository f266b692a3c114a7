"""Explain: a Check's decision with its proof, evaluated apart from the hot check path.

:class:`Explainer` evaluates ``object#relation@user`` with the semantics of
:class:`~permsvc.engine.local.LocalChecker` (dispatches, depth, the path and cycles, memoised
``object#relation`` results, the userset user related to itself, stale tuples skipped,
conditions, error precedence), but keeps what the checker throws away:

- **allowed**: witnesses. A witness is a chain of typed :class:`Step` s from the object's relation
  to the user: the stored or contextual tuples on the way (a stored tuple with the revision it
  was written at, filled in by :func:`with_write_revisions`), each computed relation, each ``x from y`` hop, each userset hop, the
  wildcard match and every condition with the parameters it was evaluated with. An
  intersection's step holds one witness per side; an exclusion's step holds the tree showing
  that the excluding branch failed. Branches are evaluated exhaustively (each node once, results
  memoised as Check does), so each node keeps its ``limit`` shortest witnesses: the first
  witness is a shortest one. If the exhaustive search runs out of the request's dispatch or time
  budget, it is run again the way Check runs (first witness wins) and the answer says
  ``shortest=False``.
- **denied**: a :class:`Denial` tree: the branches that were tried and why each failed (no tuple,
  a condition false with its parameters, the user's type not admitted, an exclusion with the
  excluding witness, the intersection side that failed, a cycle, the depth limit), pruned by
  :func:`prune` to what a person can read, with the number of nodes left out.

Nothing here touches the check path: :mod:`permsvc.engine.local` and :mod:`permsvc.engine.sync`
do not import this module. Reads go through the request's async
:class:`~permsvc.store.protocol.TupleReader` (any backend, with the contextual-tuple overlay).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import msgspec

from permsvc.core.refs import TupleKey
from permsvc.engine.errors import BudgetExceededError, EngineError, ResolutionDepthExceededError
from permsvc.engine.reduce import ttu_hops, userset_hops
from permsvc.engine.request import CYCLE, FALSE, TRUE, ResolveBudget
from permsvc.model import conditions as _conditions
from permsvc.model.schema import (
    ComputedUserset,
    Difference,
    Intersection,
    This,
    TupleToUserset,
    Union,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from permsvc.engine.plan import RelationPlan
    from permsvc.engine.reduce import Hop
    from permsvc.engine.request import ResolveContext
    from permsvc.model.schema import Rewrite

__all__ = (
    "DEFAULT_MAX_DENIAL_NODES",
    "MAX_WITNESSES",
    "ConditionResult",
    "Denial",
    "Explainer",
    "Explanation",
    "Step",
    "explain",
    "prune",
    "render",
    "short_form",
    "stored_keys",
    "with_write_revisions",
    "witness_size",
)

MAX_WITNESSES = 100
"""The most witnesses one explanation lists (``all_paths`` with a larger ``limit`` is refused)."""

DEFAULT_MAX_DENIAL_NODES = 60
"""Denial tree nodes shown by default; the rest are counted in ``pruned``."""

_MAX_CHILDREN = 12
"""Branches shown under one denial node; the rest are counted."""


class ConditionResult(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A condition as it was evaluated: its expression, the parameters it saw (the request
    context overlaid with the tuple's own), and the result (or the error, when it failed)."""

    name: str
    expression: str = ""
    parameters: dict[str, Any] = msgspec.field(default_factory=dict)
    result: bool = False
    error: str = ""


class Step(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One step of a witness. ``kind``:

    - ``relation``: the start, ``object#relation``;
    - ``computed``: the relation ``from_relation`` of ``object`` includes ``relation`` (``viewer: editor``);
    - ``tuple`` / ``contextual_tuple``: a tuple read on the way (``tuple_key``; a stored one with the
      ``revision`` of the write that made it live, when the store can tell: see
      :func:`with_write_revisions`);
    - ``wildcard``: the tuple's ``type:*`` user grants ``user``;
    - ``condition``: the preceding tuple's condition held (``condition``);
    - ``userset``: the preceding tuple's userset user, ``object#relation``, is entered (a dispatch);
    - ``from``: ``relation from tupleset``: the preceding tuple names the parent ``object``,
      whose ``relation`` is entered (a dispatch);
    - ``self``: the user is the userset ``object#relation`` itself;
    - ``intersection``: every side of an intersection of ``object#relation`` holds: ``sides``
      holds one witness per side;
    - ``exclusion``: the ``but not`` branch of ``object#relation`` failed (``excluded``: why);
      the chain goes on with the base's witness.
    """

    kind: str
    object: str = ""
    relation: str = ""
    from_relation: str = ""
    tupleset: str = ""
    user: str = ""
    tuple_key: TupleKey | None = None
    revision: int | None = None
    condition: ConditionResult | None = None
    sides: tuple[tuple[Step, ...], ...] = ()
    excluded: Denial | None = None


class Denial(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One failed branch. ``kind`` says which part of the model it is (``relation``,
    ``computed``, ``direct``, ``userset``, ``from``, ``intersection``, ``exclusion``) and
    ``reason`` why it failed:

    ``no_branch`` (none of ``children`` granted), ``cannot_reach`` (the relation can never lead to
    a user of this kind), ``not_admitted`` (the relation admits no such user directly),
    ``no_tuple``, ``stale_tuple`` (a tuple that no longer fits the model, ignored),
    ``condition_false`` / ``condition_error`` (``condition`` tells with which parameters),
    ``excluded`` (``excluded_by`` is a witness of the ``but not`` branch), ``side_failed`` (an
    intersection side: ``children[0]``), ``cycle``, ``depth_limit``, ``unknown_relation``.
    ``pruned`` counts the nodes under this one left out of the answer. ``settled``: the node
    ``object#relation`` as a whole does not grant the user, a fact at this revision whatever the
    path (no cycle and no error below it); otherwise the node is one branch of its parent."""

    kind: str
    reason: str
    object: str = ""
    relation: str = ""
    settled: bool = False
    detail: str = ""
    tuple_key: TupleKey | None = None
    condition: ConditionResult | None = None
    excluded_by: tuple[Step, ...] = ()
    children: tuple[Denial, ...] = ()
    pruned: int = 0


class Explanation(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The decision with its proof. ``error`` (``(code name, message)``) is set when Check would
    fail with that error rather than answer; the ``denial`` tree then shows where."""

    allowed: bool
    cycle_detected: bool = False
    witnesses: tuple[tuple[Step, ...], ...] = ()
    shortest: bool = True
    denial: Denial | None = None
    pruned: int = 0
    error: EngineError | None = None


Chain = tuple[Step, ...]


class _Outcome:
    """A node's or branch's result: ``value`` (TRUE/FALSE/CYCLE), its witnesses when TRUE,
    the failed branches otherwise, and the branch error Check would raise (``error``)."""

    __slots__ = ("chains", "denials", "error", "value")

    def __init__(
        self,
        value: int,
        chains: list[Chain] | None = None,
        denials: tuple[Denial, ...] = (),
        error: EngineError | None = None,
    ) -> None:
        self.value = value
        self.chains = chains or []
        self.denials = denials
        self.error = error


def witness_size(chain: Chain) -> int:
    """Steps in a witness, counting the steps of an intersection's sides."""
    return sum(1 + sum(witness_size(side) for side in step.sides) for step in chain)


def _error_reason(err: EngineError) -> str:
    return "depth_limit" if isinstance(err, ResolutionDepthExceededError) else "condition_error"


def _denied(
    kind: str,
    reason: str,
    obj: str,
    relation: str,
    detail: str,
    *,
    value: int = FALSE,
    error: EngineError | None = None,
    **fields: Any,
) -> _Outcome:
    """A branch that failed with one denial node (``value`` FALSE unless a cycle decided it);
    ``fields``: the node's other :class:`Denial` fields (``tuple_key``, ``children``, ...)."""
    denial = Denial(
        kind=kind, reason=reason, object=obj, relation=relation, detail=detail, **fields
    )
    return _Outcome(value, denials=(denial,), error=error)


class Explainer:
    """Evaluates one request's explanation (one instance per explanation: it holds the memo)."""

    def __init__(
        self,
        ctx: ResolveContext,
        *,
        contextual: frozenset[tuple[str, str, str]] = frozenset(),
        limit: int = 1,
        exhaustive: bool = True,
    ) -> None:
        self.ctx = ctx
        self.contextual = contextual
        self.limit = max(1, limit)
        self.exhaustive = exhaustive
        self.memo: dict[str, _Outcome] = {}

    # -- nodes ---------------------------------------------------------------------------------

    async def top(self, rp: RelationPlan, obj: str) -> _Outcome:
        return await self.relation(rp, obj, 0, frozenset((f"{obj}#{rp.relation}",)))

    async def relation(
        self, rp: RelationPlan, obj: str, depth: int, path: frozenset[str]
    ) -> _Outcome:
        """``obj#rp.relation`` in place (LocalChecker.relation): same depth, same path."""
        ctx = self.ctx
        if not rp.reaches(ctx.user_keys):
            return _Outcome(FALSE, denials=(self._unreachable(rp, obj),))
        node = f"{obj}#{rp.relation}"
        known = self.memo.get(node)
        if known is not None:
            return known
        return await self._evaluate(rp, obj, node, depth, path)

    async def dispatch(
        self, rp: RelationPlan, obj: str, depth: int, path: frozenset[str]
    ) -> _Outcome:
        """A sub-problem on another node (LocalChecker.dispatch): one level deeper, on the path."""
        ctx = self.ctx
        node = f"{obj}#{rp.relation}"
        known = self.memo.get(node)
        if known is not None:
            return known
        if node in path:
            detail = f"{node} is already being evaluated on this path"
            return _denied("relation", "cycle", obj, rp.relation, detail, value=CYCLE)
        depth += 1
        if depth >= ctx.limits.max_resolution_depth:
            err = ResolutionDepthExceededError(ctx.limits.max_resolution_depth)
            return _denied("relation", "depth_limit", obj, rp.relation, str(err), error=err)
        ctx.budget.spend()
        return await self._evaluate(rp, obj, node, depth, path | {node})

    async def _evaluate(
        self, rp: RelationPlan, obj: str, node: str, depth: int, path: frozenset[str]
    ) -> _Outcome:
        """The node ``obj#rp.relation`` once entered (not memoised yet): the user's own userset,
        else its rewrite, remembered unless a cycle or an error decided it."""
        ctx = self.ctx
        if node == ctx.user_userset:
            return _Outcome(
                TRUE, [(Step(kind="self", object=obj, relation=rp.relation, user=ctx.user),)]
            )
        out = self._node(rp, obj, await self.rewrite(rp, rp.rewrite, obj, depth, path))
        if out.value != CYCLE and out.error is None:
            self.memo[node] = out
        return out

    def _node(self, rp: RelationPlan, obj: str, inner: _Outcome) -> _Outcome:
        """Wrap a rewrite's failed branches into the node's own denial."""
        if inner.value == TRUE:
            return inner
        settled = inner.value == FALSE and inner.error is None
        if (
            len(inner.denials) == 1
            and inner.denials[0].object == obj
            and inner.denials[0].kind == "direct"
        ):
            denial = msgspec.structs.replace(
                inner.denials[0], kind="relation", relation=rp.relation, settled=settled
            )
        else:
            reason = "cycle" if inner.value == CYCLE and inner.error is None else "no_branch"
            denial = Denial(
                kind="relation",
                reason=reason,
                object=obj,
                relation=rp.relation,
                children=inner.denials,
                settled=settled,
            )
        return _Outcome(inner.value, denials=(denial,), error=inner.error)

    def _unreachable(self, rp: RelationPlan, obj: str) -> Denial:
        want = " or ".join(self.ctx.user_keys)
        return Denial(
            kind="relation",
            reason="cannot_reach",
            object=obj,
            relation=rp.relation,
            settled=True,
            detail=f"no path in the model leads from {rp.object_type}#{rp.relation} to a user of kind {want}",
        )

    # -- rewrites ------------------------------------------------------------------------------

    async def rewrite(
        self, rp: RelationPlan, rewrite: Rewrite, obj: str, depth: int, path: frozenset[str]
    ) -> _Outcome:
        kind = type(rewrite)
        if kind is This:
            return await self.direct(rp, obj, depth, path)
        if kind is Union:
            outcomes: list[_Outcome] = []
            for child in rewrite.children:  # type: ignore[union-attr]
                outcomes.append(await self.rewrite(rp, child, obj, depth, path))
                if outcomes[-1].value == TRUE and not self.exhaustive:
                    break  # Check's order: children until the first that grants
            return self.any(outcomes)
        if kind is ComputedUserset:
            name = rewrite.relation  # type: ignore[union-attr]
            target = self.ctx.plan.relations.get((rp.object_type, name))
            if target is None:
                detail = f"type {rp.object_type} has no relation {name}"
                return _denied("computed", "unknown_relation", obj, name, detail)
            inner = await self.relation(target, obj, depth, path)
            if inner.value == TRUE:
                step = Step(kind="computed", object=obj, relation=name, from_relation=rp.relation)
                return _Outcome(TRUE, [(step, *c) for c in inner.chains])
            return _Outcome(
                inner.value,
                denials=tuple(msgspec.structs.replace(d, kind="computed") for d in inner.denials),
                error=inner.error,
            )
        if kind is TupleToUserset:
            return await self.tuple_to_userset(rp, rewrite, obj, depth, path)  # type: ignore[arg-type]
        if kind is Intersection:
            return await self.intersection(rp, rewrite.children, obj, depth, path)  # type: ignore[union-attr]
        if kind is Difference:
            return await self.difference(rp, rewrite, obj, depth, path)  # type: ignore[arg-type]
        return _Outcome(FALSE)

    def any(self, outcomes: list[_Outcome]) -> _Outcome:
        """A union: TRUE with every branch's witnesses (the ``limit`` shortest), else the first
        branch error, else CYCLE if a branch met one, else FALSE; denials of every branch."""
        chains = [c for o in outcomes if o.value == TRUE for c in o.chains]
        if chains:
            chains.sort(key=witness_size)
            return _Outcome(TRUE, chains[: self.limit])
        error = next((o.error for o in outcomes if o.error is not None), None)
        value = CYCLE if any(o.value == CYCLE for o in outcomes) else FALSE
        return _Outcome(value, denials=tuple(d for o in outcomes for d in o.denials), error=error)

    async def intersection(
        self,
        rp: RelationPlan,
        children: tuple[Rewrite, ...],
        obj: str,
        depth: int,
        path: frozenset[str],
    ) -> _Outcome:
        """Sides in order until one fails (LocalChecker.intersection): a side's branch error is
        remembered and the rest evaluated; a side that is not TRUE decides."""
        side_failed = partial(_denied, "intersection", "side_failed", obj, rp.relation)
        sides: list[Chain] = []
        error: EngineError | None = None
        errored: list[Denial] = []
        for n, child in enumerate(children):
            r = await self.rewrite(rp, child, obj, depth, path)
            if r.error is not None:
                error = error or r.error
                errored.extend(r.denials)
                continue
            if r.value != TRUE:
                detail = f"side {n + 1} of {len(children)} of the intersection does not hold"
                return side_failed(detail, value=r.value, children=r.denials)
            sides.append(r.chains[0])
        if error is not None:
            detail = "a side of the intersection failed with an error"
            return side_failed(detail, error=error, children=tuple(errored))
        return _Outcome(
            TRUE,
            [(Step(kind="intersection", object=obj, relation=rp.relation, sides=tuple(sides)),)],
        )

    async def difference(
        self, rp: RelationPlan, rewrite: Difference, obj: str, depth: int, path: frozenset[str]
    ) -> _Outcome:
        """``base but not subtract`` (LocalChecker.difference, errors included)."""
        b = await self.rewrite(rp, rewrite.base, obj, depth, path)
        if b.error is None and b.value != TRUE:
            return b
        s = await self.rewrite(rp, rewrite.subtract, obj, depth, path)
        if s.error is not None:
            error = b.error or s.error
            return _Outcome(FALSE, denials=(*b.denials, *s.denials), error=error)
        if s.value == TRUE:
            detail = "the user is in the 'but not' branch"
            return _denied(
                "exclusion", "excluded", obj, rp.relation, detail, excluded_by=s.chains[0]
            )
        if s.value == CYCLE:
            detail = "the 'but not' branch met a cycle"
            return _denied(
                "exclusion", "cycle", obj, rp.relation, detail, value=CYCLE, children=s.denials
            )
        if b.error is not None:
            return b
        excluded = Denial(
            kind="exclusion",
            reason="no_branch",
            object=obj,
            relation=rp.relation,
            detail="the 'but not' branch does not hold",
            children=s.denials,
        )
        step = Step(kind="exclusion", object=obj, relation=rp.relation, excluded=excluded)
        return _Outcome(TRUE, [(step, *c) for c in b.chains])

    # -- tuples --------------------------------------------------------------------------------

    def _tuple_step(self, key: TupleKey) -> Step:
        if key.key in self.contextual:
            return Step(kind="contextual_tuple", tuple_key=key)
        return Step(kind="tuple", tuple_key=key)

    def _condition(self, key: TupleKey) -> tuple[ConditionResult | None, EngineError | None]:
        """Evaluate ``key``'s condition as Check does; ``(None, None)`` for an unconditional tuple."""
        cond = key.condition
        if cond is None:
            return None, None
        ctx = self.ctx
        definition = ctx.plan.typesystem.condition(cond.name)
        merged = _conditions.merge_context(cond.context, ctx.context)
        params = {
            k: merged[k]
            for k in (definition.parameters if definition is not None else ())
            if k in merged
        }
        expression = definition.expression if definition is not None else ""
        try:
            held = ctx.plan.condition_holds(key, ctx.context)
        except EngineError as err:
            return ConditionResult(
                name=cond.name, expression=expression, parameters=params, error=str(err)
            ), err
        return ConditionResult(
            name=cond.name, expression=expression, parameters=params, result=held
        ), None

    def _condition_failed(
        self,
        key: TupleKey,
        cond: ConditionResult | None,
        err: EngineError | None,
        kind: str,
        obj: str,
        relation: str,
    ) -> _Outcome | None:
        """The denial of a tuple whose condition failed (``err``) or was false; ``None`` when it
        held or there is none."""
        if err is not None:
            return _denied(
                kind,
                "condition_error",
                obj,
                relation,
                str(err),
                error=err,
                tuple_key=key,
                condition=cond,
            )
        if cond is not None and not cond.result:
            detail = f"condition {cond.name} is false"
            return _denied(
                kind, "condition_false", obj, relation, detail, tuple_key=key, condition=cond
            )
        return None

    def _granted(self, key: TupleKey, steps: tuple[Step, ...]) -> _Outcome:
        """A point-lookup tuple that names the user (``steps`` after the tuple: the wildcard match)."""
        cond, err = self._condition(key)
        failed = self._condition_failed(key, cond, err, "direct", key.object, key.relation)
        if failed is not None:
            return failed
        tail = (Step(kind="condition", condition=cond),) if cond is not None else ()
        return _Outcome(TRUE, [(self._tuple_step(key), *tail, *steps)])

    async def direct(
        self, rp: RelationPlan, obj: str, depth: int, path: frozenset[str]
    ) -> _Outcome:
        """The relation's directly related users: the point lookups, then the userset tuples."""
        ctx = self.ctx
        plan = ctx.plan
        reader = ctx.reader
        outcomes: list[_Outcome] = []
        keys = rp.direct_keys
        lookups: list[tuple[str, tuple[Step, ...]]] = []
        if ctx.user_keys[0] in keys:
            lookups.append((ctx.user, ()))
        wildcard = ctx.user_wildcard
        if wildcard and wildcard in keys:
            lookups.append((wildcard, (Step(kind="wildcard", user=ctx.user),)))
        for user, steps in lookups:
            key = await reader.read_user_tuple(ctx.store_id, obj, rp.relation, user)
            if key is None:
                detail = f"no tuple {obj}#{rp.relation}@{user}"
                outcomes.append(_denied("direct", "no_tuple", obj, rp.relation, detail))
            elif not plan.fits(key):
                detail = "the tuple no longer fits the model and is ignored"
                outcomes.append(
                    _denied("direct", "stale_tuple", obj, rp.relation, detail, tuple_key=key)
                )
            else:
                outcomes.append(self._granted(key, steps))
            if outcomes[-1].value == TRUE and not self.exhaustive:
                return outcomes[-1]
        if rp.userset_refs:
            outcomes.append(await self.usersets(rp, obj, depth, path))
        if not outcomes:
            detail = (
                f"{rp.object_type}#{rp.relation} admits no {' or '.join(ctx.user_keys)} directly"
            )
            return _denied("direct", "not_admitted", obj, rp.relation, detail)
        return self.any(outcomes)

    async def usersets(
        self, rp: RelationPlan, obj: str, depth: int, path: frozenset[str]
    ) -> _Outcome:
        ctx = self.ctx
        keys = await ctx.reader.read_userset_tuples(ctx.store_id, obj, rp.relation)
        hops = await self._hops(
            userset_hops(ctx, rp.userset_targets_of, keys), "userset", depth, path
        )
        if not hops:
            detail = f"no userset tuple on {obj}#{rp.relation} leads to a user of this kind"
            return _denied("userset", "no_tuple", obj, rp.relation, detail)
        return self.any(hops)

    async def tuple_to_userset(
        self, rp: RelationPlan, rewrite: TupleToUserset, obj: str, depth: int, path: frozenset[str]
    ) -> _Outcome:
        ctx = self.ctx
        plan = ctx.plan
        ts = rewrite.tupleset
        computed = rewrite.computed_relation
        if (rp.object_type, ts) not in plan.relations:
            detail = f"type {rp.object_type} has no relation {ts}"
            return _denied("from", "unknown_relation", obj, ts, detail)
        keys = await ctx.reader.read_object_relation(ctx.store_id, obj, ts)
        hops = await self._hops(
            ttu_hops(ctx, plan.ttu_plan(rp, rewrite), keys), "from", depth, path
        )
        if not hops:
            detail = (
                f"'{computed} from {ts}': no tuple on {obj}#{ts} names a parent "
                f"whose {computed} can lead to this user"
            )
            return _denied("from", "no_tuple", obj, ts, detail)
        return self.any(hops)

    async def _hops(
        self, hops: list[Hop], kind: str, depth: int, path: frozenset[str]
    ) -> list[_Outcome]:
        """Each hop in turn (:meth:`_hop`); Check's order stops at the first that grants."""
        out: list[_Outcome] = []
        for key, target, obj in hops:
            out.append(await self._hop(key, target, obj, kind, depth, path))
            if out[-1].value == TRUE and not self.exhaustive:
                break
        return out

    async def _hop(
        self,
        key: TupleKey,
        target: RelationPlan,
        obj: str,
        kind: str,
        depth: int,
        path: frozenset[str],
    ) -> _Outcome:
        """A userset or tuple-to-userset hop through ``key`` into ``obj#target.relation``."""
        cond, err = self._condition(key)
        failed = self._condition_failed(key, cond, err, kind, obj, target.relation)
        if failed is not None:
            return failed
        inner = await self.dispatch(target, obj, depth, path)
        if inner.value == TRUE:
            head: list[Step] = [self._tuple_step(key)]
            if cond is not None:
                head.append(Step(kind="condition", condition=cond))
            if kind == "from":
                head.append(
                    Step(kind="from", object=obj, relation=target.relation, tupleset=key.relation)
                )
            else:
                head.append(Step(kind="userset", object=obj, relation=target.relation))
            return _Outcome(TRUE, [(*head, *c) for c in inner.chains])
        denials = tuple(
            msgspec.structs.replace(d, kind=kind, tuple_key=key)
            if d.object == obj and d.relation == target.relation
            else d
            for d in inner.denials
        )
        return _Outcome(inner.value, denials=denials, error=inner.error)


async def explain(
    ctx: ResolveContext,
    object_: str,
    relation: str,
    *,
    contextual: frozenset[tuple[str, str, str]] = frozenset(),
    limit: int = 1,
    max_denial_nodes: int = DEFAULT_MAX_DENIAL_NODES,
) -> Explanation:
    """Explain ``object_#relation@ctx.user`` (object and relation must exist in the model).

    ``contextual``: the keys of the request's contextual tuples (their steps say so). ``limit``:
    the witnesses to list (1 to :data:`MAX_WITNESSES`), shortest first. Budget errors (dispatch
    allowance, deadline) are raised as Check raises them, after one retry in Check's own order.
    """
    otype = object_.partition(":")[0]
    rp = ctx.plan.relations[(otype, relation)]
    limit = min(max(1, limit), MAX_WITNESSES)
    shortest = True
    try:
        out = await Explainer(ctx, contextual=contextual, limit=limit).top(rp, obj=object_)
    except BudgetExceededError:
        ctx.budget = ResolveBudget(
            max_dispatches=ctx.budget.max_dispatches, deadline_s=ctx.budget.deadline_s
        )
        out = await Explainer(ctx, contextual=contextual, limit=limit, exhaustive=False).top(
            rp, obj=object_
        )
        shortest = False
    if out.value == TRUE:
        start = Step(kind="relation", object=object_, relation=relation)
        return Explanation(
            allowed=True,
            witnesses=tuple((start, *c) for c in out.chains),
            shortest=shortest,
        )
    denial, pruned = prune(out.denials[0], max_denial_nodes) if out.denials else (None, 0)
    return Explanation(
        allowed=False,
        cycle_detected=out.value == CYCLE and out.error is None,
        denial=denial,
        pruned=pruned,
        error=out.error,
    )


def _chains_of(explanation: Explanation) -> Iterator[Chain]:
    """Every chain of ``explanation``: its witnesses, their intersection sides, and the witnesses
    an exclusion or a denial tree shows (``excluded_by``)."""

    def in_denial(d: Denial) -> Iterator[Chain]:
        if d.excluded_by:
            yield from in_chain(d.excluded_by)
        for child in d.children:
            yield from in_denial(child)

    def in_chain(chain: Chain) -> Iterator[Chain]:
        yield chain
        for step in chain:
            for side in step.sides:
                yield from in_chain(side)
            if step.excluded is not None:
                yield from in_denial(step.excluded)

    for witness in explanation.witnesses:
        yield from in_chain(witness)
    if explanation.denial is not None:
        yield from in_denial(explanation.denial)


def stored_keys(explanation: Explanation) -> list[TupleKey]:
    """The stored tuples the steps of ``explanation`` name, each once."""
    keys: dict[tuple[str, str, str], TupleKey] = {}
    for chain in _chains_of(explanation):
        for step in chain:
            if step.kind == "tuple" and step.tuple_key is not None:
                keys.setdefault(step.tuple_key.key, step.tuple_key)
    return list(keys.values())


def with_write_revisions(
    explanation: Explanation, revisions: Mapping[tuple[str, str, str], int]
) -> Explanation:
    """``explanation`` with each stored tuple's step carrying the revision it was written at
    (``revisions``: ``key.key -> revision``, from
    :class:`~permsvc.store.protocol.TupleWriteRevisions`). A tuple missing from ``revisions``
    (deleted or written again since the decision) has no revision."""

    def step_of(step: Step) -> Step:
        changes: dict[str, Any] = {}
        if step.kind == "tuple" and step.tuple_key is not None:
            changes["revision"] = revisions.get(step.tuple_key.key)
        if step.sides:
            changes["sides"] = tuple(chain_of(side) for side in step.sides)
        if step.excluded is not None:
            changes["excluded"] = denial_of(step.excluded)
        return msgspec.structs.replace(step, **changes) if changes else step

    def chain_of(chain: Chain) -> Chain:
        return tuple(step_of(step) for step in chain)

    def denial_of(d: Denial) -> Denial:
        if not d.excluded_by and not d.children:
            return d
        return msgspec.structs.replace(
            d,
            excluded_by=chain_of(d.excluded_by),
            children=tuple(denial_of(c) for c in d.children),
        )

    return msgspec.structs.replace(
        explanation,
        witnesses=tuple(chain_of(w) for w in explanation.witnesses),
        denial=None if explanation.denial is None else denial_of(explanation.denial),
    )


def prune(denial: Denial, max_nodes: int = DEFAULT_MAX_DENIAL_NODES) -> tuple[Denial, int]:
    """``denial`` cut to at most ``max_nodes`` nodes (breadth first; at most 12 children shown per
    node; ``cannot_reach`` branches listed last): ``(tree, nodes left out)``. Each node that lost
    children counts them, with their subtrees, in its own ``pruned``."""
    budget = [max(1, max_nodes) - 1]
    sizes: dict[int, int] = {}

    def size(d: Denial) -> int:
        # Memoised nodes are shared by every path that reached them: count each subtree once per
        # object, not once per path (a chain of shared diamonds would otherwise be exponential).
        known = sizes.get(id(d))
        if known is None:
            known = sizes[id(d)] = 1 + d.pruned + sum(size(c) for c in d.children)
        return known

    def cut(d: Denial) -> Denial:
        kids = sorted(d.children, key=lambda c: c.reason == "cannot_reach")
        keep: list[Denial] = []
        dropped = d.pruned
        for child in kids:
            if len(keep) < _MAX_CHILDREN and budget[0] > 0:
                budget[0] -= 1
                keep.append(child)
            else:
                dropped += size(child)
        kept = [cut(c) for c in keep]
        return msgspec.structs.replace(d, children=tuple(kept), pruned=dropped)

    total = size(denial)
    out = cut(denial)
    return out, total - _shown(out)


def _shown(d: Denial) -> int:
    return 1 + sum(_shown(c) for c in d.children)


# -- text ---------------------------------------------------------------------------------------


def _tuple_text(key: TupleKey | None) -> str:
    if key is None:
        return ""
    text = f"{key.object}#{key.relation}@{key.user}"
    if key.condition is not None:
        text += f" (with {key.condition.name})"
    return text


def _condition_text(cond: ConditionResult) -> str:
    params = ", ".join(
        f"{k}={msgspec.json.encode(v).decode()}" for k, v in sorted(cond.parameters.items())
    )
    verdict = f"error: {cond.error}" if cond.error else ("true" if cond.result else "false")
    return f"condition {cond.name}({params}) -> {verdict}"


def step_text(step: Step) -> str:
    """One witness step as a line of text."""
    match step.kind:
        case "relation":
            return f"{step.object}#{step.relation}"
        case "computed":
            return (
                f"{step.object}#{step.relation} (computed relation, named in {step.from_relation})"
            )
        case "tuple":
            written = "" if step.revision is None else f", written at revision {step.revision}"
            return f"tuple {_tuple_text(step.tuple_key)} (stored{written})"
        case "contextual_tuple":
            return f"tuple {_tuple_text(step.tuple_key)} (contextual)"
        case "wildcard":
            return f"wildcard: {step.user} matches"
        case "condition":
            return _condition_text(step.condition) if step.condition is not None else "condition"
        case "userset":
            return f"members of {step.object}#{step.relation}"
        case "from":
            return f"{step.relation} from {step.tupleset}: {step.object}#{step.relation}"
        case "self":
            return f"{step.user} is {step.object}#{step.relation} itself"
        case "intersection":
            return f"every side of the intersection of {step.object}#{step.relation} holds"
        case "exclusion":
            return f"not excluded from {step.object}#{step.relation} ('but not' branch fails)"
    return step.kind


_REASONS = {
    "no_branch": "no branch grants",
    "cannot_reach": "cannot reach this user",
    "not_admitted": "does not admit this user directly",
    "stale_tuple": "tuple ignored",
    "side_failed": "an intersection side fails",
}


def denial_text(d: Denial) -> str:
    """One denial node as a line of text."""
    where = f"{d.object}#{d.relation}" if d.object else d.kind
    text = f"{where}: {_REASONS.get(d.reason, d.reason.replace('_', ' '))}"
    if d.tuple_key is not None and d.reason not in ("no_tuple",):
        text += f" (via {_tuple_text(d.tuple_key)})"
    if d.condition is not None:
        text += f" — {_condition_text(d.condition)}"
    elif d.detail:
        text += f" — {d.detail}"
    return text


def render(explanation: Explanation) -> list[str]:
    """The explanation as an indented tree of text lines (the CLI's ``--explain``)."""
    lines: list[str] = []

    def chain(steps: tuple[Step, ...], indent: str) -> None:
        for n, step in enumerate(steps):
            lines.append(f"{indent}{'└─ ' if n else ''}{step_text(step)}")
            for i, side in enumerate(step.sides):
                lines.append(f"{indent}   side {i + 1}:")
                chain(side, indent + "     ")
            if step.excluded is not None:
                tree(step.excluded, indent + "   ")
            if n:
                indent += "   "

    def tree(d: Denial, indent: str) -> None:
        lines.append(f"{indent}✗ {denial_text(d)}")
        if d.excluded_by:
            lines.append(f"{indent}   excluded by:")
            chain(d.excluded_by, indent + "     ")
        for child in d.children:
            tree(child, indent + "   ")
        if d.pruned:
            lines.append(f"{indent}   … {d.pruned} more not shown")

    if explanation.allowed:
        for n, witness in enumerate(explanation.witnesses):
            lines.append(f"✓ allowed — witness {n + 1} ({witness_size(witness)} steps)")
            chain(witness, "  ")
    else:
        head = "✗ denied"
        if explanation.error is not None:
            head = f"✗ error — {explanation.error}"
        elif explanation.cycle_detected:
            head += " (a cycle was met)"
        lines.append(head)
        if explanation.denial is not None:
            tree(explanation.denial, "  ")
    return lines


def short_form(explanation: Explanation, *, max_chars: int = 400) -> str:
    """One line for a person reading a log or an AuthZEN ``reason_admin``: the shortest
    witness's tuples and hops (``via``), or the first failed branches, cut at ``max_chars``."""
    if explanation.allowed and explanation.witnesses:
        parts: list[str] = []
        for step in explanation.witnesses[0]:
            if step.kind in ("tuple", "contextual_tuple"):
                mark = " (contextual)" if step.kind == "contextual_tuple" else ""
                parts.append(f"{_tuple_text(step.tuple_key)}{mark}")
            elif step.kind == "computed":
                parts.append(f"{step.relation} implies {step.from_relation}")
            elif step.kind == "wildcard":
                parts.append(f"wildcard matches {step.user}")
            elif step.kind == "condition" and step.condition is not None:
                parts.append(_condition_text(step.condition))
            elif step.kind in ("intersection", "exclusion", "self"):
                parts.append(step_text(step))
        text = "allowed via " + "; ".join(parts)
    elif explanation.error is not None:
        text = f"error: {explanation.error}"
    else:
        reasons: list[str] = []
        d = explanation.denial
        frontier = (
            list(d.children) if d is not None and d.children else ([d] if d is not None else [])
        )
        for child in frontier[:3]:
            reasons.append(denial_text(child))
        more = len(frontier) - 3 + (d.pruned if d is not None else 0)
        text = "denied: " + ("; ".join(reasons) or "no branch grants")
        if more > 0:
            text += f"; and {more} more"
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"
