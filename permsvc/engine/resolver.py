"""The check-resolver chain and its one entry point, :func:`resolve_check`.

``build_check_resolver()`` is called once at start-up by the composition root: a
:class:`~permsvc.engine.cached.CachedCheckResolver` in front of the
:class:`~permsvc.engine.local.LocalChecker`, both with the :class:`CheckResolver` interface.
Within one request the local checker memoises sub-problems itself; the cache keeps whole answers
across requests, keyed by everything that decides them (revision included).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from permsvc.engine.cached import DEFAULT_CHECK_CACHE_SIZE, CachedCheckResolver
from permsvc.engine.local import LocalChecker
from permsvc.engine.plan import plan_for
from permsvc.engine.request import ResolveBudget, ResolveContext, request_budget

if TYPE_CHECKING:
    from typing import Any

    from permsvc.engine.request import ResolveResult
    from permsvc.model.typesystem import TypeSystem
    from permsvc.settings import EngineLimits
    from permsvc.store.protocol import TupleReader

__all__ = ("CheckResolver", "build_check_resolver", "new_context")


class CheckResolver(Protocol):
    """Resolves ``object#relation@ctx.user`` within one request's context."""

    async def check(self, ctx: ResolveContext, object_: str, relation: str) -> ResolveResult: ...


def build_check_resolver(*, cache_size: int = DEFAULT_CHECK_CACHE_SIZE) -> CheckResolver:
    """The head of the resolver chain, shared by every request: a :class:`CachedCheckResolver`
    (``cache_size`` answers; 0 turns caching off) in front of the :class:`LocalChecker`."""
    local = LocalChecker()
    if cache_size <= 0:
        return local
    return CachedCheckResolver(local, max_entries=cache_size)


def new_context(
    *,
    store_id: str,
    typesystem: TypeSystem,
    reader: TupleReader,
    limits: EngineLimits,
    context: dict[str, Any] | None,
    user: str = "",
    deadline_s: float | None = None,
    revision: int | None = None,
    digest: str = "",
) -> ResolveContext:
    """A fresh per-request context with its own budget (dispatch allowance and deadline), or the
    budget of the multi-check request it belongs to (:func:`~permsvc.engine.request.one_budget`).

    ``revision`` (the store revision the reader answers at) and ``digest`` (of the contextual
    tuples and condition context) make results cacheable across requests; without a revision
    nothing is cached.
    """
    shared = request_budget() if deadline_s is None else None
    budget = shared or ResolveBudget(
        max_dispatches=limits.max_dispatches,
        deadline_s=limits.check_deadline_s if deadline_s is None else deadline_s,
    )
    return ResolveContext(
        store_id=store_id,
        plan=plan_for(typesystem),
        reader=reader,
        limits=limits,
        budget=budget,
        context=context,
        user=user,
        revision=revision,
        digest=digest,
    )
