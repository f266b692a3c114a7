"""Authentication and authorization errors, shaped for RFC 6750 responses.

Each error knows its HTTP status and, for bearer-token failures, its ``WWW-Authenticate``
challenge, so the route layer maps the whole tree with one handler::

    except AuthError as err:
        headers = {"WWW-Authenticate": h} if (h := err.www_authenticate()) else {}
        return Response({"code": err.error_code, "message": str(err)}, status_code=err.status_code, headers=headers)

Why precise descriptions, against STYLE 5.6 ("every failure raises the same InvalidClaimsError"):
the product promises newcomers an answer to "why is my token rejected" (the Auth0 no-audience
JWE, the issuer's trailing slash, an ID token sent by mistake). An attacker learns nothing from
these messages that the token they crafted does not already tell them: descriptions quote only
claim values the caller sent and our public configuration (issuer, audiences, allowed algorithms,
key ids, which are all in the public discovery document and JWKS). They never echo the token, a
signature or key material, and every failure is still the same status (401) and the same RFC 6750
code (``invalid_token``); the machine-readable :class:`TokenErrorReason` is there for logs, metrics
and tests.
"""

from __future__ import annotations

from typing import ClassVar

from permsvc.auth.findings import Finding, Severity, TokenErrorReason
from permsvc.core.errors import PermsvcError

__all__ = (
    "AuthError",
    "ForbiddenError",
    "InsufficientScopeError",
    "InvalidApiKeyError",
    "InvalidRequestError",
    "InvalidTokenError",
    "KeySetUnavailableError",
    "KeysNotRefreshedError",
    "MissingBearerTokenError",
    "OidcConfigError",
    "bearer_challenge",
)

DEFAULT_REALM = "permsvc"


def _header_safe(text: str) -> str:
    """Restrict ``text`` to the characters RFC 6750 §3 allows in a quoted auth-param.

    ``error_description`` may hold only %x20-21 / %x23-5B / %x5D-7E: printable ASCII without
    ``"`` and ``\\``. Quotes become ``'`` (as express-oauth2-jwt-bearer does), anything else
    becomes ``?``.
    """
    out: list[str] = []
    for ch in text:
        if ch == '"':
            out.append("'")
        elif ch == "\\":
            out.append("/")
        elif 0x20 <= ord(ch) <= 0x7E:
            out.append(ch)
        else:
            out.append("?")
    return "".join(out)


def bearer_challenge(
    *, realm: str = DEFAULT_REALM, error: str | None = None, description: str = "", scope: str = ""
) -> str:
    """Build a ``WWW-Authenticate: Bearer ...`` value (RFC 6750 §3)."""
    params = [f'realm="{_header_safe(realm)}"']
    if error:
        params.append(f'error="{error}"')
    if description:
        params.append(f'error_description="{_header_safe(description)}"')
    if scope:
        params.append(f'scope="{_header_safe(scope)}"')
    return "Bearer " + ", ".join(params)


class AuthError(PermsvcError):
    """Base of authentication/authorization errors.

    Attributes:
        status_code: the HTTP status the route layer answers with.
        error_code: the RFC 6750 ``error`` value, or ``None`` where RFC 6750 says to send none.
    """

    status_code: ClassVar[int] = 401
    error_code: ClassVar[str | None] = None

    def www_authenticate(self, realm: str = DEFAULT_REALM) -> str | None:
        """The ``WWW-Authenticate`` header value to send, or ``None`` when none is due."""
        return bearer_challenge(realm=realm, error=self.error_code, description=self.detail)


class MissingBearerTokenError(AuthError):
    """The request carries no bearer token (RFC 6750 §3.1: 401 with a bare challenge, no error code)."""

    def www_authenticate(self, realm: str = DEFAULT_REALM) -> str | None:
        return bearer_challenge(realm=realm)


class InvalidRequestError(AuthError):
    """The ``Authorization`` header is malformed, e.g. ``Bearer`` given twice (400 ``invalid_request``)."""

    status_code: ClassVar[int] = 400
    error_code: ClassVar[str | None] = "invalid_request"


