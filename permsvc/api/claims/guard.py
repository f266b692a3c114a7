"""Who may call the claim feed, decided on the /v1 principal of :mod:`permsvc.api.admin.credentials`.

The feed discloses any user's permissions to its caller, so only a machine acting as the identity
provider's hook may ask:

- an API key with scope ``claims`` (or ``admin``): the Auth0 Action's secret
  (``permsvc admin create-key --scope claims``); a key limited to one store summarises only it;
- a client-credentials access token carrying ``PERMSVC_CLAIMS_SCOPE`` (default
  ``permsvc:claims``) or the admin scope: a machine-to-machine application.

A *user's* access token is refused (403) even when valid, and so are ``check``-scoped keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from permsvc.api.admin.credentials import Principal, principal_of
from permsvc.auth.claims import TokenKind
from permsvc.auth.errors import ForbiddenError, InsufficientScopeError

if TYPE_CHECKING:
    from litestar import Request

__all__ = ("CLAIMS_KEY_SCOPES", "authenticate_claims_caller")

CLAIMS_KEY_SCOPES = ("claims", "admin")


async def authenticate_claims_caller(
    request: Request[Any, Any, Any], *, token_scope: str
) -> Principal:
    """The request's principal when it may use the claim feed; otherwise an ``AuthError`` (401/403)."""
    principal = await principal_of(request)
    if principal.key is not None:
        if principal.key.scope not in CLAIMS_KEY_SCOPES:
            raise ForbiddenError(
                f"API key '{principal.key.id}' has scope '{principal.key.scope}'; the claim feed needs a key "
                "with scope 'claims' (permsvc admin create-key --scope claims)"
            )
        return principal
    claims = principal.claims
    if claims is None or claims.token_type is not TokenKind.CLIENT:
        raise ForbiddenError(
            "a user's access token cannot fetch claims; call the claim feed with a 'claims' API key or a "
            "client-credentials token of a machine-to-machine application"
        )
    if not principal.admin and token_scope not in claims.scopes:
        raise InsufficientScopeError((token_scope,), claims.scopes)
    return principal
