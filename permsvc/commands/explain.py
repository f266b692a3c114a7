"""ExplainQuery: Check's decision with its proof (see :mod:`permsvc.engine.explain`).

Prepared exactly as :class:`~permsvc.commands.check.CheckQuery` (the same model resolution,
validation, contextual tuples, consistency and revision), then evaluated by the separate
:func:`~permsvc.engine.explain.explain`, never by the check path or its answer cache.
"""

from __future__ import annotations

from permsvc.commands.check import CheckParams
from permsvc.commands.errors import InvalidInputError
from permsvc.commands.prepare import EngineQuery, QueryOutcome
from permsvc.engine.explain import (
    DEFAULT_MAX_DENIAL_NODES,
    MAX_WITNESSES,
    Explanation,
    explain,
    stored_keys,
    with_write_revisions,
)
from permsvc.store.protocol import TupleWriteRevisions, unwrap

__all__ = ("ExplainOutcome", "ExplainParams", "ExplainQuery")


class ExplainParams(CheckParams, frozen=True, kw_only=True):
    """A Check request plus what to explain: ``all_paths`` lists up to ``limit`` witnesses
    (default 10) instead of one shortest; ``max_denial_nodes`` bounds a denial tree."""

    all_paths: bool = False
    limit: int | None = None
    max_denial_nodes: int = DEFAULT_MAX_DENIAL_NODES


class ExplainOutcome(QueryOutcome, frozen=True, kw_only=True):
    """The explanation, with the model and store revision it was decided at."""

    explanation: Explanation


def witness_limit(all_paths: bool, limit: int | None) -> int:
    """The number of witnesses asked for; ``InvalidInputError`` for a limit out of range."""
    if limit is not None and not 1 <= limit <= MAX_WITNESSES:
        raise InvalidInputError(f"'limit' must be 1 to {MAX_WITNESSES}, got {limit}")
    if not all_paths:
        if limit not in (None, 1):
            raise InvalidInputError("'limit' above 1 needs 'all_paths': true")
        return 1
    return limit if limit is not None else 10


class ExplainQuery(EngineQuery):
    """One explanation. Errors are CheckQuery's, except that an error Check would answer with
    (a condition missing parameters, the depth limit) is reported inside the explanation
    (``Explanation.error``) with the tree that shows where it arose; budget errors stay errors."""

    async def execute(self, params: ExplainParams) -> ExplainOutcome:
        limit = witness_limit(params.all_paths, params.limit)
        if not 1 <= params.max_denial_nodes <= 1000:
            raise InvalidInputError(
                f"'max_denial_nodes' must be 1 to 1000, got {params.max_denial_nodes}"
            )
        prepared, ctx = await self._prepare_query(
            params, params.validate, user=params.tuple_key.user
        )
        explanation = await explain(
            ctx,
            params.tuple_key.object,
            params.tuple_key.relation,
            contextual=frozenset(k.key for k in params.contextual_tuples),
            limit=limit,
            max_denial_nodes=params.max_denial_nodes,
        )
        explanation = await self._write_revisions(params.store_id, explanation, prepared.revision)
        return ExplainOutcome(
            explanation=explanation, model_id=prepared.model_id, revision=prepared.revision
        )

    async def _write_revisions(
        self, store_id: str, explanation: Explanation, revision: int
    ) -> Explanation:
        """Each stored tuple's step with the revision of the write that made it live, read by key
        for these tuples only (the check path never reads it). A tuple deleted or written again
        after ``revision`` (the decision's) has none: the write the decision saw is gone."""
        keys = stored_keys(explanation)
        store = unwrap(self._reader, TupleWriteRevisions)
        if not keys or store is None:
            return explanation
        found = await store.tuple_write_revisions(store_id, keys)
        return with_write_revisions(explanation, {k: r for k, r in found.items() if r <= revision})
