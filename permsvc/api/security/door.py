"""The front door: every request of every surface passes :func:`admit` before its handler runs.

:func:`front_door` is the app-level ``before_request`` hook (no route group sets its own), and the
plain-ASGI check fast path calls :func:`admit` with the same rule the table gives its framework
route. In order:

1. the route's rule (:mod:`permsvc.api.security.table`); public routes stop here;
2. a request body's ``Content-Type`` must be JSON (``application/json``, ``*+json``) or one the
   rule lists; none at all is accepted (some SDKs send none). ``text/plain`` and form types are
   refused (415), so a cross-site form or ``fetch`` without a preflight changes nothing;
3. the credential becomes a principal (:class:`~permsvc.api.security.authenticator.Security`);
4. the principal's roles must include the rule's role (any principal passes a rule whose role is
   :data:`~permsvc.api.security.table.AUTHENTICATED`); an end user's token passes only routes
   marked ``end_user`` (403 ``forbidden`` otherwise);
5. the store limit: a store named by the path or the default store is checked here; a store
   named in the body is checked by the handler through :func:`resolve_store`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from permsvc.api.errors import ApiError
from permsvc.api.openfga.convert import check_store_id
from permsvc.api.ops import request_id_of
from permsvc.api.priority import admitted_writer
from permsvc.api.security.principal import Principal
from permsvc.api.security.table import AUTHENTICATED, Rule
from permsvc.auth.errors import (
    AuthError,
    ForbiddenError,
    InsufficientScopeError,
    InvalidRequestError,
)
from permsvc.commands.audit import AuditRecorder
from permsvc.store.protocol import ApiKeyStore, AuditLog

if TYPE_CHECKING:
    from litestar import Request

    from permsvc.api.deps import Deps
    from permsvc.api.security.authenticator import Security

__all__ = (
    "BODY_METHODS",
    "admit",
    "audit_log_of",
    "authorization_header",
    "check_media_type",
    "front_door",
    "key_store_in",
    "key_store_of",
    "principal_of",
    "recorder_of",
    "request_id",
    "resolve_store",
    "store_allowed",
)

PRINCIPAL_KEY = "permsvc.principal"
RULES_KEY = "route_rules"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def authorization_header(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The value of the request's one ``Authorization`` header (raw ASGI headers; ``None`` when
    there is none). Every surface reads the credential through this function.

    Raises:
        InvalidRequestError: more than one ``Authorization`` header (400 ``invalid_request``).
            Frameworks and proxies disagree on which of several they use (the first, the last,
            all joined by a comma), so a request could be authenticated with one credential and
            attributed to another; it is refused rather than guessed.
    """
    found: bytes | None = None
    for name, value in headers:
        if name.lower() == b"authorization":
            if found is not None or b"," in value:
                # A comma joins several header values into one (RFC 9110 §5.3), as proxies and
                # clients do with repeated headers; no credential contains one.
                raise InvalidRequestError(
                    "the request has more than one Authorization header; send exactly one "
                    "'Authorization: Bearer <credential>'"
                )
            found = value
    return None if found is None else found.decode("latin-1")


