"""The AuthZEN Authorization API 1.0 operations over the engine: evaluations and the three searches.

The mapping is OpenFGA's (``docs/authzen``), so a model written for OpenFGA's AuthZEN layer answers
the same here:

==============================  ==========================================================
AuthZEN                         permsvc
==============================  ==========================================================
``subject`` ``{type, id}``      the user ``type:id``
``resource`` ``{type, id}``     the object ``type:id``
``action.name``                 the relation
``context``                     the condition context
``subject.properties.K``        context key ``subject_K`` (likewise ``resource_K``, ``action_K``);
                                the request's own ``context`` wins over every property
==============================  ==========================================================

Entities stay structured ``(type, id)`` pairs until they reach the engine, and ids are taken as
they are: ``alice@example.com``, ``auth0|42`` and ``Alice Smith`` all work. Only ``#`` is refused,
because in the tuple form ``user:a#b`` means the userset ``b`` of ``user:a``; and ``*`` as a
resource id, because there are no wildcard objects. OpenFGA's write API cannot store ids with
whitespace, so such an id is granted only through a typed wildcard (``user:*``).

**Which relations are actions** (:func:`action_relations`), used by Action Search:

1. when an allowlist is configured (``PERMSVC_AUTHZEN_ACTIONS``), the relations it names
   (``fnmatch`` patterns over ``relation`` or ``type#relation``, e.g. ``can_*``);
2. otherwise the type's *permissions*: relations with no direct type restriction, i.e. defined
   only in terms of other relations (``define can_view: viewer or owner``). OpenFGA's modeling
   guidance separates assignable roles (``owner: [user]``) from computed permissions, and an
   AuthZEN action is a permission, not a role;
3. a type that has no such relation (every relation is assignable) exposes all its relations
   except the tupleset relations (the ``parent`` of ``viewer from parent``), which link objects
   and never grant anything by themselves.

An evaluation that cannot be carried out (unknown type or relation, an id the store cannot hold, a
condition missing parameters) is a *denial with an error*, never a failed batch: the spec's
fail-closed rule. Only faults of the server itself (:class:`InvariantViolation`, an unavailable
database) propagate.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Unpack

import msgspec

from permsvc.commands._paging import collect_page, query_digest
from permsvc.commands.errors import InvalidInputError
from permsvc.commands.prepare import CheckingDeps, CheckingQuery, EngineQuery, QueryOutcome
from permsvc.core.errors import InvariantViolation, PermsvcError
from permsvc.core.refs import reject_control_characters
from permsvc.core.revision import MINIMIZE_LATENCY, Consistency
from permsvc.engine.explain import explain as explain_decision
from permsvc.engine.explain import short_form
from permsvc.engine.list_objects import list_objects
from permsvc.engine.list_users import list_users
from permsvc.model.schema import Difference, Intersection, TupleToUserset, Union
from permsvc.model.typesystem import TypeNotFoundError
from permsvc.settings import DEFAULT_MAX_BATCH_CHECK_ITEMS
from permsvc.store.errors import DatabaseFault, InvalidContinuationTokenError
from permsvc.store.tokens import decode_page_token, encode_page_token

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from permsvc.commands.prepare import Prepared
    from permsvc.model.schema import Rewrite
    from permsvc.model.typesystem import TypeSystem

__all__ = (
    "AccessRequest",
    "ActionSearchQuery",
    "Decision",
    "Entity",
    "EvaluationItem",
    "EvaluationsOutcome",
    "EvaluationsParams",
    "EvaluationsQuery",
    "PageRequest",
    "ResourceSearchQuery",
    "SearchOutcome",
    "SearchParams",
    "Semantic",
    "SubjectSearchQuery",
    "TooManyEvaluationsError",
    "action_relations",
    "merged_context",
)

Semantic = Literal["execute_all", "deny_on_first_deny", "permit_on_first_permit"]


class Entity(msgspec.Struct, frozen=True, kw_only=True):
    """A subject or resource. ``id`` is empty where a search ignores it."""

    type: str
    id: str = ""
    properties: dict[str, Any] | None = None

    @property
    def ref(self) -> str:
        return f"{self.type}:{self.id}"


class AccessRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One access evaluation: may ``subject`` perform ``action`` on ``resource``?"""

    subject: Entity
    action: str
    resource: Entity
    action_properties: dict[str, Any] | None = None
    context: dict[str, Any] | None = None


class EvaluationItem(msgspec.Struct, frozen=True, kw_only=True):
    """An item of a batch: a request, or the reason the transport could not build one.

    Carrying invalid items (rather than rejecting the batch) keeps their place in the response
    and lets ``deny_on_first_deny`` stop at them.
    """

    request: AccessRequest | None = None
    error: PermsvcError | None = None


