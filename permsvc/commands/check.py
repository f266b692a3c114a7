"""CheckQuery: is ``user`` related to ``object`` as ``relation``? (OpenFGA Check.)"""

from __future__ import annotations

from typing import Any

import msgspec

from permsvc.commands.errors import InvalidInputError
from permsvc.commands.prepare import CheckingQuery, require_user
from permsvc.core.refs import TupleKey
from permsvc.core.revision import MINIMIZE_LATENCY, Consistency
from permsvc.model.tuple_validation import object_relation_problem
from permsvc.model.typesystem import TypeSystem

__all__ = ("CheckOutcome", "CheckParams", "CheckQuery", "validate_check_tuple")


class CheckParams(msgspec.Struct, frozen=True, kw_only=True):
    """A Check request. ``model_id`` empty means the store's latest model."""

    store_id: str
    tuple_key: TupleKey
    model_id: str = ""
    contextual_tuples: tuple[TupleKey, ...] = ()
    context: dict[str, Any] | None = None
    consistency: Consistency = MINIMIZE_LATENCY
    """The revision the answer must be computed at, at least (see :class:`Consistency`)."""


class CheckOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """The answer, the model and the store revision it was computed at.

    ``cycle_detected`` is set when the answer is ``False`` because evaluation met a cycle.
    """

    allowed: bool
    model_id: str
    revision: int
    cycle_detected: bool = False


def validate_check_tuple(typesystem: TypeSystem, key: TupleKey) -> None:
    """OpenFGA's ``ValidateUserObjectRelation``: every failure is a ``validation_error`` (2000)."""
    problem = object_relation_problem(typesystem, key)
    if problem:
        raise InvalidInputError(
            f"invalid check tuple '{key.object}#{key.relation}@{key.user}': {problem}"
        )
    require_user(typesystem, key.user)


class CheckQuery(CheckingQuery):
    """One Check. Errors: ``InvalidInputError`` (2000) for a malformed or unknown tuple key,
    ``TupleValidationError`` (2027) for a contextual tuple that does not fit the model, the engine's
    ``ResolutionDepthExceededError`` (2002), ``ConditionMissingParametersError`` (2000) and the
    budget errors, plus model resolution errors (``ModelNotFoundError`` ...)."""

    async def execute(self, params: CheckParams) -> CheckOutcome:
        prepared = await self._prepare(
            params,
            contextual_tuples=params.contextual_tuples,
            context=params.context,
            validate=lambda ts: validate_check_tuple(ts, params.tuple_key),
        )
        ctx = prepared.context(self._limits, params.context, user=params.tuple_key.user)
        result = await self._checker.check(ctx, params.tuple_key.object, params.tuple_key.relation)
        return CheckOutcome(
            allowed=result.allowed,
            model_id=prepared.model_id,
            revision=prepared.revision,
            cycle_detected=result.cycle_detected,
        )
