"""ListObjectsQuery: the objects of a type a user has a relation with (OpenFGA ListObjects and
StreamedListObjects), paginated instead of silently truncated."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from permsvc.commands._paging import ListFields, ListOutcome, decode_after, list_page, query_digest
from permsvc.commands.prepare import EngineQuery, require_user
from permsvc.engine.list_objects import list_objects
from permsvc.engine.request import request_digest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from permsvc.model.typesystem import TypeSystem

__all__ = ("ListObjectsOutcome", "ListObjectsParams", "ListObjectsQuery")


class ListObjectsParams(ListFields, frozen=True, kw_only=True):
    type: str
    relation: str
    user: str


class ListObjectsOutcome(ListOutcome, frozen=True, kw_only=True):
    """One page of objects (see :class:`ListOutcome`)."""

    objects: list[str]


class ListObjectsQuery(EngineQuery):
    """Errors: ``TypeNotFoundError`` (2021) / ``RelationNotFoundError`` (2022) for the requested
    type and relation, ``InvalidInputError`` (2000) for an unusable user, ``InvalidTupleError``
    (2027) for a contextual tuple, ``InvalidContinuationTokenError`` (2007), and the engine errors
    of the Check that confirms each object."""

    async def _start(self, params: ListObjectsParams) -> tuple[Any, Any]:
        def validate(ts: TypeSystem) -> None:
            ts.relation(params.type, params.relation)
            require_user(ts, params.user)

        return await self._prepare_query(
            params, validate, user=params.user, deadline_s=self._limits.list_deadline_s
        )

    def _digest(self, params: ListObjectsParams, model_id: str) -> str:
        return query_digest(
            "lo",
            params.store_id,
            model_id,
            params.type,
            params.relation,
            params.user,
            request_digest(params.contextual_tuples, params.context),
        )

    async def execute(self, params: ListObjectsParams) -> ListObjectsOutcome:
        prepared, ctx = await self._start(params)
        digest = self._digest(params, prepared.model_id)
        objects, listed = await list_page(
            prepared,
            params,
            self._limits,
            "lo",
            digest,
            lambda after: list_objects(ctx, params.type, params.relation, after=after),
        )
        return ListObjectsOutcome(objects=objects, **listed)

    async def stream(self, params: ListObjectsParams) -> AsyncIterator[str]:
        """Every object, as it is confirmed (StreamedListObjects); validation errors are raised
        before the first item, evaluation errors end the stream."""
        prepared, ctx = await self._start(params)
        after = decode_after(
            params.continuation_token, "lo", self._digest(params, prepared.model_id)
        )
        async for obj in list_objects(ctx, params.type, params.relation, after=after):
            yield obj
