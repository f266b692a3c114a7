"""Errors of the permsvc client: each says what went wrong and what to change.

=============================  ======================================================  ===========
error                          when                                                    guards say
=============================  ======================================================  ===========
:class:`TokenRejectedError`    the *user's* access token was refused (expired, wrong   401
                               audience, the no-audience JWE, ...): the caller fixes it
:class:`MissingTokenError`     the request to protect carries no bearer token           401
:class:`CredentialError`       permsvc refused *this service's* credential (401), or   503
                               the credential lacks the role / store (403)
:class:`InvalidRequestError`   permsvc refused the question (400: unknown relation,    400
                               malformed object, unknown field)
:class:`NotFoundError`         the store (or model) does not exist (404)               503
:class:`UnavailableError`      permsvc did not answer: connection refused, timeout,    503
                               5xx, 429 (``retry_after`` when permsvc sent one)
=============================  ======================================================  ===========

All derive from :class:`PermsvcError`, which carries the HTTP ``status``, permsvc's error
``code`` and ``message`` (``{"code", "message"}`` bodies) and a ``hint``.
"""

from __future__ import annotations

__all__ = (
    "CredentialError",
    "InvalidRequestError",
    "MissingTokenError",
    "NotFoundError",
    "PermsvcError",
    "TokenRejectedError",
    "UnavailableError",
)


class PermsvcError(Exception):
    """Base of every client error."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        hint: str = "",
        www_authenticate: str = "",
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.hint = hint
        self.www_authenticate = www_authenticate
        text = message if not hint else f"{message} (fix: {hint})"
        super().__init__(text)


class TokenRejectedError(PermsvcError):
    """permsvc refused the user's access token; ``message`` is permsvc's diagnosis (e.g. "the token
    is encrypted (a 5-segment JWE ...): request the token with audience=...")."""


class MissingTokenError(PermsvcError):
    """The incoming request has no ``Authorization: Bearer`` token to forward."""


class CredentialError(PermsvcError):
    """permsvc refused this service's own credential (a deployment problem, not the user's)."""


class InvalidRequestError(PermsvcError):
    """permsvc refused the question itself (400)."""


class NotFoundError(PermsvcError):
    """The store or authorization model does not exist (404)."""


class UnavailableError(PermsvcError):
    """permsvc could not answer: unreachable, timed out, overloaded or failing."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after
