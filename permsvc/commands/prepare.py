"""What every query command does before evaluating: resolve the model, validate the request's
tuples, compose the per-request reader, and note the revision the answer is computed at."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING, Any, Protocol, Required, TypedDict, Unpack

import msgspec

from permsvc.commands.errors import InvalidContextError, InvalidInputError
from permsvc.core.refs import TupleKey
from permsvc.core.revision import MINIMIZE_LATENCY, Consistency
from permsvc.engine.request import request_digest
from permsvc.engine.resolver import build_check_resolver, new_context
from permsvc.model.tuple_validation import user_problem, validate_tuple
from permsvc.settings import EngineLimits
from permsvc.store.consistency import reader_for
from permsvc.store.wrappers import wrap_for_request

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from permsvc.commands.models import ModelResolver
    from permsvc.engine.request import ResolveContext
    from permsvc.engine.resolver import CheckResolver
    from permsvc.model.typesystem import TypeSystem
    from permsvc.store.protocol import TupleReader

__all__ = (
    "CheckingDeps",
    "CheckingQuery",
    "EngineQuery",
    "Prepared",
    "QueryFields",
    "QueryOutcome",
    "QueryParams",
    "require_user",
)


@dataclass(slots=True)
class Prepared:
    """A resolved model plus the request's reader stack and revision."""

    store_id: str
    typesystem: TypeSystem
    reader: TupleReader
    revision: int
    digest: str = ""
    """:func:`~permsvc.engine.request.request_digest` of the contextual tuples and context."""
    _: KW_ONLY
    contextual_tuples: Sequence[TupleKey] = ()
    condition_context: dict[str, Any] | None = None

    @property
    def model_id(self) -> str:
        return self.typesystem.model_id

    def context(
        self,
        limits: EngineLimits,
        context: dict[str, Any] | None,
        *,
        user: str = "",
        deadline_s: float | None = None,
    ) -> ResolveContext:
        """A per-check context. Its cache digest covers ``context``: callers such as AuthZEN
        evaluate several checks, each with its own condition context, on one prepared request."""
        return new_context(
            store_id=self.store_id,
            typesystem=self.typesystem,
            reader=self.reader,
            limits=limits,
            context=context,
            user=user,
            deadline_s=deadline_s,
            revision=self.revision,
            digest=self.digest
            if context is self.condition_context
            else request_digest(self.contextual_tuples, context),
        )


def require_user(typesystem: TypeSystem, user: str) -> None:
    """OpenFGA's ``ValidateUser`` for a query's user; raises ``InvalidInputError`` (2000)."""
    problem = user_problem(typesystem, user)
    if problem:
        raise InvalidInputError(f"invalid 'user' field '{user}': {problem}")


class QueryParams(Protocol):
    """What every engine query's parameters name: the store, the model and the consistency."""

    @property
    def store_id(self) -> str: ...

    @property
    def model_id(self) -> str: ...

    @property
    def consistency(self) -> Consistency: ...


class QueryFields(msgspec.Struct, frozen=True, kw_only=True):
    """The request fields of a query evaluated with contextual tuples and a condition context
    (Check, Explain, ListObjects, ListUsers, ListRelations); each adds what it asks about.
    ``model_id`` empty means the store's latest model."""

    store_id: str
    model_id: str = ""
    contextual_tuples: tuple[TupleKey, ...] = ()
    context: dict[str, Any] | None = None
    consistency: Consistency = MINIMIZE_LATENCY
    """The revision the answer must be computed at, at least (see :class:`Consistency`)."""


class QueryOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """The model and the store revision an engine query's answer was computed at; each outcome
    adds its answer."""

    model_id: str
    revision: int


class EngineDeps(TypedDict, total=False):
    """What :class:`EngineQuery` is built with, for subclasses that add settings of their own."""

    reader: Required[TupleReader]
    resolver: Required[ModelResolver]
    limits: EngineLimits


class CheckingDeps(EngineDeps, total=False):
    """What :class:`CheckingQuery` is built with."""

    checker: CheckResolver | None


class EngineQuery:
    """Base of the queries the engine answers: each is built with the tuple reader, the model
    resolver and the per-request work bounds, and starts with :meth:`_prepare` (or
    :meth:`_prepare_query`)."""

    def __init__(
        self,
        *,
        reader: TupleReader,
        resolver: ModelResolver,
        limits: EngineLimits = EngineLimits(),  # noqa: B008 - frozen struct
    ) -> None:
        self._reader = reader
        self._resolver = resolver
        self._limits = limits

    async def _prepare(
        self,
        params: QueryParams,
        *,
        contextual_tuples: Sequence[TupleKey] = (),
        context: dict[str, Any] | None = None,
        validate: Callable[[TypeSystem], None] | None = None,
    ) -> Prepared:
        """Resolve ``params``' model (the store's latest as fresh as its consistency asks, see
        :class:`~permsvc.commands.models.ModelResolver`), run the query's own ``validate`` on it,
        then validate the contextual tuples (``TupleValidationError``, OpenFGA 2027): OpenFGA
        reports a bad query before a bad contextual tuple.

        The reader and revision come from :func:`~permsvc.store.consistency.reader_for`, last:
        nothing suspends between it and the evaluation, so an in-memory reader answers at exactly
        the revision reported."""
        if context is not None and not isinstance(context, dict):
            raise InvalidContextError("the condition context must be a JSON object")
        store_id, consistency = params.store_id, params.consistency
        typesystem = await self._resolver.resolve(store_id, params.model_id, consistency)
        if validate is not None:
            validate(typesystem)
        for key in contextual_tuples:
            validate_tuple(typesystem, key, contextual=True)
        reader, revision = await reader_for(self._reader, store_id, consistency)
        return Prepared(
            store_id,
            typesystem,
            wrap_for_request(reader, store_id, contextual_tuples),
            revision,
            request_digest(contextual_tuples, context),
            contextual_tuples=contextual_tuples,
            condition_context=context,
        )

    async def _prepare_query(
        self,
        params: QueryFields,
        validate: Callable[[TypeSystem], None] | None = None,
        *,
        user: str = "",
        deadline_s: float | None = None,
    ) -> tuple[Prepared, ResolveContext]:
        """:meth:`_prepare` with the request's own contextual tuples and condition context, and
        the evaluation context for ``user`` (bounded by ``deadline_s``)."""
        prepared = await self._prepare(
            params,
            contextual_tuples=params.contextual_tuples,
            context=params.context,
            validate=validate,
        )
        ctx = prepared.context(self._limits, params.context, user=user, deadline_s=deadline_s)
        return prepared, ctx


class CheckingQuery(EngineQuery):
    """An engine query that runs Checks: it also holds the check-resolver chain, shared when the
    composition root passes one (its answer cache), else a new chain of its own."""

    def __init__(self, *, checker: CheckResolver | None = None, **deps: Unpack[EngineDeps]) -> None:
        super().__init__(**deps)
        self._checker = checker if checker is not None else build_check_resolver()
