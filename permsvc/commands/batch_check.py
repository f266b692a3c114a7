"""BatchCheckQuery: many checks in one call (OpenFGA BatchCheck).

One item's error is that item's result, never a failed batch. Identical checks (same tuple key,
contextual tuples and context) are evaluated once and their result shared.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec

from permsvc.commands.check import CheckParams, CheckQuery
from permsvc.commands.errors import InvalidInputError
from permsvc.commands.prepare import CheckingQuery, QueryOutcome
from permsvc.core.errors import PermsvcError
from permsvc.core.refs import TupleKey
from permsvc.core.revision import MINIMIZE_LATENCY, Consistency, encode_token
from permsvc.engine.request import ResolveRequest, request_digest
from permsvc.store.consistency import reader_for
from permsvc.store.errors import DatabaseFault

__all__ = (
    "BatchCheckItem",
    "BatchCheckItemResult",
    "BatchCheckOutcome",
    "BatchCheckParams",
    "BatchCheckQuery",
)


class BatchCheckItem(msgspec.Struct, frozen=True, kw_only=True):
    correlation_id: str
    tuple_key: TupleKey
    contextual_tuples: tuple[TupleKey, ...] = ()
    context: dict[str, Any] | None = None


class BatchCheckParams(msgspec.Struct, frozen=True, kw_only=True):
    store_id: str
    items: tuple[BatchCheckItem, ...]
    model_id: str = ""
    consistency: Consistency = MINIMIZE_LATENCY
    """The revision the answer must be computed at, at least (see :class:`Consistency`)."""


class BatchCheckItemResult(msgspec.Struct, frozen=True, kw_only=True):
    """``error`` is set (and ``allowed`` False) when the item could not be evaluated."""

    allowed: bool
    error: PermsvcError | None = None
    cycle_detected: bool = False


class BatchCheckOutcome(QueryOutcome, frozen=True, kw_only=True):
    results: dict[str, BatchCheckItemResult]


class BatchCheckQuery(CheckingQuery):
    """Runs each distinct check once against one resolved model. Raises only for request-level
    problems: duplicate/empty correlation ids (``InvalidInputError``) and model resolution errors."""

    @functools.cached_property
    def _check(self) -> CheckQuery:
        """The Check each distinct item runs, on this query's checker chain."""
        return CheckQuery(
            reader=self._reader, resolver=self._resolver, limits=self._limits, checker=self._checker
        )

    async def execute(self, params: BatchCheckParams) -> BatchCheckOutcome:
        seen: set[str] = set()
        for item in params.items:
            if not item.correlation_id:
                raise InvalidInputError("every batch check item needs a correlation_id")
            if item.correlation_id in seen:
                raise InvalidInputError(
                    f"duplicate correlation_id '{item.correlation_id}' in batch check"
                )
            seen.add(item.correlation_id)
        typesystem = await self._resolver.resolve(
            params.store_id, params.model_id, params.consistency
        )
        _, revision = await reader_for(self._reader, params.store_id, params.consistency)
        at_least = Consistency(token=encode_token(params.store_id, revision))
        done: dict[ResolveRequest, BatchCheckItemResult] = {}
        results: dict[str, BatchCheckItemResult] = {}
        for item in params.items:
            key = ResolveRequest(
                store_id=params.store_id,
                model_id=typesystem.model_id,
                revision=revision,
                object=item.tuple_key.object,
                relation=item.tuple_key.relation,
                user=item.tuple_key.user,
                digest=request_digest(item.contextual_tuples, item.context),
            )
            result = done.get(key)
            if result is None:
                try:
                    outcome = await self._check.execute(
                        CheckParams(
                            store_id=params.store_id,
                            tuple_key=item.tuple_key,
                            model_id=typesystem.model_id,
                            contextual_tuples=item.contextual_tuples,
                            context=item.context,
                            consistency=at_least,
                        )
                    )
                    result = BatchCheckItemResult(
                        allowed=outcome.allowed, cycle_detected=outcome.cycle_detected
                    )
                except PermsvcError as err:
                    if isinstance(err, DatabaseFault):
                        raise  # the database, not this item, failed: the whole request is a 503
                    result = BatchCheckItemResult(allowed=False, error=err)
                done[key] = result
            results[item.correlation_id] = result
        return BatchCheckOutcome(model_id=typesystem.model_id, revision=revision, results=results)
