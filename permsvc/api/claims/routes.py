"""``POST /v1/claims``: the permission summary a post-login Action puts into a token; and the
per-store claim spec, ``PUT|GET|DELETE /v1/admin/stores/{store_id}/claims-spec`` (admin only).

The front door (:mod:`permsvc.api.security`) admits only the ``claims`` role (a ``claims`` or
``admin`` key, or a machine token with ``PERMSVC_CLAIMS_SCOPE``); the handler picks the store
(the body's ``store_id``, else ``PERMSVC_STORE``) and the spec (the store's own, else
``PERMSVC_CLAIMS_SPEC``), and runs :class:`~permsvc.commands.claims.ClaimSummaryQuery`. The
summary is embedded in the response exactly as encoded, so it is byte-identical to what was
measured against the budget.

Errors use the body of every other surface, ``{"code", "message"}``: 400 for a malformed request,
401/403 for the caller, 409 when no spec is configured or the spec names relations the store's
model lacks (the Action then omits the claim or denies the login, as configured).

A spec is uploaded as a JSON object (``Content-Type: application/json``) or as YAML text
(``application/yaml``), validated (restricted claim names, namespaces, budgets) and checked
against the store's latest model before it is stored; a bad one is refused with 400 naming every
problem. The admin routes need the ``admin`` role and the store of their path, and record ``claims_spec.put`` / ``claims_spec.delete`` in the audit log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Router
from litestar.params import FromPath, RawBody

from permsvc.api.authzen.convert import decode_request
from permsvc.api.claims.config import ClaimsSettings
from permsvc.api.claims.schemas import (
    ClaimSpecDeleted,
    ClaimSpecResponse,
    ClaimsRequest,
    ClaimsResponse,
)
from permsvc.api.deps import group_services
from permsvc.api.errors import ApiError
from permsvc.api.openfga.convert import check_store_id
from permsvc.api.routing import RouteGroup
from permsvc.api.security import principal_of, recorder_of, request_id, resolve_store
from permsvc.claims.errors import ClaimSpecModelError
from permsvc.claims.spec import parse_claim_text
from permsvc.commands.claims import (
    ClaimSpecResolver,
    ClaimSummaryParams,
    ClaimSummaryQuery,
    DeleteClaimSpecCommand,
    GetClaimSpecQuery,
    PutClaimSpecCommand,
)
from permsvc.store.protocol import ClaimSpecStore, unwrap

if TYPE_CHECKING:
    from permsvc.api.deps import Deps
    from permsvc.claims.spec import ClaimSpec
    from permsvc.settings import Settings

__all__ = ("build_router",)

_route = RouteGroup(["Claim feed"])


def _spec_store(datastore: object) -> ClaimSpecStore | None:
    """The datastore's claim-spec store (a layer of it: :func:`~permsvc.store.protocol.unwrap`)."""
    return unwrap(datastore, ClaimSpecStore)


class _Services:
    def __init__(self, deps: Deps, settings: ClaimsSettings) -> None:
        self.settings = settings
        self.summary = ClaimSummaryQuery(
            reader=deps.datastore, resolver=deps.models, limits=deps.settings.limits
        )
        self.spec_store = _spec_store(deps.datastore)
        self.specs = ClaimSpecResolver(specs=self.spec_store, default=settings.spec)
        self.models = deps.models
        self.stores = deps.datastore

    def require_spec_store(self) -> ClaimSpecStore:
        if self.spec_store is None:
            raise ApiError(
                "validation_error",
                "this permsvc's datastore cannot keep per-store claim specs",
                status=409,
            )
        return self.spec_store


def _services(request: Request[Any, Any, Any]) -> _Services:
    return group_services(
        request.app.state,
        "claims_services",
        lambda deps: _Services(deps, request.route_handler.opt["claims_settings"]),
    )


async def _spec_for(services: _Services, store_id: str) -> ClaimSpec:
    spec = await services.specs.resolve(store_id)
    if spec is None:
        raise ApiError(
            "validation_error",
            f"no claim spec for store {store_id}: upload one with PUT /v1/admin/stores/{store_id}/claims-spec "
            "or start permsvc with PERMSVC_CLAIMS_SPEC=<file>",
            status=409,
        )
    return spec


