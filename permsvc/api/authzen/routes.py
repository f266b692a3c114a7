"""The AuthZEN Authorization API 1.0 (OpenID, Final): evaluation, evaluations, the three searches,
and the PDP metadata document.

Every access endpoint is served twice: at the spec's default path for the configured default store
(``PERMSVC_STORE``; the PDP base URL is the server's), and store-scoped as OpenFGA serves it
(``/stores/{store_id}/access/v1/...``; the PDP base URL is ``<server>/stores/<id>``). The metadata
of a store-scoped PDP is at ``/.well-known/authzen-configuration/stores/<id>`` (RFC 8615 insertion
into the PDP id, which is what the spec's identifier check requires), and at OpenFGA's
``/.well-known/authzen-configuration/<id>`` too.

Handlers are thin: decode and validate (:mod:`~permsvc.api.authzen.convert`), run one command of
:mod:`permsvc.commands.authzen`, encode. Errors of the whole request use the service's error body
``{"code", "message"}`` with the statuses of the error table (the spec asks only for the status
and "an error message string"); ``X-Request-ID`` is echoed by the application wrapper on every
response, errors included. The access endpoints sit behind the configured caller authentication
(401 with ``WWW-Authenticate``); the metadata document is public, like other well-known documents,
and reveals nothing about which stores exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from litestar import Request, Response, Router
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, RawBody

from permsvc.api.authzen import schemas as s
from permsvc.api.authzen.convert import (
    EXPLAIN_HEADER,
    MODEL_ID_HEADER,
    REVISION_HEADER,
    access_request,
    decision_out,
    decode_request,
    evaluation_items,
    request_consistency,
    request_ids,
    search_params,
    semantic,
    wants_explanation,
)
from permsvc.api.deps import group_services
from permsvc.api.errors import ApiError
from permsvc.api.openfga.convert import check_store_id
from permsvc.api.routing import RouteGroup
from permsvc.api.security.door import principal_of
from permsvc.commands.authzen import (
    ActionSearchQuery,
    EvaluationItem,
    EvaluationsParams,
    EvaluationsQuery,
    ResourceSearchQuery,
    SearchOutcome,
    SearchParams,
    Semantic,
    SubjectSearchQuery,
)

if TYPE_CHECKING:
    from permsvc.api.deps import Deps
    from permsvc.settings import Settings

__all__ = ("build_router",)

_route = RouteGroup(["AuthZEN"])
_PREFIX = "/access/v1"
_SCOPED = "/stores/{store_id:str}/access/v1"
_WELL_KNOWN = "/.well-known/authzen-configuration"
_CACHE_CONTROL = {"Cache-Control": "max-age=300"}


class _Services:
    """The commands of this surface, built once per app from the shared dependencies."""

    def __init__(self, deps: Deps) -> None:
        ds, models, limits = deps.datastore, deps.models, deps.settings.limits
        self.settings = deps.settings
        self.metrics = deps.metrics
        self.evaluations = EvaluationsQuery(
            reader=ds, resolver=models, limits=limits, checker=deps.checker
        )
        self.subjects = SubjectSearchQuery(reader=ds, resolver=models, limits=limits)
        self.resources = ResourceSearchQuery(reader=ds, resolver=models, limits=limits)
        self.actions = ActionSearchQuery(
            reader=ds,
            resolver=models,
            limits=limits,
            checker=deps.checker,
            allowlist=deps.settings.authzen_actions,
        )


def _services(request: Request[Any, Any, Any]) -> _Services:
    return group_services(request.app.state, "authzen_services", _Services)


def _paths(endpoint: str) -> list[str]:
    return [f"{_PREFIX}{endpoint}", f"{_SCOPED}{endpoint}"]


def _operation_id(name: str) -> Callable[[Any, Any, list[Any]], str]:
    """One OpenAPI operation per path (operation ids must be unique): ``name`` for the default
    store, ``<name>ForStore`` for ``.../stores/{store_id}/...``, ``<name>ForStoreAlias`` for
    OpenFGA's metadata path without ``stores``."""

    def create(_handler: Any, _method: Any, components: list[Any]) -> str:
        if not any(getattr(c, "name", None) == "store_id" for c in components):
            return name
        return f"{name}ForStore" if "stores" in components else f"{name}ForStoreAlias"

    return create


