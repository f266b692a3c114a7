"""The token-subject check API: a backend forwards its user's bearer token and asks permsvc
about that user, without a JWT library of its own.

====================  =============================================================  ==============
route                 question                                                       command
====================  =============================================================  ==============
POST /v1/check        may the user ``relation`` the ``object``?                       CheckQuery
POST /v1/check/batch  many such questions at one revision                             BatchCheckQuery
POST /v1/objects      which objects of ``type`` may the user ``relation``? (paged)    ListObjectsQuery
POST /v1/relations    which relations does the user have on ``object``?               ListRelationsQuery
POST /v1/explain      why may (or may not) the user ``relation`` the ``object``?      ExplainQuery
GET /v1/whoami        who is calling: its kind, roles, store limit (any credential)  (none)
====================  =============================================================  ==============

An end user's own token asks about ``<PERMSVC_SUBJECT_TYPE>:<sub claim>`` (``user:auth0|42``); a
service passes its user's token as ``subject_token`` (or, with the ``read`` role, names ``user``).
Who may ask what is decided in :mod:`permsvc.api.security.subjects`. Every answer names the
revision it was computed at.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Router
from litestar.params import RawBody

from permsvc.api.deps import group_services
from permsvc.api.errors import ApiError, translate
from permsvc.api.openfga.convert import (
    check_consistency,
    check_model_id,
    contextual_tuples,
    decode_body,
    decoders,
)
from permsvc.api.routing import RouteGroup
from permsvc.api.security import Principal, principal_of, resolve_store
from permsvc.api.security.subjects import count_tuples, subject_of_request
from permsvc.api.tokencheck import schemas as s
from permsvc.auth.roles import ROLES
from permsvc.commands.batch_check import BatchCheckItem, BatchCheckParams, BatchCheckQuery
from permsvc.commands.check import CheckParams, CheckQuery
from permsvc.commands.explain import ExplainParams, ExplainQuery
from permsvc.commands.list_objects import ListObjectsParams, ListObjectsQuery
from permsvc.commands.list_relations import ListRelationsParams, ListRelationsQuery
from permsvc.commands.prepare import QueryOutcome
from permsvc.core.refs import TupleKey
from permsvc.core.revision import Consistency, encode_token
from permsvc.settings import DEFAULT_MAX_BATCH_CHECK_ITEMS

if TYPE_CHECKING:
    from permsvc.api.deps import Deps
    from permsvc.settings import Settings

__all__ = ("ROUTES", "build_router")

_route = RouteGroup(["Token-subject checks"])
_STATE_KEY = "tokencheck_services"

_DECODERS = decoders(
    s.CheckRequest,
    s.BatchCheckRequest,
    s.ListObjectsRequest,
    s.ListRelationsRequest,
    s.ExplainRequest,
)


class _Services:
    def __init__(self, deps: Deps) -> None:
        ds, models, limits = deps.datastore, deps.models, deps.settings.limits
        self.metrics = deps.metrics
        self.check = CheckQuery(reader=ds, resolver=models, limits=limits, checker=deps.checker)
        self.batch_check = BatchCheckQuery(
            reader=ds, resolver=models, limits=limits, checker=deps.checker
        )
        self.list_objects = ListObjectsQuery(reader=ds, resolver=models, limits=limits)
        self.explain = ExplainQuery(reader=ds, resolver=models, limits=limits)
        self.list_relations = ListRelationsQuery(
            reader=ds, resolver=models, limits=limits, checker=deps.checker
        )


def _services(request: Request[Any, Any, Any]) -> _Services:
    return group_services(request.app.state, _STATE_KEY, _Services)


class _Asked(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    user: str
    store_id: str
    consistency: Consistency


async def _common(
    request: Request[Any, Any, Any],
    req: Any,
    name: str,
    *,
    tuples: int | None = None,
    context: bool | None = None,
) -> _Asked:
    principal = principal_of(request)
    store = resolve_store(request, principal, req.store_id)
    user = await subject_of_request(
        request.app.state.deps.security,
        principal,
        user=req.user,
        subject_token=req.subject_token,
        contextual_tuples=count_tuples(req.contextual_tuples) if tuples is None else tuples,
        context=bool(req.context) if context is None else context,
    )
    check_model_id(req.authorization_model_id, name)
    consistency = check_consistency(req.consistency, req.consistency_token, name)
    return _Asked(principal=principal, user=user, store_id=store, consistency=consistency)


def _fields(asked: _Asked, req: Any) -> dict[str, Any]:
    """The :class:`~permsvc.commands.prepare.QueryFields` of a request: its store, model,
    contextual tuples, condition context and consistency."""
    return {
        "store_id": asked.store_id,
        "model_id": req.authorization_model_id,
        "contextual_tuples": contextual_tuples(req.contextual_tuples),
        "context": req.context,
        "consistency": asked.consistency,
    }


def _answered(asked: _Asked, outcome: QueryOutcome) -> dict[str, Any]:
    """What every answer names: the user, the store, and the model and revision it was computed at."""
    return {
        "user": asked.user,
        "store_id": asked.store_id,
        "authorization_model_id": outcome.model_id,
        "revision": outcome.revision,
        "consistency_token": encode_token(asked.store_id, outcome.revision),
    }


def _decode(request: Request[Any, Any, Any], body: bytes, kind: type[Any]) -> Any:
    return decode_body(_DECODERS[kind], body, kind.__name__)


@_route("POST", "/v1/check", "TokenCheck")
async def check(request: Request[Any, Any, Any], body: RawBody) -> s.CheckResponse:
    """Check: may the token's user (or the named user) have the relation with the object?"""
    req: s.CheckRequest = _decode(request, body, s.CheckRequest)
    asked = await _common(request, req, "CheckRequest")
    services = _services(request)
    outcome = await services.check.execute(
        CheckParams(
            tuple_key=TupleKey(object=req.object, relation=req.relation, user=asked.user),
            **_fields(asked, req),
        )
    )
    services.metrics.decision("v1", outcome.allowed)
    return s.CheckResponse(
        allowed=outcome.allowed,
        object=req.object,
        relation=req.relation,
        **_answered(asked, outcome),
    )


