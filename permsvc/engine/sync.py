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
to a branch that decides; budget errors end the request). What the two decide along the way (hop
selection, how results and errors combine) is :mod:`permsvc.engine.reduce`, shared by both. Three
things differ only in cost:

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
from permsvc.engine.reduce import (
    difference_end,
    grants,
    intersection_end,
    keep_error,
    ttu_hops,
    union_end,
    userset_hops,
)
from permsvc.engine.request import CYCLE, FALSE, TRUE
from permsvc.model import schema

if TYPE_CHECKING:
    from permsvc.engine.plan import FlatUnion, RelationPlan
    from permsvc.engine.reduce import Hop
    from permsvc.engine.request import ResolveContext
    from permsvc.model.schema import Rewrite, TupleToUserset

__all__ = ("SyncChecker",)


class SyncChecker:
    """The rewrite evaluator over synchronous reads. Stateless; safe to share."""

    __slots__ = ()

    def top(self, ctx: ResolveContext, rp: RelationPlan, obj: str) -> int:
        """Evaluate ``obj#rp.relation`` from the top (depth 0, the node alone on the path)."""
        return self.relation(ctx, rp, obj, 0, {f"{obj}#{rp.relation}"})

    def relation(
        self, ctx: ResolveContext, rp: RelationPlan, obj: str, depth: int, path: set[str]
    ) -> int:
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

    def dispatch(
        self, ctx: ResolveContext, rp: RelationPlan, obj: str, depth: int, path: set[str]
    ) -> int:
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
                result = (
                    TRUE if ctx.user in members or (wildcard and wildcard in members) else FALSE
                )
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

    def node(
        self, ctx: ResolveContext, rp: RelationPlan, obj: str, depth: int, path: set[str]
    ) -> int:
        flat = rp.flat
        if flat is not None and not ctx.user_userset:
            return self.flat_union(ctx, flat, obj, depth, path)
        return self.rewrite(ctx, rp, rp.rewrite, obj, depth, path)

    def flat_union(
        self, ctx: ResolveContext, flat: FlatUnion, obj: str, depth: int, path: set[str]
    ) -> int:
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
                try:
                    if grants(ctx, key, conditions_of[key.relation]):
                        return TRUE
                except EngineError as err:
                    error = keep_error(err, error)
        hops: list[Hop] = []
        if flat.userset_relations:
            keys = ctx.read_usersets_of_sync(store_id, obj, flat.userset_relations)
            if keys:
                hops = userset_hops(ctx, flat.userset_targets_of, keys)
        read = ctx.read_object_relation_sync
        for ttu in flat.ttus:
            keys = read(store_id, obj, ttu.tupleset)
            if keys:
                hops.extend(ttu_hops(ctx, ttu, keys))
        out = FALSE
        if hops:
            out, error = self.any_hop(ctx, hops, depth, path, error)
            if out == TRUE:
                return TRUE
        for rp in flat.others:
            try:
                r = self.relation(ctx, rp, obj, depth, path)
            except EngineError as err:
                error = keep_error(err, error)
                continue
            if r == TRUE:
                return TRUE
            if r == CYCLE:
                out = CYCLE
        return union_end(out, error)

    def userset_hops(self, ctx: ResolveContext, rp: RelationPlan, obj: str) -> list[Hop]:
        """Userset tuples on ``obj#rp.relation`` that fit the model and can reach the user."""
        keys = ctx.read_usersets_sync(ctx.store_id, obj, rp.relation)
        if not keys:
            return []
        return userset_hops(ctx, rp.userset_targets_of, keys)

    def any_hop(
        self,
        ctx: ResolveContext,
        hops: list[Hop],
        depth: int,
        path: set[str],
        error: EngineError | None,
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
                error = keep_error(err, error)
                continue
            if r == TRUE:
                return TRUE, error
            if r == CYCLE:
                out = CYCLE
        return out, error

    def rewrite(
        self,
        ctx: ResolveContext,
        rp: RelationPlan,
        rewrite: Rewrite,
        obj: str,
        depth: int,
        path: set[str],
    ) -> int:
        kind = type(rewrite)
        if kind is schema.This:
            return self.direct(ctx, rp, obj, depth, path)
        if kind is schema.Union:
            return self.union(ctx, rp, rewrite.children, obj, depth, path)  # type: ignore[union-attr]
        if kind is schema.ComputedUserset:
            target = ctx.plan.relations.get((rp.object_type, rewrite.relation))  # type: ignore[union-attr]
            if target is None:
                return FALSE
            return self.relation(ctx, target, obj, depth, path)
        if kind is schema.TupleToUserset:
            return self.tuple_to_userset(ctx, rp, rewrite, obj, depth, path)  # type: ignore[arg-type]
        if kind is schema.Intersection:
            return self.intersection(ctx, rp, rewrite.children, obj, depth, path)  # type: ignore[union-attr]
        if kind is schema.Difference:
            return self.difference(
                ctx,
                rp,
                rewrite.base,  # type: ignore[union-attr]
                rewrite.subtract,  # type: ignore[union-attr]
                obj,
                depth,
                path,
            )
        return FALSE

    def union(
        self,
        ctx: ResolveContext,
        rp: RelationPlan,
        children: tuple[Rewrite, ...],
        obj: str,
        depth: int,
        path: set[str],
    ) -> int:
        error: EngineError | None = None
        out = FALSE
        for child in children:
            try:
                r = self.rewrite(ctx, rp, child, obj, depth, path)
            except EngineError as err:
                error = keep_error(err, error)
                continue
            if r == TRUE:
                return TRUE
            if r == CYCLE:
                out = CYCLE
        return union_end(out, error)

    def intersection(
        self,
        ctx: ResolveContext,
        rp: RelationPlan,
        children: tuple[Rewrite, ...],
        obj: str,
        depth: int,
        path: set[str],
    ) -> int:
        error: EngineError | None = None
        for child in children:
            try:
                r = self.rewrite(ctx, rp, child, obj, depth, path)
            except EngineError as err:
                error = keep_error(err, error)
                continue
            if r != TRUE:
                return r
        return intersection_end(error)

    def difference(
        self,
        ctx: ResolveContext,
        rp: RelationPlan,
        base: Rewrite,
        subtract: Rewrite,
        obj: str,
        depth: int,
        path: set[str],
    ) -> int:
        base_error: EngineError | None = None
        try:
            b = self.rewrite(ctx, rp, base, obj, depth, path)
        except EngineError as err:
            base_error, b = keep_error(err, None), TRUE
        if b != TRUE:
            return b
        try:
            s = self.rewrite(ctx, rp, subtract, obj, depth, path)
        except EngineError as err:
            raise keep_error(err, base_error) from None
        return difference_end(s, base_error)

    def direct(
        self, ctx: ResolveContext, rp: RelationPlan, obj: str, depth: int, path: set[str]
    ) -> int:
        """The direct leaf of one relation: the user's tuple, the typed wildcard's, the usersets."""
        read_user = ctx.read_user_sync
        error: EngineError | None = None
        for user, user_key in ctx.user_lookups:
            conditions = rp.fit_conditions.get(user_key)
            if conditions is None:
                continue
            key = read_user(ctx.store_id, obj, rp.relation, user)
            try:
                if key is not None and grants(ctx, key, conditions):
                    return TRUE
            except EngineError as err:
                error = keep_error(err, error)
        if rp.userset_targets:
            hops = self.userset_hops(ctx, rp, obj)
            if hops:
                r, error = self.any_hop(ctx, hops, depth, path, error)
                return TRUE if r == TRUE else union_end(r, error)
        return union_end(FALSE, error)

    def tuple_to_userset(
        self,
        ctx: ResolveContext,
        rp: RelationPlan,
        rewrite: TupleToUserset,
        obj: str,
        depth: int,
        path: set[str],
    ) -> int:
        ttu = ctx.plan.ttu_plan(rp, rewrite)
        hops = ttu_hops(ctx, ttu, ctx.read_object_relation_sync(ctx.store_id, obj, ttu.tupleset))
        if not hops:
            return FALSE
        r, error = self.any_hop(ctx, hops, depth, path, None)
        return TRUE if r == TRUE else union_end(r, error)
