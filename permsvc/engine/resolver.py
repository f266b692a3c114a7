"""The check-resolver chain and its one entry point, :func:`resolve_check`.

``build_check_resolver()`` is called once at start-up by the composition root. Today the chain is
the :class:`~permsvc.engine.local.LocalChecker` alone; caching and throttling stages wrap it with
the same :class:`CheckResolver` interface when they are added.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from permsvc.engine.local import LocalChecker
from permsvc.engine.plan import plan_for
from permsvc.engine.request import ResolveBudget, ResolveContext

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


def build_check_resolver() -> CheckResolver:
    """The head of the resolver chain (shared by every request; stateless)."""
    return LocalChecker()


def new_context(
    *,
    store_id: str,
    typesystem: TypeSystem,
    reader: TupleReader,
    limits: EngineLimits,
    context: dict[str, Any] | None,
    user: str = "",
    deadline_s: float | None = None,
) -> ResolveContext:
    """A fresh per-request context with its own budget (dispatch allowance and deadline)."""
    budget = ResolveBudget(
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
    )
