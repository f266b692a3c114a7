"""Errors of the evaluation engine.

Two kinds of engine error behave differently inside a resolution:

- *branch errors* (:class:`ResolutionDepthExceededError`, :class:`ConditionMissingParametersError`)
  belong to one branch of the rewrite tree. As in OpenFGA, such an error is reported only when no
  other branch decides the result: ``a or b`` is ``True`` when ``b`` is ``True`` even if ``a``
  failed.
- *budget errors* (:class:`DeadlineExceededError`, :class:`DispatchLimitExceededError`) end the
  whole request at once: the request as a whole ran out of its allowance.

:func:`openfga_code` maps any permsvc error to OpenFGA's ``(numeric code, enum name)``
(``errors_ignore.proto``); the API's error table and the conformance runner both read it, so the
mapping lives in one place. Engine errors carry their code as class attributes; errors of other
packages are found in :data:`OPENFGA_CODES` by their qualified class name along the MRO (the
engine may not import the commands layer, whose errors are listed there too).
"""

from __future__ import annotations

from permsvc.core.errors import PermsvcError

__all__ = (
    "OPENFGA_CODES",
    "BudgetExceededError",
    "ConditionEvaluationFailedError",
    "ConditionMissingParametersError",
    "DeadlineExceededError",
    "DispatchLimitExceededError",
    "EngineError",
    "ResolutionDepthExceededError",
    "openfga_code",
)


class EngineError(PermsvcError):
    """Base of engine errors. ``openfga_code`` / ``openfga_name`` are OpenFGA's error enum."""

    openfga_code: int = 4000
    openfga_name: str = "internal_error"
    branch_scoped: bool = True
    """``True``: the error belongs to one branch and loses to a branch that decides the result."""


class ResolutionDepthExceededError(EngineError):
    """More nested dispatches (userset / tuple-to-userset hops) than the depth limit allows."""

    openfga_code = 2002
    openfga_name = "authorization_model_resolution_too_complex"

    def __init__(self, max_depth: int) -> None:
        super().__init__(
            f"authorization model resolution too complex: more than {max_depth} nested userset or "
            "tuple-to-userset hops were needed (resolution depth limit)"
        )
        self.max_depth = max_depth


class ConditionMissingParametersError(EngineError):
    """A relationship condition needs parameters that neither the tuple nor the request supplied."""

    openfga_code = 2000
    openfga_name = "validation_error"

    def __init__(self, condition: str, tuple_str: str, missing: tuple[str, ...]) -> None:
        names = " ".join(sorted(missing))
        super().__init__(
            f"failed to evaluate relationship condition: '{condition}' - tuple '{tuple_str}' "
            f"is missing context parameters '[{names}]'"
        )
        self.condition = condition
        self.tuple_str = tuple_str
        self.missing = tuple(sorted(missing))


class ConditionEvaluationFailedError(EngineError):
    """A relationship condition could not be evaluated (bad parameter value, runtime CEL error)."""

    openfga_code = 2000
    openfga_name = "validation_error"

    def __init__(self, condition: str, tuple_str: str, reason: str) -> None:
        super().__init__(
            reason
            if reason.startswith("failed to evaluate")
            else f"failed to evaluate relationship condition: '{condition}' on tuple '{tuple_str}' - {reason}"
        )
        self.condition = condition
        self.tuple_str = tuple_str
        self.reason = reason


class BudgetExceededError(EngineError):
    """The request as a whole exceeded one of its work bounds; it ends the request at once."""

    branch_scoped = False


class DeadlineExceededError(BudgetExceededError):
    """The request did not finish within its deadline."""

    openfga_code = 4004
    openfga_name = "deadline_exceeded"

    def __init__(self, deadline_s: float) -> None:
        super().__init__(f"the request did not finish within its {deadline_s:g} s deadline")
        self.deadline_s = deadline_s


class DispatchLimitExceededError(BudgetExceededError):
    """The request needed more sub-problems (dispatches) than one request may evaluate."""

    openfga_code = 4006
    openfga_name = "resource_exhausted"

    def __init__(self, max_dispatches: int) -> None:
        super().__init__(
            f"the request needed more than {max_dispatches} sub-problem evaluations (dispatch limit); "
            "narrow the query or simplify the model"
        )
        self.max_dispatches = max_dispatches


OPENFGA_CODES: dict[str, tuple[int, str]] = {
    "permsvc.commands.errors.InvalidInputError": (2000, "validation_error"),
    "permsvc.commands.errors.InvalidContextError": (2000, "validation_error"),
    "permsvc.commands.errors.InvalidRelationError": (2000, "validation_error"),
    "permsvc.core.refs.InvalidRefError": (2000, "validation_error"),
    "permsvc.store.errors.ModelNotFoundError": (2001, "authorization_model_not_found"),
    "permsvc.store.errors.InvalidContinuationTokenError": (2007, "invalid_continuation_token"),
    "permsvc.store.errors.InvalidWriteInputError": (2017, "write_failed_due_to_invalid_input"),
    "permsvc.commands.errors.LatestModelNotFoundError": (
        2020,
        "latest_authorization_model_not_found",
    ),
    "permsvc.model.typesystem.TypeNotFoundError": (2021, "type_not_found"),
    "permsvc.model.typesystem.RelationNotFoundError": (2022, "relation_not_found"),
    "permsvc.commands.errors.InvalidTupleError": (2027, "invalid_tuple"),
    "permsvc.model.errors.ModelError": (2056, "invalid_authorization_model"),
    "permsvc.commands.errors.ThrottledError": (3500, "throttled_timeout_error"),
    "permsvc.store.errors.TupleConditionConflictError": (4008, "aborted"),
    "permsvc.store.errors.StoreNotFoundError": (5002, "store_id_not_found"),
}
"""Qualified exception class name -> ``(numeric code, enum name)`` for errors defined outside the engine."""


def openfga_code(err: BaseException) -> tuple[int, str]:
    """OpenFGA's ``(numeric code, enum name)`` for an error; ``(4000, "internal_error")`` if unknown.

    Precedence: ``openfga_code``/``openfga_name`` class attributes (engine errors, and any error
    that names its own code), then :data:`OPENFGA_CODES` along the MRO.
    """
    code = getattr(err, "openfga_code", None)
    name = getattr(err, "openfga_name", None)
    if isinstance(code, int) and isinstance(name, str):
        return code, name
    for cls in type(err).__mro__:
        found = OPENFGA_CODES.get(f"{cls.__module__}.{cls.__qualname__}")
        if found is not None:
            return found
    return 4000, "internal_error"