async def _evaluate(
    request: Request[Any, Any, Any],
    store_id: str | None,
    items: tuple[EvaluationItem, ...],
    sem: Semantic = "execute_all",
) -> tuple[list[s.DecisionOut], dict[str, str]]:
    services = _services(request)
    store, model_id = request_ids(services.settings, store_id, request.headers)
    consistency = request_consistency(request.headers)
    outcome = await services.evaluations.execute(
        EvaluationsParams(
            store_id=store,
            items=items,
            semantic=sem,
            model_id=model_id,
            consistency=consistency,
            explain=_explanation_allowed(request),
        )
    )
    for decision in outcome.decisions:
        services.metrics.decision("authzen", decision.allowed)
    headers = {MODEL_ID_HEADER: outcome.model_id, REVISION_HEADER: str(outcome.revision)}
    return [decision_out(d) for d in outcome.decisions], headers


def _explanation_allowed(request: Request[Any, Any, Any]) -> bool:
    """Whether decisions carry ``reason_admin``: asked for by the header, and only for callers with
    the ``read`` role, since an explanation names the tuples behind a decision (the ``check`` role
    answers yes/no only)."""
    if not wants_explanation(request.headers):
        return False
    if "read" not in principal_of(request).roles:
        raise ApiError(
            "forbidden",
            f"{EXPLAIN_HEADER}: true reveals the tuples behind each decision and needs the 'read' role",
            status=403,
        )
    return True


@_route("POST", _paths("/evaluation"), _operation_id("AccessEvaluation"))
async def evaluation(
    request: Request[Any, Any, Any], body: RawBody, store_id: FromPath[str | None] = None
) -> Response[s.DecisionOut]:
    """Access Evaluation: may the subject perform the action on the resource?"""
    req = decode_request(body, request.headers.get("content-type"), s.EvaluationRequest)
    decisions, headers = await _evaluate(
        request, store_id, (EvaluationItem(request=access_request(req)),)
    )
    return Response(decisions[0], headers=headers)


@_route("POST", _paths("/evaluations"), _operation_id("AccessEvaluations"))
async def evaluations(
    request: Request[Any, Any, Any], body: RawBody, store_id: FromPath[str | None] = None
) -> Response[s.EvaluationsResponse | s.DecisionOut]:
    """Access Evaluations: many evaluations with shared defaults, in request order"""
    req = decode_request(body, request.headers.get("content-type"), s.EvaluationsRequest)
    sem = semantic(req.options)
    if not req.evaluations:
        # No items: the single Access Evaluation of the top-level fields, answered in its own
        # shape (the spec's backwards-compatible behaviour; certification c-3-4-2/3).
        single = s.EvaluationRequest(
            subject=req.subject, action=req.action, resource=req.resource, context=req.context
        )
        decisions, headers = await _evaluate(
            request, store_id, (EvaluationItem(request=access_request(single)),)
        )
        return Response(decisions[0], headers=headers)
    decisions, headers = await _evaluate(request, store_id, evaluation_items(req), sem)
    return Response(s.EvaluationsResponse(evaluations=decisions), headers=headers)


def _page(outcome: SearchOutcome) -> s.PageOut:
    return s.PageOut(next_token=outcome.next_token, count=len(outcome.results))


def _entity(ref: str) -> s.EntityOut:
    type_, _, id_ = ref.partition(":")
    return s.EntityOut(type_, id_)


def _search(
    request: Request[Any, Any, Any], body: bytes, store_id: str | None, searched: str
) -> tuple[_Services, SearchParams]:
    req = decode_request(body, request.headers.get("content-type"), s.SearchRequest)
    params = search_params(req, searched)
    services = _services(request)
    store, model_id = request_ids(services.settings, store_id, request.headers)
    consistency = request_consistency(request.headers)
    return services, msgspec.structs.replace(
        params, store_id=store, model_id=model_id, consistency=consistency
    )


