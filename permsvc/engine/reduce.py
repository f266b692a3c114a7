"""The checkers' pure reductions, written once for both drivers.

:class:`~permsvc.engine.local.LocalChecker` (coroutines, for readers that wait) and
:class:`~permsvc.engine.sync.SyncChecker` (plain calls, for readers in memory) walk a rewrite the
same way; what they decide along it is here, so a rule is fixed in one place:

- **hop selection**: which userset and tuple-to-userset tuples lead on, and where to
  (:func:`userset_hops`, :func:`ttu_hops`), and whether a user's own tuple grants
  (:func:`grants`);
- **result and error accumulation**: a branch error is remembered (:func:`keep_error`: the first
  one; a budget error, not ``branch_scoped``, ends the request at once) and loses to a branch
  that decides. A union is ``TRUE`` if any branch is, else the remembered branch error, else
  ``CYCLE`` if any branch met a cycle, else ``FALSE`` (:func:`union_end`); an intersection is the
  first branch that is not ``TRUE``, else the remembered error, else ``TRUE``
  (:func:`intersection_end`); an exclusion is decided by :func:`difference_end`.

Results are the small ints of :mod:`permsvc.engine.request` (``FALSE``, ``TRUE``, ``CYCLE``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from permsvc.engine.request import CYCLE, FALSE, TRUE

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from permsvc.core.refs import TupleKey
    from permsvc.engine.errors import EngineError
    from permsvc.engine.plan import RelationPlan, TtuPlan
    from permsvc.engine.request import ResolveContext

__all__ = (
    "Hop",
    "difference_end",
    "fits",
    "grants",
    "intersection_end",
    "keep_error",
    "ttu_hops",
    "union_end",
    "userset_hops",
)

Hop = tuple["TupleKey", "RelationPlan", str]
"""A dispatch to make: the tuple leading there (its condition is evaluated first), the relation
and the object to evaluate it on."""


def fits(key: TupleKey, conditions: frozenset[str]) -> bool:
    """Whether ``key``'s condition (``""`` for none) is one its place in the model admits."""
    cond = key.condition
    return (cond.name if cond is not None else "") in conditions


def grants(ctx: ResolveContext, key: TupleKey, conditions: frozenset[str]) -> bool:
    """Whether the user's own tuple ``key`` (a point lookup) grants: it fits the model and its
    condition, if any, holds. Raises the condition's branch error."""
    return fits(key, conditions) and (
        key.condition is None or ctx.plan.condition_holds(key, ctx.context)
    )


def userset_hops(
    ctx: ResolveContext,
    targets_of: Mapping[str, Mapping[tuple[str, str], tuple[RelationPlan, frozenset[str]]]],
    keys: Sequence[TupleKey],
) -> list[Hop]:
    """The hops of userset tuples ``keys`` (``group:eng#member``; of the relations in
    ``targets_of``: their :attr:`RelationPlan.userset_targets`) that fit the model and can reach
    the user. The user's own userset is skipped (it is answered by the userset rule)."""
    user_keys = ctx.user_keys
    me = ctx.user
    hops: list[Hop] = []
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


def ttu_hops(ctx: ResolveContext, ttu: TtuPlan, keys: Sequence[TupleKey]) -> list[Hop]:
    """The parents named by the tupleset tuples ``keys`` (``obj#ttu.tupleset``) whose relation can
    reach the user; usersets and wildcards are never parents."""
    user_keys = ctx.user_keys
    targets = ttu.targets
    hops: list[Hop] = []
    for key in keys:
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


def keep_error(err: EngineError, error: EngineError | None) -> EngineError:
    """The error to remember after a branch raised ``err``: the first branch error met. An error
    that is not ``branch_scoped`` (the request's budget) is raised at once."""
    if not err.branch_scoped:
        raise err
    return error or err


def union_end(out: int, error: EngineError | None) -> int:
    """A union none of whose branches was ``TRUE``: the remembered branch error, else ``out``
    (``CYCLE`` if a branch met a cycle, else ``FALSE``)."""
    if error is not None:
        raise error
    return out


def intersection_end(error: EngineError | None) -> int:
    """An intersection all of whose branches were ``TRUE`` or errors: the error, else ``TRUE``."""
    if error is not None:
        raise error
    return TRUE


def difference_end(subtracted: int, base_error: EngineError | None) -> int:
    """``base but not subtract`` once the base was ``TRUE`` (or an error, ``base_error``) and the
    subtracted branch answered ``subtracted``: a granted subtraction denies, a cycle in it is a
    cycle, else the base's error if it had one, else ``TRUE``. (An error of the subtracted branch
    raises the base's error if any, else its own.)"""
    if subtracted == TRUE:
        return FALSE
    if subtracted == CYCLE:
        return CYCLE
    if base_error is not None:
        raise base_error
    return TRUE