def _content_type(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.decode("latin-1")
    return None


def check_media_type(content_type: str | None, rule: Rule) -> None:
    """Refuse (415) a body type that is neither JSON nor one of the rule's own types."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if not media:
        return
    if media == "application/json" or media.endswith("+json") or media in rule.media:
        return
    accepted = ", ".join(("application/json", *rule.media))
    raise ApiError(
        "invalid_request",
        f"unsupported Content-Type '{media[:100]}': send {accepted} (curl: -H 'Content-Type: application/json')",
        status=415,
    )


def _role_refused(security: Security, principal: Principal, rule: Rule) -> AuthError:
    if (
        principal.kind in ("machine_token", "console_token")
        and principal.claims is not None
        and rule.role is not None
        and rule.role != AUTHENTICATED
    ):
        return InsufficientScopeError((security.scope_of(rule.role),), principal.claims.scopes)
    if principal.end_user:
        return ForbiddenError(
            f"{principal.describe()} is an end user's: it may only ask /v1/check, /v1/check/batch, /v1/objects, "
            "/v1/relations and /v1/explain about its own user; a service calls with its own API key or client-credentials token"
        )
    return ForbiddenError(f"{principal.describe()} lacks the '{rule.role}' role this route needs")


def store_allowed(principal: Principal, store_id: str) -> None:
    """403 unless ``principal`` may act on ``store_id``."""
    if principal.store_id is not None and store_id != principal.store_id:
        raise ForbiddenError(
            f"{principal.describe()} is limited to store {principal.store_id}; it cannot act on store {store_id[:64]}"
        )


async def admit(
    security: Security,
    rule: Rule,
    method: str,
    headers: Iterable[tuple[bytes, bytes]],
    path_store: str | None,
) -> Principal | None:
    """Check one request against its rule; the principal, or ``None`` for a public route.

    ``headers``: the raw ASGI headers; ``path_store``: the ``{store_id}`` path parameter, if the
    route has one."""
    if rule.role is None:
        return None
    if method in BODY_METHODS:
        check_media_type(_content_type(headers), rule)
    principal = await security.authenticate(authorization_header(headers))
    if principal.end_user:
        if not rule.end_user:
            raise _role_refused(security, principal, rule)
    elif rule.role != AUTHENTICATED and rule.role not in principal.roles:
        raise _role_refused(security, principal, rule)
    if principal.store_id is not None:
        if rule.store == "path" and path_store is not None:
            store_allowed(principal, path_store)
        elif rule.store == "default" and path_store is None:
            store_allowed(principal, security.settings.store)
        elif rule.store == "unlimited":
            raise ForbiddenError(
                f"{principal.describe()} is limited to store {principal.store_id}; this route is not"
            )
    return principal


async def front_door(request: Request[Any, Any, Any]) -> None:
    """The app-level ``before_request`` hook. A coroutine on purpose: Litestar runs synchronous
    hooks in a worker thread."""
    scope = request.scope
    method: str = scope["method"]
    if method == "OPTIONS":
        return
    state = request.app.state
    rule: Rule = state[RULES_KEY][(method, scope["path_template"])]
    params = scope["path_params"]
    principal = await admit(
        state.deps.security, rule, method, scope["headers"], params.get("store_id")
    )
    if principal is not None:
        scope[PRINCIPAL_KEY] = principal  # type: ignore[literal-required]  # our own key in the ASGI scope
        admitted_writer(scope)  # type: ignore[arg-type]  # a write route's write is now in progress


def principal_of(request: Request[Any, Any, Any]) -> Principal:
    """The caller the front door admitted for this request."""
    principal = request.scope.get(PRINCIPAL_KEY)
    if isinstance(principal, Principal):
        return principal
    raise RuntimeError("principal_of called on a route the front door did not authenticate")


def resolve_store(
    request: Request[Any, Any, Any], principal: Principal, requested: str | None
) -> str:
    """The store of a request that names it in its body or query: ``requested``, else the default
    store (``PERMSVC_STORE``); a credential limited to one store may use only that one (403)."""
    store = requested or request.app.state.deps.settings.store
    if not store:
        raise ApiError(
            "validation_error",
            "no store: send 'store_id', or have the operator set a default store (PERMSVC_STORE)",
        )
    check_store_id(store, "request")
    store_allowed(principal, store)
    return store


def key_store_in(datastore: object) -> ApiKeyStore | None:
    """The datastore's API-key store (looking through the in-memory index wrapper)."""
    for candidate in (datastore, getattr(datastore, "inner", None)):
        if isinstance(candidate, ApiKeyStore):
            return candidate
    return None


def key_store_of(deps: Deps) -> ApiKeyStore | None:
    return key_store_in(deps.datastore)


def audit_log_of(deps: Deps) -> AuditLog | None:
    for candidate in (deps.datastore, getattr(deps.datastore, "inner", None)):
        if isinstance(candidate, AuditLog):
            return candidate
    return None


def recorder_of(request: Request[Any, Any, Any]) -> AuditRecorder:
    return AuditRecorder(log=audit_log_of(request.app.state.deps))


def request_id(request: Request[Any, Any, Any]) -> str:
    return request_id_of(request.scope)
