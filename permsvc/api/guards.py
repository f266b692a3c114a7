"""Caller authentication for the API surfaces: none (local development) or preshared API keys.

A preshared key arrives as ``Authorization: Bearer <key>``, which is what the OpenFGA SDKs send
with ``api_token`` credentials and the fga CLI with ``--api-token``. Only the SHA-256 of each
configured key is kept; the presented key's digest is compared in constant time against *every*
configured digest, so response timing reveals neither which key nearly matched, nor how many keys
exist, nor their lengths.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any, Protocol

from permsvc.api.errors import ApiError
from permsvc.auth.errors import InvalidRequestError
from permsvc.auth.keys import secret_digest

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

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
    "authorization_header",
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
        self._digests = tuple(secret_digest(k) for k in keys)

    def authenticate(self, authorization: str | None) -> None:
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError("bearer_token_missing", "missing bearer token", headers=_CHALLENGE)
        presented = secret_digest(token.strip())
        matched = False
        for digest in self._digests:
            matched |= hmac.compare_digest(digest, presented)
        if not matched:
            raise ApiError("unauthenticated", "unauthenticated", headers=_INVALID_CHALLENGE)


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
    request.app.state.deps.authenticator.authenticate(authorization_header(request.scope["headers"]))


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The same check as a Litestar guard, for routes that want it in guard form."""
    connection.app.state.deps.authenticator.authenticate(
        authorization_header(connection.scope["headers"])
    )