@_route("POST", "/v1/claims", "ClaimFeed")
async def claim_feed(request: Request[Any, Any, Any], body: RawBody) -> ClaimsResponse:
    """Permission summary for an access token (post-login Action)

    Answer ``{user_id, audience?, client_id?, store_id?}`` with
    ``{"claims": {"<claim name>": <summary>}, "revision": n, "truncated": bool}``."""
    services = _services(request)
    principal = principal_of(request)
    req = decode_request(body, request.headers.get("content-type"), ClaimsRequest)
    if not req.user_id.strip():
        raise ApiError("validation_error", "invalid ClaimsRequest.user_id: must not be empty")
    store_id = resolve_store(request, principal, req.store_id)
    spec = await _spec_for(services, store_id)
    try:
        summary = await services.summary.execute(
            ClaimSummaryParams(
                store_id=store_id, user_id=req.user_id, spec=spec, audience=req.audience
            )
        )
    except ClaimSpecModelError as err:
        raise ApiError("validation_error", err.detail, status=409) from err
    return ClaimsResponse(
        claims={summary.claim: msgspec.Raw(summary.value)},
        revision=summary.revision,
        truncated=summary.truncated,
    )


def _decode_spec(body: bytes, content_type: str | None) -> ClaimSpec:
    media = (content_type or "application/json").split(";", 1)[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ApiError("validation_error", "the claim spec must be UTF-8 text") from err
    if media in ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"):
        return parse_claim_text(text, source="the request body")
    if media != "application/json" and not media.endswith("+json"):
        raise ApiError(
            "validation_error",
            f"send the spec as application/json or application/yaml, not '{media}'",
        )
    return parse_claim_text(text, source="the request body", json_only=True)


def _spec_response(services: _Services, store_id: str, stored: Any) -> ClaimSpecResponse:
    default = services.settings.spec
    return ClaimSpecResponse(
        store_id=store_id,
        spec=msgspec.Raw(stored.document.encode()) if stored is not None else None,
        updated_at=stored.updated_at if stored is not None else None,
        default=msgspec.Raw(msgspec.json.encode(default.to_document()))
        if default is not None
        else None,
    )


@_route("PUT", "/stores/{store_id:str}/claims-spec", "PutClaimSpec")
async def put_claim_spec(
    request: Request[Any, Any, Any], store_id: FromPath[str], body: RawBody
) -> ClaimSpecResponse:
    """Set the store's claim spec (JSON or YAML)"""
    check_store_id(store_id, "PutClaimSpecRequest")
    services = _services(request)
    spec = _decode_spec(body, request.headers.get("content-type"))
    command = PutClaimSpecCommand(
        stores=services.stores, specs=services.require_spec_store(), resolver=services.models
    )
    try:
        stored = await command.execute(store_id, spec)
    except ClaimSpecModelError as err:
        raise ApiError("validation_error", err.detail) from err
    principal = principal_of(request)
    await recorder_of(request).record(
        actor=principal.actor,
        action="claims_spec.put",
        store_id=store_id,
        detail={
            "claim": spec.claim,
            "relations": list(spec.all_relations()),
            "audiences": sorted(spec.audiences),
        },
        request_id=request_id(request),
    )
    return _spec_response(services, store_id, stored)


@_route("GET", "/stores/{store_id:str}/claims-spec", "GetClaimSpec")
async def get_claim_spec(
    request: Request[Any, Any, Any], store_id: FromPath[str]
) -> ClaimSpecResponse:
    """The store's claim spec

    ``spec`` is the store's own spec (``null`` when it has none); ``default`` the server's
    ``PERMSVC_CLAIMS_SPEC``, used when ``spec`` is ``null``."""
    check_store_id(store_id, "GetClaimSpecRequest")
    services = _services(request)
    stored = await GetClaimSpecQuery(specs=services.require_spec_store()).execute(store_id)
    return _spec_response(services, store_id, stored)


@_route("DELETE", "/stores/{store_id:str}/claims-spec", "DeleteClaimSpec")
async def delete_claim_spec(
    request: Request[Any, Any, Any], store_id: FromPath[str]
) -> ClaimSpecDeleted:
    """Remove the store's claim spec (the server default applies again)"""
    check_store_id(store_id, "DeleteClaimSpecRequest")
    services = _services(request)
    deleted = await DeleteClaimSpecCommand(specs=services.require_spec_store()).execute(store_id)
    if deleted:
        principal = principal_of(request)
        await recorder_of(request).record(
            actor=principal.actor,
            action="claims_spec.delete",
            store_id=store_id,
            request_id=request_id(request),
        )
    return ClaimSpecDeleted(store_id=store_id, deleted=deleted)


def build_router(settings: Settings) -> Router:
    """The claim-feed route group. Loads ``PERMSVC_CLAIMS_SPEC`` now, so a bad spec stops start-up."""
    claims_settings = ClaimsSettings.from_settings(settings)
    admin = Router(
        path="/v1/admin", route_handlers=[put_claim_spec, get_claim_spec, delete_claim_spec]
    )
    return Router(
        path="/", route_handlers=[claim_feed, admin], opt={"claims_settings": claims_settings}
    )
