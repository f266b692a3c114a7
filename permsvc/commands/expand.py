"""ExpandQuery: one level of the userset tree of ``object#relation`` (OpenFGA Expand)."""

from __future__ import annotations

from typing import Any

import msgspec

from permsvc.commands.errors import InvalidInputError
from permsvc.commands.prepare import EngineQuery, QueryOutcome
from permsvc.core.refs import TupleKey, reject_control_characters
from permsvc.core.revision import MINIMIZE_LATENCY, Consistency
from permsvc.engine.expand import expand

__all__ = ("ExpandOutcome", "ExpandParams", "ExpandQuery")


class ExpandParams(msgspec.Struct, frozen=True, kw_only=True):
    store_id: str
    object: str
    relation: str
    model_id: str = ""
    contextual_tuples: tuple[TupleKey, ...] = ()
    consistency: Consistency = MINIMIZE_LATENCY
    """The revision the answer must be computed at, at least (see :class:`Consistency`)."""


class ExpandOutcome(QueryOutcome, frozen=True, kw_only=True):
    """``tree`` is exactly OpenFGA's ``{"root": Node}`` JSON (see :mod:`permsvc.engine.expand`)."""

    tree: dict[str, Any]


class ExpandQuery(EngineQuery):
    """Errors: ``InvalidInputError`` (2000) for a malformed object, ``TypeNotFoundError`` (2021),
    ``RelationNotFoundError`` (2022), ``TupleValidationError`` (2027) for a contextual tuple."""

    async def execute(self, params: ExpandParams) -> ExpandOutcome:
        prepared = await self._prepare(params, contextual_tuples=params.contextual_tuples)
        reject_control_characters("object", params.object)
        otype, sep, oid = params.object.partition(":")
        if not sep or not otype or not oid or "#" in params.object:
            raise InvalidInputError(f"invalid object '{params.object}': expected 'type:id'")
        prepared.typesystem.relation(otype, params.relation)
        ctx = prepared.context(self._limits, None)
        tree = await expand(ctx, params.object, params.relation)
        return ExpandOutcome(model_id=prepared.model_id, revision=prepared.revision, tree=tree)
