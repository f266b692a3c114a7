"""Who is calling /v1: a user's access token, a service's client-credentials token, or an API key.

Credentials arrive as ``Authorization: Bearer <value>``:

- ``psk_<id>_<secret>``: a permsvc API key (:mod:`permsvc.auth.keys`), looked up by id in the
  datastore's :class:`~permsvc.store.protocol.ApiKeyStore`, verified in constant time, refused when
  revoked. Its scope (``admin``, ``check``, ``claims``) and optional store limit what it may do.
- anything else: an OIDC access token, validated by :class:`~permsvc.auth.jwt.JwtAuthenticator`
  (``PERMSVC_OIDC_*``). A *user* token speaks for ``<subject_type>:<sub>``; a *client* token
  (client-credentials grant) speaks for the service.

What each may do:

==========================================  ===================================  =======================
credential                                  /v1 check routes                     /v1/admin
==========================================  ===================================  =======================
user token                                  its own user only                    only with the admin scope
client token with ``PERMSVC_CHECK_SCOPE``   any user (``user`` in the body)      no
token with ``PERMSVC_ADMIN_SCOPE``          any user                             yes
API key, scope ``check``                    any user                             no
API key, scope ``admin``                    any user                             yes
API key, scope ``claims``                   no                                   no
==========================================  ===================================  =======================

A person whose token carries the admin scope (an Auth0 RBAC permission granted to them) is an
admin: the scope, not the grant type, is the credential. Failures are RFC 6750 errors: 401 with
``WWW-Authenticate`` for a missing or bad credential, 403 for a good one that may not do this.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from permsvc.api.errors import ApiError
from permsvc.api.guards import authorization_header
from permsvc.api.openfga.convert import check_store_id
from permsvc.api.ops import request_id_of
from permsvc.auth.claims import AuthClaims, TokenKind
from permsvc.auth.config import OidcSettings
from permsvc.auth.errors import AuthError, ForbiddenError, InsufficientScopeError
from permsvc.auth.jwt import JwtAuthenticator, extract_bearer_token
from permsvc.auth.keys import API_KEY_PREFIX
from permsvc.commands.audit import Actor, AuditRecorder
from permsvc.commands.keys import VerifyApiKeyQuery
from permsvc.store.protocol import ApiKeyRecord, ApiKeyStore, AuditLog, unwrap

if TYPE_CHECKING:
    from litestar import Request

    from permsvc.api.deps import Deps
    from permsvc.settings import Settings

__all__ = (
    "DEFAULT_CHECK_SCOPE",
    "Principal",
    "TokensNotAcceptedError",
    "V1Security",
    "audit_log_of",
    "authenticate_admin",
    "authenticate_checker",
    "close_v1_security",
    "key_store_of",
    "principal_of",
    "recorder_of",
    "resolve_store",
)

DEFAULT_CHECK_SCOPE = "permsvc:check"
"""Scope a client-credentials token needs to ask about any user (``PERMSVC_CHECK_SCOPE``)."""

_STATE_KEY = "v1_security"
_PRINCIPAL_KEY = "permsvc.principal"


class TokensNotAcceptedError(AuthError):
    """A bearer token arrived, but this server has no OIDC issuer configured (401 invalid_token)."""

    error_code: ClassVar[str | None] = "invalid_token"


class V1Security:
    """The /v1 credential configuration of one app: the JWT authenticator (``None`` when
    ``PERMSVC_OIDC_ISSUER`` is unset) and the check scope. Built on first use from the
    environment; tests install their own with :meth:`install`."""

    def __init__(
        self, *, jwt: JwtAuthenticator | None, check_scope: str = DEFAULT_CHECK_SCOPE
    ) -> None:
        self.jwt = jwt
        self.check_scope = check_scope

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> V1Security:
        env = os.environ if environ is None else environ
        oidc = OidcSettings.from_env(env)
        jwt = JwtAuthenticator.from_settings(oidc) if oidc is not None else None
        return cls(
            jwt=jwt, check_scope=(env.get("PERMSVC_CHECK_SCOPE") or DEFAULT_CHECK_SCOPE).strip()
        )

    @property
    def admin_scope(self) -> str:
        return self.jwt.settings.admin_scope if self.jwt is not None else ""

    def install(self, app: Any) -> None:
        app.state[_STATE_KEY] = self

    @classmethod
    def of(cls, request: Request[Any, Any, Any]) -> V1Security:
        state = request.app.state
        security = state.get(_STATE_KEY)
        if security is None:
            security = cls.from_env()
            state[_STATE_KEY] = security
        return security


async def close_v1_security(app: Any) -> None:
    """Close the JWKS client of the app's /v1 security, if one was built (an ``on_shutdown`` hook
    for the composition root)."""
    security = app.state.get(_STATE_KEY)
    if security is not None and security.jwt is not None:
        await security.jwt.aclose()


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """The authenticated caller of one request."""

    actor: Actor
    """How audit rows name the caller (``user:<sub>``, ``client:<id>``, ``key:<id>``)."""
    subject: str | None = None
    """The tuple user a *user* token speaks for; ``None`` for services and keys."""
    admin: bool = False
    service: bool = False
    """May ask about any user on the check routes."""
    store_id: str | None = None
    """The one store an API key is limited to."""
    claims: AuthClaims | None = None
    key: ApiKeyRecord | None = None


def key_store_of(deps: Deps) -> ApiKeyStore | None:
    """The datastore's API-key store (a layer of it: :func:`~permsvc.store.protocol.unwrap`)."""
    return unwrap(deps.datastore, ApiKeyStore)