@_route("POST", "/v1/check/batch", "TokenBatchCheck")
async def batch_check(request: Request[Any, Any, Any], body: RawBody) -> s.BatchCheckResponse:
    """Batch check: many checks for one user, answered at one revision"""
    req: s.BatchCheckRequest = _decode(request, body, s.BatchCheckRequest)
    if not req.checks or len(req.checks) > DEFAULT_MAX_BATCH_CHECK_ITEMS:
        raise ApiError(
            "validation_error",
            f"'checks' must hold 1 to {DEFAULT_MAX_BATCH_CHECK_ITEMS} items, got {len(req.checks)}",
        )
    asked = await _common(
        request,
        req,
        "BatchCheckRequest",
        tuples=count_tuples(req.contextual_tuples)
        + sum(count_tuples(i.contextual_tuples) for i in req.checks),
        context=bool(req.context) or any(i.context for i in req.checks),
    )
    items = tuple(
        BatchCheckItem(
            correlation_id=item.correlation_id or str(i),
            tuple_key=TupleKey(object=item.object, relation=item.relation, user=asked.user),
            contextual_tuples=contextual_tuples(item.contextual_tuples)
            + contextual_tuples(req.contextual_tuples),
            context={**(req.context or {}), **(item.context or {})}
            if (req.context or item.context)
            else None,
        )
        for i, item in enumerate(req.checks)
    )
    services = _services(request)
    outcome = await services.batch_check.execute(
        BatchCheckParams(
            store_id=asked.store_id,
            items=items,
            model_id=req.authorization_model_id,
            consistency=asked.consistency,
        )
    )
    results = []
    for item in items:
        result = outcome.results[item.correlation_id]
        error = None
        if result.error is not None:
            _, body_out, _ = translate(result.error)
            error = s.ItemError(body_out.code, body_out.message)
        else:
            services.metrics.decision("v1", result.allowed)
        results.append(
            s.BatchCheckItemOut(
                correlation_id=item.correlation_id,
                object=item.tuple_key.object,
                relation=item.tuple_key.relation,
                allowed=result.allowed,
                error=error,
            )
        )
    return s.BatchCheckResponse(results=results, **_answered(asked, outcome))