class EvaluationsParams(msgspec.Struct, frozen=True, kw_only=True):
    store_id: str
    items: tuple[EvaluationItem, ...]
    semantic: Semantic = "execute_all"
    model_id: str = ""
    consistency: Consistency = MINIMIZE_LATENCY
    """The revision the answer must be computed at, at least (see :class:`Consistency`)."""
    explain: bool = False
    """Also explain each decision (:func:`permsvc.engine.explain.short_form` in ``Decision.reason``)."""


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """``error`` is set (and ``allowed`` False) when the evaluation could not be carried out.
    ``reason`` is the short form of the decision's explanation, when it was asked for."""

    allowed: bool
    error: PermsvcError | None = None
    reason: str = ""


class EvaluationsOutcome(QueryOutcome, frozen=True, kw_only=True):
    """The decisions in request order; shorter than the request when a semantic stopped early."""

    decisions: list[Decision]


class TooManyEvaluationsError(InvalidInputError):
    """A batch holds more evaluations than one request may carry."""

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(
            f"evaluations: at most {limit} items per request, got {count}; split the batch"
        )
        self.count = count
        self.limit = limit


def merged_context(
    subject: Entity,
    resource: Entity,
    action_properties: dict[str, Any] | None,
    context: dict[str, Any] | None,
) -> dict[str, Any] | None:
    """The condition context of a request: properties as ``subject_K`` / ``resource_K`` /
    ``action_K`` (condition parameter names cannot contain ``.``), then the request's ``context``,
    which wins (OpenFGA's ``mergePropertiesToContext`` precedence)."""
    merged: dict[str, Any] = {}
    for prefix, props in (
        ("subject_", subject.properties),
        ("resource_", resource.properties),
        ("action_", action_properties),
    ):
        for key, value in (props or {}).items():
            merged[prefix + key] = value
    if context:
        merged.update(context)
    return merged or None


def _check_ids(subject: Entity | None, resource: Entity | None) -> None:
    """Refuse the ids the tuple form cannot express (see the module docstring), and control
    characters in any of them (``ControlCharacterError``)."""
    for name, entity in (("subject", subject), ("resource", resource)):
        if entity is not None:
            reject_control_characters(f"{name}.type", entity.type)
            reject_control_characters(f"{name}.id", entity.id)
    if subject is not None and "#" in subject.id:
        raise InvalidInputError(
            f"subject.id '{subject.id}' contains '#': in the tuple form '{subject.ref}' would name a userset"
        )
    if resource is not None:
        if "#" in resource.id:
            raise InvalidInputError(
                f"resource.id '{resource.id}' contains '#', which an object id cannot hold"
            )
        if resource.id == "*":
            raise InvalidInputError(
                "resource.id '*' is not allowed: a wildcard is only valid as a subject id"
            )


def _is_fault(err: PermsvcError) -> bool:
    return isinstance(err, InvariantViolation | DatabaseFault)


class EvaluationsQuery(CheckingQuery):
    """Access Evaluation and Access Evaluations: every item against one resolved model and revision.

    ``execute_all`` evaluates every item; ``deny_on_first_deny`` stops after the first denial
    (an error counts as one), ``permit_on_first_permit`` after the first permit. Raises only for
    request-level problems: model resolution errors, :class:`TooManyEvaluationsError`, and faults.
    """

    def __init__(
        self, *, max_items: int = DEFAULT_MAX_BATCH_CHECK_ITEMS, **deps: Unpack[CheckingDeps]
    ) -> None:
        super().__init__(**deps)
        self._max_items = max_items

    async def execute(self, params: EvaluationsParams) -> EvaluationsOutcome:
        if len(params.items) > self._max_items:
            raise TooManyEvaluationsError(len(params.items), self._max_items)
        prepared = await self._prepare(params)
        decisions: list[Decision] = []
        for item in params.items:
            decision = await self._decide(prepared, item, explain=params.explain)
            decisions.append(decision)
            if params.semantic == "deny_on_first_deny" and not decision.allowed:
                break
            if params.semantic == "permit_on_first_permit" and decision.allowed:
                break
        return EvaluationsOutcome(
            model_id=prepared.model_id, revision=prepared.revision, decisions=decisions
        )

    async def _decide(
        self, prepared: Prepared, item: EvaluationItem, *, explain: bool = False
    ) -> Decision:
        if item.request is None:
            return Decision(
                allowed=False, error=item.error or InvalidInputError("the evaluation is missing")
            )
        req = item.request
        try:
            ts = prepared.typesystem
            if not ts.has_type(req.subject.type):
                raise TypeNotFoundError(req.subject.type)
            ts.relation(req.resource.type, req.action)
            _check_ids(req.subject, req.resource)
            context = merged_context(req.subject, req.resource, req.action_properties, req.context)
            ctx = prepared.context(self._limits, context, user=req.subject.ref)
            result = await self._checker.check(ctx, req.resource.ref, req.action)
            reason = ""
            if explain:
                why = prepared.context(self._limits, context, user=req.subject.ref)
                reason = short_form(await explain_decision(why, req.resource.ref, req.action))
        except PermsvcError as err:
            if _is_fault(err):
                raise
            return Decision(allowed=False, error=err)
        return Decision(allowed=result.allowed, reason=reason)


