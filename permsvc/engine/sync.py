"""SyncChecker: Check as plain function calls, for readers that answer from memory.

When the request's reader offers synchronous reads for the store
(:class:`~permsvc.store.protocol.SyncTupleReader`: the memory backend, the in-memory index and the
contextual-tuple overlay over either), a whole Check runs here without a coroutine per hop: with
in-memory reads, creating and awaiting a coroutine costs more than the read it waits for.
Readers that wait on a database keep :class:`~permsvc.engine.local.LocalChecker`'s coroutines.

The semantics are :class:`~permsvc.engine.local.LocalChecker`'s, hop for hop (the conformance
suites run through both: the memory backend here, SQLite and PostgreSQL there):
dispatches, depth, the path and cycles, memoised ``object#relation`` results, the userset user
related to itself, stale tuples skipped, conditions, and error precedence (a branch error loses
to a branch that decides; budget errors end the request). Two things differ only in cost:

- the path is one mutable set, a node added before its sub-problem and removed after: evaluation
  is sequential, so it holds exactly the nodes of the current branch, as the async path's
  per-branch frozensets do, without a new set per dispatch;
- a relation with a :class:`~permsvc.engine.plan.FlatUnion` is evaluated as that one union: the
  point lookups of every direct relation first (one read per user), then their usersets (one
  read), then the tuple-to-userset leaves, dispatched in that order once all are read. A
  union's answer does not depend on the order of its branches (``TRUE`` if any branch is, else
  a branch error if any, else ``CYCLE`` if any, else ``FALSE``). When the user is a
  userset the rewrite is evaluated leaf by leaf instead, so that each computed relation on the
  way is compared with the user (``document:1#editor`` is an ``editor`` of ``document:1``);
- a dispatch into a node of an expandable relation (groups: ``member: [user, group#member]``) is
  answered by membership in the node's expansion where that is exact, over readers that offer
  relation versions (see :mod:`permsvc.engine.expansion`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from permsvc.engine.errors import EngineError, ResolutionDepthExceededError
from permsvc.engine.expansion import expansion
from permsvc.engine.request import CYCLE, FALSE, TRUE
from permsvc.model.schema import (
    ComputedUserset,
    Difference,
    Intersection,
    This,
    TupleToUserset,
    Union,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from permsvc.core.refs import TupleKey
    from permsvc.engine.plan import FlatUnion, RelationPlan, TtuPlan
    from permsvc.engine.request import ResolveContext
    from permsvc.model.schema import Rewrite

__all__ = ("SyncChecker",)

_Hop = tuple["TupleKey", "RelationPlan", str]


def _fits(key: TupleKey, conditions: frozenset[str]) -> bool:
    cond = key.condition
    return (cond.name if cond is not None else "") in conditions


class SyncChecker:
    """The rewrite evaluator over synchronous reads. Stateless; safe to share."""

    __slots__ = ()

    def top(self, ctx: ResolveContext, rp: RelationPlan, obj: str) -> int:
        """Evaluate ``obj#rp.relation`` from the top (depth 0, the node alone on the path)."""
        return self.relation(ctx, rp, obj, 0, {f"{obj}#{rp.relation}"})

    def relation(self, ctx: ResolveContext, rp: RelationPlan, obj: str, depth: int, path: set[str]) -> int:
        """A computed userset: same object, same depth, same path; memoised per request."""
        if not rp.reaches(ctx.user_keys):
            return FALSE
        node = f"{obj}#{rp.relation}"
        memo = ctx.memo
        known = memo.get(node)
        if known is not None:
            return known
        if node == ctx.user_userset:
            return TRUE
        result = self.node(ctx, rp, obj, depth, path)
        if result != CYCLE:
            memo[node] = result
        return result

    def dispatch(self, ctx: ResolveContext, rp: RelationPlan, obj: str, depth: int, path: set[str]) -> int:
        """A sub-problem on another node: one level deeper, with the node on the path."""
        node = f"{obj}#{rp.relation}"
        memo = ctx.memo
        known = memo.get(node)
        if known is not None:
            return known
        if node in path:
            return CYCLE
        if rp.expansion_group and ctx.versions is not None and not ctx.user_userset:
            entry = expansion(ctx, rp, obj, node)
            if entry is not None and depth + 1 + entry[1] < ctx.limits.max_resolution_depth:
                ctx.budget.spend()
                members = entry[0]
                wildcard = ctx.user_wildcard
                result = TRUE if ctx.user in members or (wildcard and wildcard in members) else FALSE
                memo[node] = result
                return result
        depth += 1
        if depth >= ctx.limits.max_resolution_depth:
            raise ResolutionDepthExceededError(ctx.limits.max_resolution_depth)
        ctx.budget.spend()
        userset = ctx.user_userset
        if userset and node == userset:
            return TRUE
        path.add(node)
        flat = rp.flat
        try:
            if flat is not None and not userset:
                result = self.flat_union(ctx, flat, obj, depth, path)
            else:
                result = self.rewrite(ctx, rp, rp.rewrite, obj, depth, path)
        finally:
            path.discard(node)
        if result != CYCLE:
            memo[node] = result
        return result

    def node(self, ctx: ResolveContext, rp: RelationPlan, obj: str, depth: int, path: set[str]) -> int:
        flat = rp.flat
        if flat is not None and not ctx.user_userset:
            return self.flat_union(ctx, flat, obj, depth, path)
        return self.rewrite(ctx, rp, rp.rewrite, obj, depth, path)

    def flat_union(self, ctx: ResolveContext, flat: FlatUnion, obj: str, depth: int, path: set[str]) -> int:
        """The union of a :class:`FlatUnion` (the user is an object or a typed wildcard): the
        point lookups of its direct relations in one read per user, their usersets in one read."""
        store_id = ctx.store_id
        error: EngineError | None = None
        for user, user_key in ctx.user_lookups:
            relations = flat.lookup_relations.get(user_key)
            if not relations:
                continue
            conditions_of = flat.lookup_conditions[user_key]
            for key in ctx.read_users_sync(store_id, obj, relations, user):
                if _fits(key, conditions_of[key.relation]):
                    try:
                        if key.condition is None or ctx.plan.condition_holds(key, ctx.context):
                            return TRUE
                    except EngineError as err:
                        error = error or err
        hops: list[_Hop] = []
        if flat.userset_relations:
            keys = ctx.read_usersets_of_sync(store_id, obj, flat.userset_relations)
            if keys:
                hops = self.fitting_usersets(ctx, flat.userset_targets_of, keys)
        for ttu in flat.ttus:
            parents = self.ttu_hops(ctx, ttu, obj)
            if parents:
                hops.extend(parents)
        out = FALSE
        if hops:
            out, error = self.any_hop(ctx, hops, depth, path, error)
            if out == TRUE:
                return TRUE
        for rp in flat.others:
            try:
                r = self.relation(ctx, rp, obj, depth, path)
            except EngineError as err:
                if not err.branch_scoped:
                    raise
                error = error or err
                continue
            if r == TRUE:
                return TRUE
            if r == CYCLE:
                out = CYCLE
        if error is not None:
            raise error
        return out

    def userset_hops(self, ctx: ResolveContext, rp: RelationPlan, obj: str) -> list[_Hop]:
        """Userset tuples on ``obj#rp.relation`` that fit the model and can reach the user."""
        keys = ctx.read_usersets_sync(ctx.store_id, obj, rp.relation)
        if not keys:
            return []
        return self.fitting_usersets(ctx, {rp.relation: rp.userset_targets}, keys)

    def fitting_usersets(
        self, ctx: ResolveContext, targets_of: dict[str, dict[tuple[str, str], tuple[RelationPlan, frozenset[str]]]],
        keys: Sequence[TupleKey],
    ) -> list[_Hop]:
        """The hops of userset tuples ``keys`` (of the relations in ``targets_of``: their
        :attr:`RelationPlan.userset_targets`) that fit the model and can reach the user."""
        user_keys = ctx.user_keys
        me = ctx.user
        hops: list[_Hop] = []
        for key in keys:
            user = key.user
            uobj, sep, urel = user.partition("#")
            if not sep or user == me:
                continue
            found = targets_of[key.relation].get((uobj.partition(":")[0], urel))
            if found is None:
                continue
            target, conditions = found
            cond = key.condition
            if (cond.name if cond is not None else "") in conditions and target.reaches(user_keys):
                hops.append((key, target, uobj))
        return hops

    def ttu_hops(self, ctx: ResolveContext, ttu: TtuPlan, obj: str) -> list[_Hop]:
        """Parents named by ``obj#ttu.tupleset`` whose relation can reach the user."""
        user_keys = ctx.user_keys
        targets = ttu.targets
        hops: list[_Hop] = []
        for key in ctx.read_object_relation_sync(ctx.store_id, obj, ttu.tupleset):
            parent = key.user
            if "#" in parent:
                continue
            ptype, _, pid = parent.partition(":")
            if pid == "*":
                continue
            found = targets.get(ptype)
            if found is None:
                continue
            target, conditions = found
            cond = key.condition
            if (cond.name if cond is not None else "") in conditions and target.reaches(user_keys):
                hops.append((key, target, parent))
        return hops

    def any_hop(
        self, ctx: ResolveContext, hops: list[_Hop], depth: int, path: set[str], error: EngineError | None
    ) -> tuple[int, EngineError | None]:
        """Union over ``hops``: ``(result, first branch error)``; stops at the first ``TRUE``.
        The caller decides whether the remembered error is raised."""
        out = FALSE
        plan = ctx.plan
        for key, target, obj in hops:
            try:
                if key.condition is not None and not plan.condition_holds(key, ctx.context):
                    continue
                r = self.dispatch(ctx, target, obj, depth, path)
            except EngineError as err:
                if not err.branch_scoped:
                    raise
                error = error or err
                continue
            if r == TRUE:
                return TRUE, error
            if r == CYCLE:
                out = CYCLE
        return out, error

    def rewrite(
        self, ctx: ResolveContext, rp: RelationPlan, rewrite: Rewrite, obj: str, depth: int, path: set[str]
    ) -> int:
        kind = type(rewrite)
        if kind is This:
            return self.direct(ctx, rp, obj, depth, path)
        if kind is Union:
            return self.union(ctx, rp, rewrite.children, obj, depth, path)  # type: ignore[union-attr]
        if kind is ComputedUserset:
            target = ctx.plan.relations.get((rp.object_type, rewrite.relation))  # type: ignore[union-attr]
            if target is None:
                return FALSE
            return self.relation(ctx, target, obj, depth, path)
        if kind is TupleToUserset:
            return self.tuple_to_userset(ctx, rp, rewrite, obj, depth, path)  # type: ignore[arg-type]
        if kind is Intersection:
            return self.intersection(ctx, rp, rewrite.children, obj, depth, path)  # type: ignore[union-attr]
        if kind is Difference:
            return self.difference(
                ctx, rp, rewrite.base, rewrite.subtract, obj, depth, path  # type: ignore[union-attr]
            )
        return FALSE

    def union(
        self, ctx: ResolveContext, rp: RelationPlan, children: tuple[Rewrite, ...], obj: str, depth: int,
        path: set[str],
    ) -> int:
        error: EngineError | None = None
        out = FALSE
        for child in children:
            try:
                r = self.rewrite(ctx, rp, child, obj, depth, path)
            except EngineError as err:
                if not err.branch_scoped:
                    raise
                error = error or err
                continue
            if r == TRUE:
                return TRUE
            if r == CYCLE:
                out = CYCLE
        if error is not None:
            raise error
        return out

    def intersection(
        self, ctx: ResolveContext, rp: RelationPlan, children: tuple[Rewrite, ...], obj: str, depth: int,
        path: set[str],
    ) -> int:
        error: EngineError | None = None
        for child in children:
            try:
                r = self.rewrite(ctx, rp, child, obj, depth, path)
            except EngineError as err:
                if not err.branch_scoped:
                    raise
                error = error or err
                continue
            if r != TRUE:
                return r
        if error is not None:
            raise error
        return TRUE

    def difference(
        self, ctx: ResolveContext, rp: RelationPlan, base: Rewrite, subtract: Rewrite, obj: str, depth: int,
        path: set[str],
    ) -> int:
        base_error: EngineError | None = None
        try:
            b = self.rewrite(ctx, rp, base, obj, depth, path)
        except EngineError as err:
            if not err.branch_scoped:
                raise
            base_error, b = err, TRUE
        if b != TRUE:
            return b
        try:
            s = self.rewrite(ctx, rp, subtract, obj, depth, path)
        except EngineError as err:
            if not err.branch_scoped:
                raise
            raise (base_error or err) from None
        if s == TRUE:
            return FALSE
        if s == CYCLE:
            return CYCLE
        if base_error is not None:
            raise base_error
        return TRUE

    def direct(self, ctx: ResolveContext, rp: RelationPlan, obj: str, depth: int, path: set[str]) -> int:
        """The direct leaf of one relation: the user's tuple, the typed wildcard's, the usersets."""
        plan = ctx.plan
        read_user = ctx.read_user_sync
        error: EngineError | None = None
        for user, user_key in ((ctx.user, ctx.user_keys[0]), (ctx.user_wildcard, ctx.user_wildcard)):
            if not user:
                continue
            conditions = rp.fit_conditions.get(user_key)
            if conditions is None:
                continue
            key = read_user(ctx.store_id, obj, rp.relation, user)
            if key is not None and _fits(key, conditions):
                try:
                    if key.condition is None or plan.condition_holds(key, ctx.context):
                        return TRUE
                except EngineError as err:
                    error = error or err
        if rp.userset_targets:
            hops = self.userset_hops(ctx, rp, obj)
            if hops:
                r, error = self.any_hop(ctx, hops, depth, path, error)
                if r == TRUE or error is None:
                    return r
        if error is not None:
            raise error
        return FALSE

    def tuple_to_userset(
        self, ctx: ResolveContext, rp: RelationPlan, rewrite: TupleToUserset, obj: str, depth: int, path: set[str]
    ) -> int:
        ttu = ctx.plan.ttu_plan(rp, rewrite)
        hops = self.ttu_hops(ctx, ttu, obj)
        if not hops:
            return FALSE
        r, error = self.any_hop(ctx, hops, depth, path, None)
        if r == TRUE or error is None:
            return r
        raise error
