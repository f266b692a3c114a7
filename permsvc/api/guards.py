"""Caller authentication for the API surfaces: none (local development) or preshared API keys.

A preshared key arrives as ``Authorization: Bearer <key>``, which is what the OpenFGA SDKs send
with ``api_token`` credentials and the fga CLI with ``--api-token``. Keys are compared in
constant time against *every* configured key, so response timing reveals neither which key
nearly matched nor how many keys exist.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any, Protocol

from permsvc.api.errors import ApiError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from litestar import Request
    from litestar.connection import ASGIConnection
    from litestar.handlers.base import BaseRouteHandler

    from permsvc.settings import Settings

__all__ = (
    "Authenticator",
    "NoopAuthenticator",
    "PresharedKeyAuthenticator",
    "authenticate",
    "authenticate_request",
    "build_authenticator",
)

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="permsvc"'}
_INVALID_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="permsvc", error="invalid_token"'}


class Authenticator(Protocol):
    def authenticate(self, authorization: str | None) -> None:
        """Accept the caller or raise :class:`ApiError` 401 (with a ``WWW-Authenticate`` challenge)."""
        ...


class NoopAuthenticator:
    """Every caller is accepted (``PERMSVC_AUTH_METHOD=none``)."""

    def authenticate(self, authorization: str | None) -> None:
        return None


class PresharedKeyAuthenticator:
    """``Authorization: Bearer <key>`` with one of the configured keys (OpenFGA's preshared method)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("preshared-key authentication needs at least one key")
        self._keys = tuple(k.encode() for k in keys)

    def authenticate(self, authorization: str | None) -> None:
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError("bearer_token_missing", "missing bearer token", headers=_CHALLENGE)
        presented = token.strip().encode()
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(key, presented)
        if not matched:
            raise ApiError("unauthenticated", "unauthenticated", headers=_INVALID_CHALLENGE)


def build_authenticator(settings: Settings) -> Authenticator:
    if settings.auth_method == "preshared":
        return PresharedKeyAuthenticator(settings.api_keys)
    return NoopAuthenticator()


async def authenticate_request(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook of the API route groups (not of health, metrics and docs).

    Preferred over a guard on hot routes: Litestar copies the route handler for every guard call
    (tens of microseconds), while a hook is a plain call. A coroutine on purpose: Litestar runs
    synchronous hooks and guards in a worker thread.
    """
    request.app.state.deps.authenticator.authenticate(request.headers.get("authorization"))


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The same check as a Litestar guard, for routes that want it in guard form."""
    connection.app.state.deps.authenticator.authenticate(connection.headers.get("authorization"))