def _entities(outcome: SearchOutcome) -> Response[s.SearchResponse]:
    return Response(
        s.SearchResponse(page=_page(outcome), results=[_entity(r) for r in outcome.results]),
        headers={MODEL_ID_HEADER: outcome.model_id, REVISION_HEADER: str(outcome.revision)},
    )


def _entity_search(
    searched: Literal["subject", "resource"], name: str, summary: str
) -> HTTPRouteHandler:
    """Subject Search and Resource Search, which differ only in the entity searched: one route
    each, answering the searched entities."""

    async def search(
        request: Request[Any, Any, Any], body: RawBody, store_id: FromPath[str | None] = None
    ) -> Response[s.SearchResponse]:
        services, params = _search(request, body, store_id, searched)
        query = services.subjects if searched == "subject" else services.resources
        return _entities(await query.execute(params))

    search.__name__ = search.__qualname__ = f"search_{searched}"
    search.__doc__ = summary
    return _route("POST", _paths(f"/search/{searched}"), _operation_id(name))(search)


search_subject = _entity_search(
    "subject",
    "SubjectSearch",
    "Subject Search: the subjects of a type that may perform the action on the resource",
)
search_resource = _entity_search(
    "resource",
    "ResourceSearch",
    "Resource Search: the resources of a type on which the subject may perform the action",
)


@_route("POST", _paths("/search/action"), _operation_id("ActionSearch"))
async def search_action(
    request: Request[Any, Any, Any], body: RawBody, store_id: FromPath[str | None] = None
) -> Response[s.ActionSearchResponse]:
    """Action Search: the actions the subject may perform on the resource"""
    services, params = _search(request, body, store_id, "action")
    outcome = await services.actions.execute(params)
    return Response(
        s.ActionSearchResponse(
            page=_page(outcome), results=[s.ActionOut(r) for r in outcome.results]
        ),
        headers={MODEL_ID_HEADER: outcome.model_id, REVISION_HEADER: str(outcome.revision)},
    )


def _configuration(base: str) -> s.PdpConfiguration:
    return s.PdpConfiguration(
        policy_decision_point=base,
        access_evaluation_endpoint=f"{base}{_PREFIX}/evaluation",
        access_evaluations_endpoint=f"{base}{_PREFIX}/evaluations",
        search_subject_endpoint=f"{base}{_PREFIX}/search/subject",
        search_resource_endpoint=f"{base}{_PREFIX}/search/resource",
        search_action_endpoint=f"{base}{_PREFIX}/search/action",
    )


def _server_url(request: Request[Any, Any, Any], settings: Settings) -> str:
    return (settings.public_url or str(request.base_url)).rstrip("/")


@_route(
    "GET",
    [_WELL_KNOWN, f"{_WELL_KNOWN}/stores/{{store_id:str}}", f"{_WELL_KNOWN}/{{store_id:str}}"],
    _operation_id("AuthZenConfiguration"),
)
async def configuration(
    request: Request[Any, Any, Any], store_id: FromPath[str | None] = None
) -> Response[s.PdpConfiguration]:
    """AuthZEN PDP metadata: the endpoint URLs of the default store's PDP or of one store's"""
    settings: Settings = request.app.state.deps.settings
    server = _server_url(request, settings)
    if store_id is None:
        request_ids(settings, None, {})
        base = server
    else:
        check_store_id(store_id, "AuthZEN configuration request")
        base = f"{server}/stores/{store_id}"
    return Response(_configuration(base), headers=_CACHE_CONTROL)


ROUTES = (evaluation, evaluations, search_subject, search_resource, search_action, configuration)


def build_router(settings: Settings) -> Router:
    """The AuthZEN route group: access endpoints behind caller authentication, public metadata."""
    return Router(path="/", route_handlers=list(ROUTES))
