"""Who may call the claim feed: a ``claims``-scoped API key (an Action secret) or a
client-credentials access token (a machine-to-machine application) with the claims scope.

The feed discloses any user's permissions to its caller, so a *user's* access token is refused
even when valid: only a machine acting as the identity provider's hook may ask. Accepted, in the
order tried:

1. ``Authorization: Bearer psk_<id>_<secret>``: an API key from the key store whose scope is
   ``claims`` (or ``admin``); a key bound to one store may only summarise that store.
2. ``Authorization: Bearer <preshared key>``: one of ``PERMSVC_API_KEYS`` (full access).
3. ``Authorization: Bearer <JWT>``: verified by :class:`~permsvc.auth.JwtAuthenticator` against
   ``PERMSVC_OIDC_*``; it must be a client token (see :class:`~permsvc.auth.TokenKind`) carrying
   the scope ``PERMSVC_CLAIMS_SCOPE`` (default ``permsvc:claims``).
4. No ``Authorization`` header while the server runs with ``PERMSVC_AUTH_METHOD=none`` (local
   development): allowed, like every other route then.

:func:`authenticate_machine` is written against the :mod:`permsvc.auth` primitives only and takes
the scopes to accept as arguments, so other machine-facing routes can share it.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from permsvc.api.errors import ApiError
from permsvc.auth import AuthError, InsufficientScopeError, JwtAuthenticator, OidcSettings, TokenKind
from permsvc.auth.errors import ForbiddenError, InvalidTokenError
from permsvc.auth.findings import TokenErrorReason
from permsvc.auth.keys import API_KEY_PREFIX
from permsvc.commands.keys import VerifyApiKeyQuery
from permsvc.store.protocol import ApiKeyStore

if TYPE_CHECKING:
    from litestar import Request

__all__ = ("MachineCaller", "authenticate_machine", "auth_error_to_api")

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="permsvc"'}
_NOT_CONFIGURED = object()


class MachineCaller(msgspec.Struct, frozen=True, kw_only=True):
    """An authenticated machine caller."""

    kind: Literal["open", "preshared", "api_key", "client_token"]
    name: str
    """The key id or client id, for logs; ``""`` for open and preshared access."""
    store_id: str | None = None
    """The only store the caller may use, when its key is bound to one."""


def auth_error_to_api(err: AuthError) -> ApiError:
    """The OpenFGA-shaped error body for an authentication failure, keeping its status and challenge."""
    status = err.status_code
    code = {400: "validation_error", 403: "forbidden", 503: "unavailable"}.get(status, "unauthenticated")
    challenge = err.www_authenticate(realm="permsvc")
    return ApiError(code, err.detail, status=status, headers={"WWW-Authenticate": challenge} if challenge else {})


def _key_store(datastore: object) -> ApiKeyStore | None:
    for candidate in (datastore, getattr(datastore, "inner", None)):
        if isinstance(candidate, ApiKeyStore):
            return candidate
    return None


def _jwt(request: Request[Any, Any, Any]) -> JwtAuthenticator | None:
    """The app's token validator for machine callers, built on first use from ``PERMSVC_OIDC_*``
    and closed with the app."""
    state = request.app.state
    cached = state.get("machine_jwt", _NOT_CONFIGURED)
    if cached is _NOT_CONFIGURED:
        settings = OidcSettings.from_env()
        cached = JwtAuthenticator.from_settings(settings) if settings is not None else None
        state["machine_jwt"] = cached
        if cached is not None:
            request.app.on_shutdown.append(cached.aclose)
    return cached  # type: ignore[return-value]


async def authenticate_machine(
    request: Request[Any, Any, Any], *, key_scopes: tuple[str, ...], token_scope: str
) -> MachineCaller:
    """Authenticate a machine caller (see the module docstring) or raise :class:`ApiError`.

    Args:
        key_scopes: API-key scopes accepted (``("claims", "admin")``).
        token_scope: the scope a client-credentials token must carry.
    """
    deps = request.app.state.deps
    header = request.headers.get("authorization")
    if not header or not header.strip():
        if deps.settings.auth_method == "none":
            return MachineCaller(kind="open", name="")
        raise ApiError("bearer_token_missing", "missing bearer token", headers=_CHALLENGE)
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError("bearer_token_missing", "send 'Authorization: Bearer <API key or access token>'", headers=_CHALLENGE)
    try:
        if token.startswith(API_KEY_PREFIX + "_"):
            return await _api_key(deps.datastore, token, key_scopes)
        presented = token.encode()
        matched = False
        for key in deps.settings.api_keys:
            matched |= hmac.compare_digest(key.encode(), presented)
        if matched:
            return MachineCaller(kind="preshared", name="")
        if token.count(".") in (2, 4):
            return await _client_token(request, token, token_scope)
        raise InvalidTokenError(
            TokenErrorReason.MALFORMED,
            "the bearer value is neither an API key (psk_<id>_<secret>) nor an access token",
        )
    except AuthError as err:
        raise auth_error_to_api(err) from err


async def _api_key(datastore: object, token: str, scopes: tuple[str, ...]) -> MachineCaller:
    keys = _key_store(datastore)
    if keys is None:
        raise ForbiddenError("this server's datastore keeps no API keys")
    record = await VerifyApiKeyQuery(keys=keys).execute(token)
    if record.scope not in scopes:
        raise ForbiddenError(
            f"API key '{record.id}' has scope '{record.scope}'; this endpoint needs a key with scope "
            f"{' or '.join(repr(s) for s in scopes)} (permsvc admin create-key --scope {scopes[0]})"
        )
    return MachineCaller(kind="api_key", name=record.id, store_id=record.store_id)


async def _client_token(request: Request[Any, Any, Any], token: str, scope: str) -> MachineCaller:
    authenticator = _jwt(request)
    if authenticator is None:
        raise InvalidTokenError(
            TokenErrorReason.MALFORMED,
            "access tokens are not accepted here: this server has no PERMSVC_OIDC_ISSUER; use an API key",
        )
    claims = await authenticator.authenticate(token)
    if claims.token_type is not TokenKind.CLIENT:
        raise ForbiddenError(
            "a user's access token cannot fetch claims; use a client-credentials token of the "
            "machine-to-machine application, or a claims API key"
        )
    if not claims.has_scopes(scope):
        raise InsufficientScopeError((scope,), claims.scopes)
    return MachineCaller(kind="client_token", name=claims.client_id or claims.subject)