class InvalidTokenError(AuthError):
    """The bearer token is not acceptable (401 ``invalid_token``).

    Attributes:
        reason: the machine-readable cause.
        what: what is wrong, in words.
        fix: how to fix it (may be empty).
        description: the public ``error_description`` (``what`` + ``fix``); also ``str(err)``.
    """

    error_code: ClassVar[str | None] = "invalid_token"

    def __init__(self, reason: TokenErrorReason, what: str, fix: str = "") -> None:
        self.reason = reason
        self.what = what
        self.fix = fix
        super().__init__(self.finding.text)

    @classmethod
    def from_finding(cls, finding: Finding) -> InvalidTokenError:
        return cls(TokenErrorReason(finding.code), finding.what, finding.fix)

    @property
    def finding(self) -> Finding:
        return Finding(
            severity=Severity.ERROR, code=self.reason.value, what=self.what, fix=self.fix
        )

    @property
    def description(self) -> str:
        return self.detail


class InsufficientScopeError(AuthError):
    """The token is valid but lacks a scope the operation needs (403 ``insufficient_scope``)."""

    status_code: ClassVar[int] = 403
    error_code: ClassVar[str | None] = "insufficient_scope"

    def __init__(self, required: tuple[str, ...], granted: frozenset[str] = frozenset()) -> None:
        self.required = required
        self.missing = tuple(s for s in required if s not in granted)
        super().__init__(
            f"the token lacks the scope(s) {' '.join(self.missing)}; request a token with "
            f"scope={' '.join(required)!r} (or grant the permission(s) in your identity provider)"
        )

    def www_authenticate(self, realm: str = DEFAULT_REALM) -> str | None:
        return bearer_challenge(
            realm=realm,
            error=self.error_code,
            description=self.detail,
            scope=" ".join(self.required),
        )


class ForbiddenError(AuthError):
    """The caller is authenticated but may not do this (403, no bearer challenge: a new token
    would not help)."""

    status_code: ClassVar[int] = 403

    def www_authenticate(self, realm: str = DEFAULT_REALM) -> str | None:
        return None


class KeySetUnavailableError(AuthError):
    """The issuer's signing keys could not be loaded and no earlier key set is cached.

    The token may well be valid, so this is 503, not 401: the route layer should log the detail
    and answer "temporarily unavailable".
    """

    status_code: ClassVar[int] = 503
    public_message: str = "the token issuer's signing keys cannot be loaded; retry later"
    """What the client is told; ``detail`` (which may name internal URLs) is only logged."""

    def www_authenticate(self, realm: str = DEFAULT_REALM) -> str | None:
        return None


class KeysNotRefreshedError(KeySetUnavailableError):
    """A token names a signing key (``kid``) that the cached key set lacks, and the issuer's keys
    could not be refetched (the JWKS request failed, now or within the refetch cooldown).

    Not "get a fresh token": the token may well be valid (the issuer rotated its keys while its
    JWKS is unreachable), so the answer is 503, saying the keys could not be refreshed.
    """

    def __init__(self, kid: str | None, source: str, reason: str) -> None:
        super().__init__(
            f"the token's signing key (kid '{kid}') is not among the cached keys of {source}, and "
            f"they could not be refreshed: {reason}"
        )
        self.kid = kid
        self.public_message = (
            f"the token's signing key (kid '{_header_safe(str(kid))[:64]}') is not among the issuer's "
            "cached keys and the issuer's keys could not be refreshed; the token may be valid: retry later"
        )


class InvalidApiKeyError(AuthError):
    """An API key is malformed or does not match (401 ``invalid_token``)."""

    error_code: ClassVar[str | None] = "invalid_token"


class OidcConfigError(AuthError):
    """The OIDC configuration (``PERMSVC_OIDC_*``) is invalid. A start-up error, never sent to
    clients."""

    status_code: ClassVar[int] = 500

    def www_authenticate(self, realm: str = DEFAULT_REALM) -> str | None:
        return None