def audit_log_of(deps: Deps) -> AuditLog | None:
    return unwrap(deps.datastore, AuditLog)


def recorder_of(request: Request[Any, Any, Any]) -> AuditRecorder:
    return AuditRecorder(log=audit_log_of(request.app.state.deps))


async def _from_key(request: Request[Any, Any, Any], token: str) -> Principal:
    keys = key_store_of(request.app.state.deps)
    if keys is None:
        raise TokensNotAcceptedError(
            "this permsvc's datastore keeps no API keys; use an access token"
        )
    record = await VerifyApiKeyQuery(keys=keys).execute(token)
    return Principal(
        actor=Actor(id=f"key:{record.id}", kind="api_key"),
        admin=record.scope == "admin",
        service=record.scope in ("admin", "check"),
        store_id=record.store_id,
        key=record,
    )


async def _from_token(security: V1Security, token: str) -> Principal:
    if security.jwt is None:
        raise TokensNotAcceptedError(
            "this permsvc does not accept access tokens: PERMSVC_OIDC_ISSUER and PERMSVC_OIDC_AUDIENCE are not "
            "set (operators: set them to your identity provider; callers: use a permsvc API key instead)"
        )
    claims = await security.jwt.authenticate(token)
    admin = security.admin_scope in claims.scopes
    if claims.token_type is TokenKind.CLIENT:
        actor = Actor(id=f"client:{claims.client_id or claims.subject}", kind="client_token")
        return Principal(
            actor=actor,
            admin=admin,
            service=admin or security.check_scope in claims.scopes,
            claims=claims,
        )
    return Principal(
        actor=Actor(id=claims.subject_ref(), kind="user_token"),
        subject=claims.subject_ref(),
        admin=admin,
        service=admin,
        claims=claims,
    )


async def principal_of(request: Request[Any, Any, Any]) -> Principal:
    """Authenticate the request's credential (once per request; the result is kept in its scope)."""
    cached = request.scope.get(_PRINCIPAL_KEY)
    if isinstance(cached, Principal):
        return cached
    token = extract_bearer_token(authorization_header(request.scope["headers"]))
    if token.startswith(f"{API_KEY_PREFIX}_"):
        principal = await _from_key(request, token)
    else:
        principal = await _from_token(V1Security.of(request), token)
    request.scope[_PRINCIPAL_KEY] = principal  # type: ignore[literal-required]
    return principal


def _refuse(principal: Principal, scope: str, what: str, key_hint: str) -> AuthError:
    if principal.claims is not None:
        return (
            InsufficientScopeError((scope,), principal.claims.scopes)
            if scope
            else ForbiddenError(
                f"{what} needs a credential this server is not configured to accept"
            )
        )
    key = principal.key
    assert key is not None
    return ForbiddenError(f"API key '{key.id}' has scope '{key.scope}'; {what} needs {key_hint}")


async def authenticate_admin(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook of /v1/admin: an admin API key or a token with the admin scope."""
    principal = await principal_of(request)
    if not principal.admin:
        raise _refuse(
            principal, V1Security.of(request).admin_scope, "the admin API", "an admin key"
        )


async def authenticate_checker(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook of the /v1 check routes: a user token, or a service credential."""
    principal = await principal_of(request)
    if principal.subject is None and not principal.service:
        raise _refuse(
            principal,
            V1Security.of(request).check_scope,
            "the check API",
            "a 'check' or 'admin' key",
        )


def resolve_store(
    request: Request[Any, Any, Any], principal: Principal, requested: str | None
) -> str:
    """The store of a /v1 request: ``store_id`` from the request, else ``PERMSVC_STORE``; an API
    key limited to one store may use only that one (403)."""
    settings: Settings = request.app.state.deps.settings
    store = requested or settings.store
    if not store:
        raise ApiError(
            "validation_error",
            "no store: send 'store_id', or have the operator set a default store (PERMSVC_STORE)",
        )
    check_store_id(store, "request")
    if principal.store_id is not None and store != principal.store_id:
        raise ForbiddenError(
            f"API key '{principal.key.id if principal.key else ''}' is limited to store {principal.store_id}; "
            f"it cannot act on store {store}"
        )
    return store


def request_id(request: Request[Any, Any, Any]) -> str:
    return request_id_of(request.scope)