@_route("POST", "/v1/objects", "TokenListObjects")
async def list_objects(request: Request[Any, Any, Any], body: RawBody) -> s.ListObjectsResponse:
    """List objects: the objects of a type the user has the relation with (paged)"""
    req: s.ListObjectsRequest = _decode(request, body, s.ListObjectsRequest)
    asked = await _common(request, req, "ListObjectsRequest")
    largest = request.app.state.deps.settings.limits.list_max_results
    if req.page_size is not None and not 1 <= req.page_size <= largest:
        raise ApiError(
            "validation_error", f"'page_size' must be 1 to {largest}, got {req.page_size}"
        )
    outcome = await _services(request).list_objects.execute(
        ListObjectsParams(
            type=req.type,
            relation=req.relation,
            user=asked.user,
            page_size=req.page_size,
            continuation_token=req.continuation_token,
            **_fields(asked, req),
        )
    )
    return s.ListObjectsResponse(
        objects=outcome.objects,
        continuation_token=outcome.continuation_token,
        **_answered(asked, outcome),
    )


@_route("POST", "/v1/relations", "TokenListRelations")
async def list_relations(request: Request[Any, Any, Any], body: RawBody) -> s.ListRelationsResponse:
    """List relations: every relation the user has on one object"""
    req: s.ListRelationsRequest = _decode(request, body, s.ListRelationsRequest)
    asked = await _common(request, req, "ListRelationsRequest")
    outcome = await _services(request).list_relations.execute(
        ListRelationsParams(
            object=req.object,
            user=asked.user,
            relations=tuple(req.relations or ()),
            **_fields(asked, req),
        )
    )
    return s.ListRelationsResponse(
        object=req.object,
        relations=outcome.relations,
        **_answered(asked, outcome),
    )


@_route("POST", "/v1/explain", "TokenExplain")
async def explain(request: Request[Any, Any, Any], body: RawBody) -> s.ExplainResponse:
    """Explain: the check's decision with its proof (witnesses, or the branches that failed)"""
    req: s.ExplainRequest = _decode(request, body, s.ExplainRequest)
    asked = await _common(request, req, "ExplainRequest")
    outcome = await _services(request).explain.execute(
        ExplainParams(
            tuple_key=TupleKey(object=req.object, relation=req.relation, user=asked.user),
            all_paths=req.all_paths,
            limit=req.limit,
            max_denial_nodes=req.max_denial_nodes,
            **_fields(asked, req),
        )
    )
    e = outcome.explanation
    error = None
    if e.error is not None:
        _, body_out, _ = translate(e.error)
        error = s.ExplainError(body_out.code, body_out.message)
    return s.ExplainResponse(
        allowed=e.allowed,
        object=req.object,
        relation=req.relation,
        cycle_detected=e.cycle_detected,
        shortest=e.shortest,
        witnesses=[list(w) for w in e.witnesses],
        denial=e.denial,
        pruned=e.pruned,
        error=error,
        **_answered(asked, outcome),
    )


@_route("GET", "/v1/whoami", "WhoAmI")
async def whoami(request: Request[Any, Any, Any]) -> s.WhoAmIResponse:
    """Who am I: the caller's kind, roles and store limit, as permsvc sees its credential"""
    principal = principal_of(request)
    claims = principal.claims
    deps: Deps = request.app.state.deps
    return s.WhoAmIResponse(
        kind=principal.kind,
        actor=principal.actor.id,
        roles=[role for role in ROLES if role in principal.roles],
        store_id=principal.store_id,
        subject=principal.subject,
        client_id=None if claims is None else claims.client_id,
        scopes=[] if claims is None else sorted(claims.scopes),
        note=deps.security.note_on(principal),
    )


ROUTES = (check, batch_check, list_objects, list_relations, explain, whoami)


def build_router(settings: Settings) -> Router:
    """The /v1 check routes (admitted by the front door of :mod:`permsvc.api.security`)."""
    return Router(path="/", route_handlers=list(ROUTES))
