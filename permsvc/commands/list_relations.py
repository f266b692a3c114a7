"""ListRelationsQuery: every relation a user has on one object, in one call.

Each relation is one Check against the same resolved model and reader stack; OpenFGA clients
emulate this with one BatchCheck per relation.
"""

from __future__ import annotations

from permsvc.commands.errors import InvalidInputError
from permsvc.commands.prepare import CheckingQuery, QueryFields, QueryOutcome, require_user

__all__ = ("ListRelationsOutcome", "ListRelationsParams", "ListRelationsQuery")


class ListRelationsParams(QueryFields, frozen=True, kw_only=True):
    """``relations`` empty means every relation of the object's type."""

    object: str
    user: str
    relations: tuple[str, ...] = ()


class ListRelationsOutcome(QueryOutcome, frozen=True, kw_only=True):
    """The relations the user has, in the model's definition order."""

    relations: list[str]


class ListRelationsQuery(CheckingQuery):
    """Errors as Check's, plus ``TypeNotFoundError`` / ``RelationNotFoundError`` for the object's
    type and the requested relations. A relation whose check fails with a branch error (a
    condition missing parameters) fails the query: a partial answer would read as "no"."""

    async def execute(self, params: ListRelationsParams) -> ListRelationsOutcome:
        prepared = await self._prepare(
            params,
            contextual_tuples=params.contextual_tuples,
            context=params.context,
        )
        ts = prepared.typesystem
        otype, sep, oid = params.object.partition(":")
        if not sep or not otype or not oid or "#" in params.object:
            raise InvalidInputError(f"invalid object '{params.object}': expected 'type:id'")
        defined = ts.relations_of(otype)
        wanted = params.relations or tuple(defined)
        for rel in wanted:
            ts.relation(otype, rel)
        require_user(ts, params.user)
        allowed: list[str] = []
        for rel in wanted:
            ctx = prepared.context(self._limits, params.context, user=params.user)
            result = await self._checker.check(ctx, params.object, rel)
            if result.allowed:
                allowed.append(rel)
        return ListRelationsOutcome(
            model_id=prepared.model_id, revision=prepared.revision, relations=allowed
        )