class PageRequest(msgspec.Struct, frozen=True, kw_only=True):
    """AuthZEN paging: ``token`` from a previous ``next_token``; ``limit`` ``None`` (or 0) means
    the server's page size, and larger limits are capped at it."""

    token: str = ""
    limit: int | None = None


class SearchParams(msgspec.Struct, frozen=True, kw_only=True):
    """A search. The searched entity carries only its type (its id is ignored, as the spec says);
    ``action`` is empty for Action Search."""

    store_id: str
    subject: Entity
    resource: Entity
    action: str = ""
    action_properties: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    page: PageRequest = PageRequest()
    model_id: str = ""
    consistency: Consistency = MINIMIZE_LATENCY
    """The revision the answer must be computed at, at least (see :class:`Consistency`)."""


class SearchOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """One page of results (``type:id`` strings, or relation names for Action Search);
    ``next_token`` is empty on the last page."""

    results: list[str]
    next_token: str = ""
    model_id: str = ""
    revision: int = 0


_TOKEN_KIND = "authzen"


class _Paging:
    """AuthZEN page tokens: the last result returned (results are produced in sorted order, so
    the next page starts strictly after it), bound to the request.

    The token records the request's ``limit``, so that a follow-up may omit it (as the spec's
    example does) but not change it, and a digest of every entity and the context, so changing any
    of them is :class:`InvalidContinuationTokenError` (the spec's SHOULD). The model id is not in
    the digest: a model update between pages continues the listing (the spec promises no
    snapshot) instead of failing it.
    """

    def __init__(self, params: SearchParams, kind: str, max_page: int) -> None:
        page = params.page
        self.kind = kind
        self.digest = query_digest(
            kind,
            params.store_id,
            params.subject.type,
            params.subject.id if kind != "subject" else "",
            params.resource.type,
            params.resource.id if kind != "resource" else "",
            params.action,
            merged_context(
                params.subject, params.resource, params.action_properties, params.context
            ),
        )
        limit = page.limit
        self.cursor = ""
        if page.token:
            payload = decode_page_token(page.token, kind=_TOKEN_KIND)
            issued_limit, after = payload.get("l"), payload.get("a")
            if not isinstance(after, str) or not (
                issued_limit is None or isinstance(issued_limit, int)
            ):
                raise InvalidContinuationTokenError()
            if payload.get("s") != kind or payload.get("h") != self.digest:
                raise InvalidContinuationTokenError(
                    "the page token was issued for a different search"
                )
            if limit is not None and limit != issued_limit:
                raise InvalidContinuationTokenError(
                    f"page.limit {limit} differs from the limit {issued_limit} the token was issued for"
                )
            limit = issued_limit
            self.cursor = after
        self.limit = limit
        self.size = min(limit, max_page) if limit else max_page

    async def collect(self, items: AsyncIterator[str]) -> tuple[list[str], str]:
        """One page and its ``next_token`` (``""`` when the page is the last one)."""
        page, more, _ = await collect_page(
            items, page_size=self.size, kind=self.kind, digest=self.digest, after=self.cursor
        )
        if not more:
            return page, ""
        payload = {
            "k": _TOKEN_KIND,
            "s": self.kind,
            "a": page[-1],
            "h": self.digest,
            "l": self.limit,
        }
        return page, encode_page_token(payload)


