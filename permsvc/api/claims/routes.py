"""``POST /v1/claims``: the permission summary a post-login Action puts into a token.

The handler authenticates the machine caller (:mod:`permsvc.api.claims.guard`, on the /v1
credentials of :mod:`permsvc.api.admin.credentials`), picks the store
(the body's ``store_id``, else ``PERMSVC_STORE``) and the spec (the store's own, else
``PERMSVC_CLAIMS_SPEC``), and runs :class:`~permsvc.commands.claims.ClaimSummaryQuery`. The
summary is embedded in the response exactly as encoded, so it is byte-identical to what was
measured against the budget.

Errors use the body of every other surface, ``{"code", "message"}``: 400 for a malformed request,
401/403 for the caller, 409 when no spec is configured or the spec names relations the store's
model lacks (the Action then omits the claim or denies the login, as configured).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Router, post
from litestar.params import RawBody

from permsvc.api.authzen.convert import decode_request
from permsvc.api.claims.config import ClaimsSettings
from permsvc.api.admin.credentials import resolve_store
from permsvc.api.claims.guard import authenticate_claims_caller
from permsvc.api.claims.schemas import ClaimsRequest, ClaimsResponse
from permsvc.api.errors import ApiError
from permsvc.claims.errors import ClaimSpecModelError
from permsvc.commands.claims import ClaimSummaryParams, ClaimSummaryQuery

if TYPE_CHECKING:
    from permsvc.api.deps import Deps
    from permsvc.claims.spec import ClaimSpec
    from permsvc.settings import Settings

__all__ = ("build_router",)

_TAGS = ["Claim feed"]


class _Services:
    def __init__(self, deps: Deps, settings: ClaimsSettings) -> None:
        self.settings = settings
        self.summary = ClaimSummaryQuery(reader=deps.datastore, resolver=deps.models, limits=deps.settings.limits)


def _services(request: Request[Any, Any, Any]) -> _Services:
    state = request.app.state
    services = state.get("claims_services")
    if services is None:
        services = state["claims_services"] = _Services(state.deps, request.route_handler.opt["claims_settings"])
    return services


async def _spec_for(services: _Services, store_id: str) -> ClaimSpec:
    spec = services.settings.spec
    if spec is None:
        raise ApiError(
            "validation_error",
            f"no claim spec for store {store_id}: start permsvc with PERMSVC_CLAIMS_SPEC=<file>",
            status=409,
        )
    return spec


@post(
    "/v1/claims",
    operation_id="ClaimFeed",
    tags=_TAGS,
    summary="Permission summary for an access token (post-login Action)",
    status_code=200,
)
async def claim_feed(request: Request[Any, Any, Any], body: RawBody) -> ClaimsResponse:
    """Answer ``{user_id, audience?, client_id?, store_id?}`` with
    ``{"claims": {"<claim name>": <summary>}, "revision": n, "truncated": bool}``."""
    services = _services(request)
    principal = await authenticate_claims_caller(request, token_scope=services.settings.client_scope)
    req = decode_request(body, request.headers.get("content-type"), ClaimsRequest)
    if not req.user_id.strip():
        raise ApiError("validation_error", "invalid ClaimsRequest.user_id: must not be empty")
    store_id = resolve_store(request, principal, req.store_id)
    spec = await _spec_for(services, store_id)
    try:
        summary = await services.summary.execute(
            ClaimSummaryParams(store_id=store_id, user_id=req.user_id, spec=spec, audience=req.audience)
        )
    except ClaimSpecModelError as err:
        raise ApiError("validation_error", err.detail, status=409) from err
    return ClaimsResponse(
        claims={summary.claim: msgspec.Raw(summary.value)}, revision=summary.revision, truncated=summary.truncated
    )


def build_router(settings: Settings) -> Router:
    """The claim-feed route group. Loads ``PERMSVC_CLAIMS_SPEC`` now, so a bad spec stops start-up."""
    claims_settings = ClaimsSettings.from_env()
    return Router(path="/", route_handlers=[claim_feed], opt={"claims_settings": claims_settings})
