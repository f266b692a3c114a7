"""WriteAssertions / ReadAssertions: the expected check results stored with a model
(OpenFGA pkg/server/commands/{write,read}_assertions.go)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from permsvc.commands.errors import InvalidInputError
from permsvc.core.refs import InvalidRefError, check_tuple_text, parse_object, parse_subject
from permsvc.model.tuple_validation import validate_tuple
from permsvc.model.typesystem import RelationNotFoundError, TypeNotFoundError
from permsvc.settings import DEFAULT_MAX_ASSERTIONS
from permsvc.store.protocol import Assertion, AssertionStore

if TYPE_CHECKING:
    from permsvc.commands.models import ModelResolver
    from permsvc.model.typesystem import TypeSystem

__all__ = (
    "MAX_ASSERTION_CONTEXTUAL_TUPLES",
    "AssertionsTooManyItemsError",
    "ReadAssertionsQuery",
    "WriteAssertionsCommand",
)

MAX_ASSERTION_CONTEXTUAL_TUPLES = 20
"""OpenFGA's limit of contextual tuples per assertion."""


class AssertionsTooManyItemsError(InvalidInputError):
    """More than 100 assertions (OpenFGA ``assertions_too_many_items``)."""

    openfga_name = "assertions_too_many_items"


@dataclass(frozen=True, kw_only=True, slots=True)
class WriteAssertionsCommand:
    """Replace the assertions of one model (which must exist in the store).

    Each assertion's tuple must name a type and relation of the model with a well-formed user;
    its contextual tuples must fit the model like written tuples.
    """

    assertions: AssertionStore
    resolver: ModelResolver
    max_assertions: int = DEFAULT_MAX_ASSERTIONS

    async def execute(self, store_id: str, model_id: str, assertions: Sequence[Assertion]) -> None:
        if len(assertions) > self.max_assertions:
            raise AssertionsTooManyItemsError(
                f"invalid WriteAssertionsRequest.Assertions: value must contain no more than {self.max_assertions} item(s)"
            )
        ts = await self.resolver.resolve(store_id, model_id) if model_id else None
        if ts is None:
            raise InvalidInputError("the authorization_model_id of WriteAssertions is required")
        for assertion in assertions:
            _check_assertion_tuple(ts, assertion)
            if len(assertion.contextual_tuples) > MAX_ASSERTION_CONTEXTUAL_TUPLES:
                raise InvalidInputError(
                    "invalid Assertion.ContextualTuples: value must contain no more than "
                    f"{MAX_ASSERTION_CONTEXTUAL_TUPLES} item(s)"
                )
            for key in assertion.contextual_tuples:
                validate_tuple(ts, key, contextual=True)
        await self.assertions.write_assertions(store_id, model_id, assertions)


def _check_assertion_tuple(ts: TypeSystem, assertion: Assertion) -> None:
    key = assertion.tuple_key
    check_tuple_text(key, "AssertionTupleKey")
    try:
        obj = parse_object(key.object)
        parse_subject(key.user)
    except InvalidRefError as err:
        raise InvalidInputError(f"invalid assertion '{key}': {err}") from err
    try:
        ts.relation(obj.type, key.relation)
    except (TypeNotFoundError, RelationNotFoundError) as err:
        raise InvalidInputError(f"invalid assertion '{key}': {err}") from err


@dataclass(frozen=True, kw_only=True, slots=True)
class ReadAssertionsQuery:
    """The assertions of one model (empty when none were written); ``ModelNotFoundError`` otherwise."""

    assertions: AssertionStore

    async def execute(self, store_id: str, model_id: str) -> list[Assertion]:
        return await self.assertions.read_assertions(store_id, model_id)