class _SearchBase(EngineQuery):
    """What the three searches share: the ids checked (all but the searched entity's), the page
    token read, the model resolved, an empty page when the model does not know the request's
    types or action, else one page of :meth:`_results` (sorted, strictly after the cursor)."""

    _kind: ClassVar[Literal["subject", "resource", "action"]]
    """The searched entity: the page tokens' kind, and the entity whose id is not checked."""

    def _context(self, params: SearchParams) -> dict[str, Any] | None:
        return merged_context(
            params.subject, params.resource, params.action_properties, params.context
        )

    async def execute(self, params: SearchParams) -> SearchOutcome:
        _check_ids(
            params.subject if self._kind != "subject" else None,
            params.resource if self._kind != "resource" else None,
        )
        paging = _Paging(params, self._kind, self._limits.list_max_results)
        prepared = await self._prepare(params)
        if not _known(prepared.typesystem, params):
            return SearchOutcome(results=[], model_id=prepared.model_id, revision=prepared.revision)
        results, token = await paging.collect(self._results(prepared, params, paging.cursor))
        return SearchOutcome(
            results=results,
            next_token=token,
            model_id=prepared.model_id,
            revision=prepared.revision,
        )

    def _results(self, prepared: Prepared, params: SearchParams, after: str) -> AsyncIterator[str]:
        raise NotImplementedError


def _known(ts: TypeSystem, params: SearchParams) -> bool:
    """Whether the types and the action exist; a search naming something the model does not
    define has no results (certification c-4-6), it is not an error."""
    if not ts.has_type(params.subject.type) or not ts.has_type(params.resource.type):
        return False
    return not params.action or ts.get_relation(params.resource.type, params.action) is not None


class SubjectSearchQuery(_SearchBase):
    """Subject Search: the subjects of ``subject.type`` that may perform the action on the resource
    (ListUsers with one type filter; a typed wildcard comes back as id ``*``)."""

    _kind = "subject"

    def _results(self, prepared: Prepared, params: SearchParams, after: str) -> AsyncIterator[str]:
        ctx = prepared.context(
            self._limits, self._context(params), deadline_s=self._limits.list_deadline_s
        )
        return list_users(ctx, params.resource.ref, params.action, params.subject.type, after=after)


class ResourceSearchQuery(_SearchBase):
    """Resource Search: the resources of ``resource.type`` the subject may perform the action on
    (ListObjects)."""

    _kind = "resource"

    def _results(self, prepared: Prepared, params: SearchParams, after: str) -> AsyncIterator[str]:
        ctx = prepared.context(
            self._limits,
            self._context(params),
            user=params.subject.ref,
            deadline_s=self._limits.list_deadline_s,
        )
        return list_objects(ctx, params.resource.type, params.action, after=after)


class ActionSearchQuery(_SearchBase, CheckingQuery):
    """Action Search: the actions (:func:`action_relations`) the subject may perform on the
    resource, sorted by name (as OpenFGA sorts them; the page cursor is the last name). Each is one Check; a Check that fails (a condition
    missing parameters) leaves its action out, as a denial would."""

    _kind = "action"

    def __init__(self, *, allowlist: Sequence[str] = (), **deps: Unpack[CheckingDeps]) -> None:
        super().__init__(**deps)
        self._allowlist = tuple(allowlist)

    async def _results(
        self, prepared: Prepared, params: SearchParams, after: str
    ) -> AsyncIterator[str]:
        context = self._context(params)
        for relation in sorted(
            action_relations(prepared.typesystem, params.resource.type, self._allowlist)
        ):
            if relation <= after:
                continue
            ctx = prepared.context(self._limits, context, user=params.subject.ref)
            try:
                result = await self._checker.check(ctx, params.resource.ref, relation)
            except PermsvcError as err:
                if _is_fault(err):
                    raise
                continue
            if result.allowed:
                yield relation


def action_relations(ts: TypeSystem, object_type: str, allowlist: Sequence[str] = ()) -> list[str]:
    """The relations of ``object_type`` that count as actions (the rule in the module docstring),
    in definition order. Raises :class:`TypeNotFoundError` for an unknown type."""
    relations = ts.relations_of(object_type)
    if allowlist:
        return [
            name
            for name in relations
            if any(
                fnmatchcase(name, p) or fnmatchcase(f"{object_type}#{name}", p) for p in allowlist
            )
        ]
    permissions = [name for name, rd in relations.items() if not rd.directly_related]
    if permissions:
        return permissions
    links: set[str] = set()
    for rd in relations.values():
        links.update(_tuplesets(rd.rewrite))
    return [name for name in relations if name not in links]


def _tuplesets(rewrite: Rewrite) -> list[str]:
    match rewrite:
        case TupleToUserset(tupleset=tupleset):
            return [tupleset]
        case Union(children=children) | Intersection(children=children):
            return [name for child in children for name in _tuplesets(child)]
        case Difference(base=base, subtract=subtract):
            return [*_tuplesets(base), *_tuplesets(subtract)]
    return []
