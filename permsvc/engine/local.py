"""LocalChecker: evaluates a relation's rewrite for one object and one user.

Results are small ints on the hot path (``FALSE``, ``TRUE``, ``CYCLE`` = false with the cycle
flag) to keep per-check allocations low; :meth:`LocalChecker.check` turns them into a
:class:`~permsvc.engine.request.ResolveResult`.

Semantics (OpenFGA's, pinned by the conformance suites):

- *Dispatches* are the hops through a userset tuple (``group:eng#member``) or a tuple-to-userset
  parent. Each increments the depth; reaching the depth limit raises
  :class:`~permsvc.engine.errors.ResolutionDepthExceededError`. Computed usersets (``viewer:
  editor``) are evaluated in place without a dispatch: they stay on the same object and cannot
  loop, because model validation rejects computed-userset cycles.
- A userset user is always related to itself: ``document:1#viewer`` is a ``viewer`` of
  ``document:1`` (OpenFGA answers ``Check(document:1#viewer@document:1#viewer)`` with true, at
  every level of the resolution).
- A dispatch to an ``object#relation`` already on the current path is a cycle: it evaluates to
  false with the cycle flag, never to an error.
- Stored tuples that no longer fit the model are skipped; conditional tuples count only when their
  condition holds (a condition missing parameters is a branch error).
- A reader with synchronous reads for the store (``ctx.sync``) has the whole check evaluated by
  :class:`~permsvc.engine.sync.SyncChecker`, the same semantics as plain function calls.
- Otherwise branches are evaluated inline and sequentially with short-circuiting: with in-memory
  reads an asyncio task per branch costs more than the branch. Readers that wait on a database (those
  that do not advertise ``inline_reads = True``) get a flat union's branches and the fan-out over
  userset and tuple-to-userset tuples evaluated concurrently instead, at most
  ``max_concurrent_dispatches`` tasks per request: the reads of one round are then issued together,
  and the request's batching reader (:mod:`permsvc.store.wrappers.batching`) sends them as one
  query. Branches evaluated alongside the deciding one may spend dispatches it would not have. A
  branch error is re-raised only when no other branch decides the result; budget errors end the
  request at once.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from permsvc.engine.errors import DeadlineExceededError, EngineError, ResolutionDepthExceededError
from permsvc.engine.plan import LEAF_COMPUTED, LEAF_DIRECT
from permsvc.engine.reduce import (
    difference_end,
    grants,
    intersection_end,
    keep_error,
    ttu_hops,
    union_end,
    userset_hops,
)
from permsvc.engine.request import CYCLE, FALSE, TRUE, ResolveResult
from permsvc.engine.sync import SyncChecker
from permsvc.model import schema

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine, Iterable

    from permsvc.engine.plan import RelationPlan
    from permsvc.engine.reduce import Hop
    from permsvc.engine.request import ResolveContext
    from permsvc.model.schema import Rewrite, TupleToUserset

__all__ = ("CYCLE", "FALSE", "TRUE", "LocalChecker", "first_true")

_SYNC = SyncChecker()


class LocalChecker:
    """The rewrite evaluator at the end of the resolver chain. Stateless; safe to share."""

    __slots__ = ()

    async def check(self, ctx: ResolveContext, object_: str, relation: str) -> ResolveResult:
        """Resolve ``object_#relation@ctx.user`` (object and relation must exist in the model)."""
        otype = object_.partition(":")[0]
        rp = ctx.plan.relations[(otype, relation)]
        result = await self.bounded(ctx, rp, object_)
        return ResolveResult(allowed=result == TRUE, cycle_detected=result == CYCLE)

    async def bounded(self, ctx: ResolveContext, rp: RelationPlan, obj: str) -> int:
        """Evaluate ``obj#rp.relation`` from the top, within the request's deadline.

        In-memory evaluation never suspends, so the budget checks the deadline as dispatches are
        spent; a reader that waits on a database could hang in one read, so there the whole
        evaluation also runs under ``asyncio.timeout_at`` (the budget's deadline is on the event
        loop's monotonic clock). With synchronous reads it runs on the :class:`SyncChecker`.
        """
        if ctx.sync:
            return _SYNC.top(ctx, rp, obj)
        path = frozenset((f"{obj}#{rp.relation}",))
        if ctx.inline:
            return await self.relation(ctx, rp, obj, 0, path)
        try:
            async with asyncio.timeout_at(ctx.budget.deadline):
                return await self.relation(ctx, rp, obj, 0, path)
        except TimeoutError:
            raise DeadlineExceededError(ctx.budget.deadline_s) from None

    async def relation(
        self, ctx: ResolveContext, rp: RelationPlan, obj: str, depth: int, path: frozenset[str]
    ) -> int:
        """Evaluate ``obj#rp.relation`` in place (a computed userset: same depth, same path).

        Results are memoised per request: the user is fixed for a request, so a node's
        ``TRUE``/``FALSE`` is a fact for the whole request. With cycles reported as ``CYCLE`` (and
        that propagated by every reducer), a plain ``FALSE`` never depends on where the path was
        cut. ``CYCLE`` results and errors are not memoised. Like OpenFGA's check cache, a memoised
        answer is reused at any depth.
        """
        if not rp.reaches(ctx.user_keys):
            return FALSE
        node = f"{obj}#{rp.relation}"
        known = ctx.memo.get(node)
        if known is not None:
            return known
        if node == ctx.user_userset:
            return TRUE
        result = await self.node(ctx, rp, obj, depth, path)
        if result != CYCLE:
            ctx.memo[node] = result
        return result

    async def dispatch(
        self, ctx: ResolveContext, rp: RelationPlan, obj: str, depth: int, path: frozenset[str]
    ) -> int:
        """Resolve a sub-problem on another node: one level deeper, with the node on the path."""
        node = f"{obj}#{rp.relation}"
        known = ctx.memo.get(node)
        if known is not None:
            return known
        if node in path:
            return CYCLE
        depth += 1
        if depth >= ctx.limits.max_resolution_depth:
            raise ResolutionDepthExceededError(ctx.limits.max_resolution_depth)
        ctx.budget.spend()
        if node == ctx.user_userset:
            return TRUE
        result = await self.node(ctx, rp, obj, depth, path | {node})
        if result != CYCLE:
            ctx.memo[node] = result
        return result

    async def node(
        self, ctx: ResolveContext, rp: RelationPlan, obj: str, depth: int, path: frozenset[str]
    ) -> int:
        """Evaluate a relation's rewrite; a flat union of leaves (the common shape) is evaluated
        here directly, saving two coroutine layers per relation on the hot path."""
        leaves = rp.leaves
        if leaves is None:
            return await self.rewrite(ctx, rp, rp.rewrite, obj, depth, path)
        if not ctx.inline:
            branches = self.branches(ctx, rp, leaves, obj, depth, path)
            if (
                len(branches) > 1
                and ctx.in_flight + len(branches) <= ctx.limits.max_concurrent_dispatches
            ):
                return await self.any_branch(ctx, branches)
        error: EngineError | None = None
        out = FALSE
        for kind, arg in leaves:
            try:
                if kind == LEAF_DIRECT:
                    r = await self.direct(ctx, rp, obj, depth, path)
                elif kind == LEAF_COMPUTED:
                    r = (
                        await self.relation(ctx, arg, obj, depth, path)
                        if arg is not None
                        else FALSE
                    )
                else:
                    r = await self.tuple_to_userset(ctx, rp, arg, obj, depth, path)
            except EngineError as err:
                error = keep_error(err, error)
                continue
            if r == TRUE:
                return TRUE
            if r == CYCLE:
                out = CYCLE
        return union_end(out, error)

    async def rewrite(
        self,
        ctx: ResolveContext,
        rp: RelationPlan,
        rewrite: Rewrite,
        obj: str,
        depth: int,
        path: frozenset[str],
    ) -> int:
        kind = type(rewrite)
        if kind is schema.This:
            return await self.direct(ctx, rp, obj, depth, path)
        if kind is schema.Union:
            return await self.union(ctx, rp, rewrite.children, obj, depth, path)  # type: ignore[union-attr]
        if kind is schema.ComputedUserset:
            target = ctx.plan.relations.get((rp.object_type, rewrite.relation))  # type: ignore[union-attr]
            if target is None:
                return FALSE
            return await self.relation(ctx, target, obj, depth, path)
        if kind is schema.TupleToUserset:
            return await self.tuple_to_userset(ctx, rp, rewrite, obj, depth, path)  # type: ignore[arg-type]
        if kind is schema.Intersection:
            return await self.intersection(ctx, rp, rewrite.children, obj, depth, path)  # type: ignore[union-attr]
        if kind is schema.Difference:
            return await self.difference(
                ctx,
                rp,
                rewrite.base,  # type: ignore[union-attr]
                rewrite.subtract,  # type: ignore[union-attr]
                obj,
                depth,
                path,
            )
        return FALSE

    async def union(
        self,
        ctx: ResolveContext,
        rp: RelationPlan,
        children: tuple[Rewrite, ...],
        obj: str,
        depth: int,
        path: frozenset[str],
    ) -> int:
        return await first_true(
            self.rewrite(ctx, rp, child, obj, depth, path) for child in children
        )

    async def intersection(
        self,
        ctx: ResolveContext,
        rp: RelationPlan,
        children: tuple[Rewrite, ...],
        obj: str,
        depth: int,
        path: frozenset[str],
    ) -> int:
        error: EngineError | None = None
        for child in children:
            try:
                r = await self.rewrite(ctx, rp, child, obj, depth, path)
            except EngineError as err:
                error = keep_error(err, error)
                continue
            if r != TRUE:
                return r
        return intersection_end(error)

    async def difference(
        self,
        ctx: ResolveContext,
        rp: RelationPlan,
        base: Rewrite,
        subtract: Rewrite,
        obj: str,
        depth: int,
        path: frozenset[str],
    ) -> int:
        base_error: EngineError | None = None
        try:
            b = await self.rewrite(ctx, rp, base, obj, depth, path)
        except EngineError as err:
            base_error, b = keep_error(err, None), TRUE
        if b != TRUE:
            return b
        try:
            s = await self.rewrite(ctx, rp, subtract, obj, depth, path)
        except EngineError as err:
            raise keep_error(err, base_error) from None
        return difference_end(s, base_error)

    async def direct(
        self, ctx: ResolveContext, rp: RelationPlan, obj: str, depth: int, path: frozenset[str]
    ) -> int:
        """The relation's directly related users: the point lookups, then the userset tuples."""
        error: EngineError | None = None
        try:
            if await self.direct_users(ctx, rp, obj) == TRUE:
                return TRUE
        except EngineError as err:
            error = keep_error(err, None)
        if rp.userset_targets:
            return await self.direct_usersets(ctx, rp, obj, depth, path, error)
        return union_end(FALSE, error)

    async def direct_users(self, ctx: ResolveContext, rp: RelationPlan, obj: str) -> int:
        """The point lookups of a direct relation: the user's own tuple, then its type's wildcard."""
        read_user = ctx.reader.read_user_tuple
        error: EngineError | None = None
        for user, user_key in ctx.user_lookups:
            conditions = rp.fit_conditions.get(user_key)
            if conditions is None:
                continue
            key = await read_user(ctx.store_id, obj, rp.relation, user)
            try:
                if key is not None and grants(ctx, key, conditions):
                    return TRUE
            except EngineError as err:
                error = keep_error(err, error)
        return union_end(FALSE, error)

    async def direct_usersets(
        self,
        ctx: ResolveContext,
        rp: RelationPlan,
        obj: str,
        depth: int,
        path: frozenset[str],
        error: EngineError | None,
    ) -> int:
        """The userset tuples of a direct relation (``group:eng#member``): a dispatch each.
        ``error`` is a branch error already met by the caller."""
        keys = await ctx.reader.read_userset_tuples(ctx.store_id, obj, rp.relation)
        hops = userset_hops(ctx, rp.userset_targets_of, keys) if keys else None
        if hops:
            return await self.any_hop(ctx, hops, depth, path, error)
        return union_end(FALSE, error)

    async def tuple_to_userset(
        self,
        ctx: ResolveContext,
        rp: RelationPlan,
        rewrite: TupleToUserset,
        obj: str,
        depth: int,
        path: frozenset[str],
    ) -> int:
        ttu = ctx.plan.ttu_plan(rp, rewrite)
        if not ttu.targets:
            return FALSE
        hops = ttu_hops(
            ctx, ttu, await ctx.reader.read_object_relation(ctx.store_id, obj, ttu.tupleset)
        )
        if not hops:
            return FALSE
        return await self.any_hop(ctx, hops, depth, path, None)

    def branches(
        self,
        ctx: ResolveContext,
        rp: RelationPlan,
        leaves: tuple[tuple[int, Any], ...],
        obj: str,
        depth: int,
        path: frozenset[str],
    ) -> list[tuple[Callable[..., Coroutine[Any, Any, int]], tuple[Any, ...]]]:
        """The branches of a flat union that can matter for this user, in leaf order, as
        ``(method, args)``: a direct leaf is two (its point lookups and its userset tuples), so all
        of a node's first reads are issued together."""
        out: list[tuple[Callable[..., Coroutine[Any, Any, int]], tuple[Any, ...]]] = []
        for kind, arg in leaves:
            if kind == LEAF_DIRECT:
                if any(user_key in rp.fit_conditions for _, user_key in ctx.user_lookups):
                    out.append((self.direct_users, (ctx, rp, obj)))
                if rp.userset_targets:
                    out.append((self.direct_usersets, (ctx, rp, obj, depth, path, None)))
            elif kind == LEAF_COMPUTED:
                if arg is not None and arg.reaches(ctx.user_keys):
                    out.append((self.relation, (ctx, arg, obj, depth, path)))
            else:
                out.append((self.tuple_to_userset, (ctx, rp, arg, obj, depth, path)))
        return out

    async def any_branch(
        self,
        ctx: ResolveContext,
        branches: list[tuple[Callable[..., Coroutine[Any, Any, int]], tuple[Any, ...]]],
    ) -> int:
        """A union's branches as concurrent tasks, for readers whose reads wait on a database: a
        node's reads of one round go out together (one query per kind with a batching reader),
        instead of one branch after the other.

        The first ``TRUE`` decides and cancels the rest; a budget error ends the request at once.
        Otherwise the answer is what the sequential union gives (:func:`~permsvc.engine.reduce.union_end`):
        the first branch error in leaf order, else ``CYCLE`` if a branch met a cycle, else ``FALSE``.
        The tasks count against ``max_concurrent_dispatches`` until the union is decided.
        """
        ctx.in_flight += len(branches)
        tasks = [asyncio.ensure_future(method(*args)) for method, args in branches]
        try:
            pending: set[asyncio.Future[int]] = set(tasks)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if task.cancelled():
                        continue
                    err = task.exception()
                    if err is None:
                        if task.result() == TRUE:
                            return TRUE
                    elif not isinstance(err, EngineError) or not err.branch_scoped:
                        raise err
            out = FALSE
            error: EngineError | None = None
            for task in tasks:
                if task.cancelled():
                    continue
                err = task.exception()
                if err is not None:
                    error = keep_error(err, error)  # type: ignore[arg-type]  # only branch errors are left
                elif task.result() == CYCLE:
                    out = CYCLE
            return union_end(out, error)
        finally:
            ctx.in_flight -= len(branches)
            unfinished = [t for t in tasks if not t.done()]
            for t in unfinished:
                t.cancel()
            if unfinished:
                await asyncio.gather(*unfinished, return_exceptions=True)

    async def any_hop(
        self,
        ctx: ResolveContext,
        hops: list[Hop],
        depth: int,
        path: frozenset[str],
        error: EngineError | None,
    ) -> int:
        """Union over tuples leading elsewhere: for each tuple whose condition holds, dispatch to
        ``target`` on ``obj``. ``error`` is a branch error already met by the caller.

        With in-memory reads (``ctx.inline``) the hops run one after the other; otherwise they run
        concurrently (see :meth:`any_hop_concurrently`).
        """
        if (
            not ctx.inline
            and len(hops) > 1
            and ctx.in_flight < ctx.limits.max_concurrent_dispatches
        ):
            return await self.any_hop_concurrently(ctx, hops, depth, path, error)
        return await first_true((self.hop(ctx, hop, depth, path) for hop in hops), error)

    async def hop(self, ctx: ResolveContext, hop: Hop, depth: int, path: frozenset[str]) -> int:
        key, target, obj = hop
        if key.condition is not None and not ctx.plan.condition_holds(key, ctx.context):
            return FALSE
        return await self.dispatch(ctx, target, obj, depth, path)

    async def any_hop_concurrently(
        self,
        ctx: ResolveContext,
        hops: list[Hop],
        depth: int,
        path: frozenset[str],
        error: EngineError | None,
    ) -> int:
        """The union of :meth:`any_hop` with hops evaluated as concurrent tasks, for readers whose
        reads wait on a database. The first ``TRUE`` cancels the rest.

        At most ``max_concurrent_dispatches`` tasks exist per request: the free slots become
        workers that take the hops one after the other from a shared queue, so the workers issue
        their reads of each round together (a batching reader sends them as one query; see
        :class:`~permsvc.store.wrappers.batching.BatchingTupleReader`). A hop that finds no free
        slot for its own fan-out evaluates it in place, so a worker never waits for a slot.
        """
        queue = iter(hops)
        workers = min(ctx.limits.max_concurrent_dispatches - ctx.in_flight, len(hops))

        async def worker() -> int:
            try:
                return await first_true(self.hop(ctx, hop, depth, path) for hop in queue)
            finally:
                ctx.in_flight -= 1

        ctx.in_flight += workers
        tasks = [asyncio.ensure_future(worker()) for _ in range(workers)]
        try:
            return await first_true(asyncio.as_completed(tasks), error)
        finally:
            pending = [t for t in tasks if not t.done()]
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)


async def first_true(results: Iterable[Awaitable[int]], error: EngineError | None = None) -> int:
    """A union's reducer: await ``results`` in order, stopping at the first ``TRUE``.

    ``results`` is consumed lazily, so branches after the deciding one are never started. Without
    a ``TRUE``, a remembered branch error (``error``, or the first one met) is raised; otherwise
    the answer is ``CYCLE`` if any branch met a cycle, else ``FALSE``.
    """
    out = FALSE
    for pending in results:
        try:
            r = await pending
        except EngineError as err:
            error = keep_error(err, error)
            continue
        if r == TRUE:
            return TRUE
        if r == CYCLE:
            out = CYCLE
    return union_end(out, error)
