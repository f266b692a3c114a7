"""CheckQuery: is ``user`` related to ``object`` as ``relation``? (OpenFGA Check.)"""

from __future__ import annotations

from permsvc.commands.errors import InvalidInputError
from permsvc.commands.prepare import CheckingQuery, QueryFields, QueryOutcome, require_user
from permsvc.core.refs import TupleKey
from permsvc.model.tuple_validation import object_relation_problem
from permsvc.model.typesystem import TypeSystem

__all__ = ("CheckOutcome", "CheckParams", "CheckQuery", "validate_check_tuple")


class CheckParams(QueryFields, frozen=True, kw_only=True):
    """A Check request. ``model_id`` empty means the store's latest model."""

    tuple_key: TupleKey

    def validate(self, typesystem: TypeSystem) -> None:
        """:func:`validate_check_tuple` of this request's tuple key."""
        validate_check_tuple(typesystem, self.tuple_key)


class CheckOutcome(QueryOutcome, frozen=True, kw_only=True):
    """The answer, the model and the store revision it was computed at.

    ``cycle_detected`` is set when the answer is ``False`` because evaluation met a cycle.
    """

    allowed: bool
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
        prepared, ctx = await self._prepare_query(
            params, params.validate, user=params.tuple_key.user
        )
        result = await self._checker.check(ctx, params.tuple_key.object, params.tuple_key.relation)
        return CheckOutcome(
            allowed=result.allowed,
            model_id=prepared.model_id,
            revision=prepared.revision,
            cycle_detected=result.cycle_detected,
        )
