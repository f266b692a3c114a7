"""The identity a verified access token carries (cf. openfga ``pkg/authclaims``).

Token kinds (:class:`TokenKind`). An access token is a *client* (machine) token, issued by the
client-credentials grant to act for a machine rather than a person, when one of the enabled
rules holds (``rules``, ``PERMSVC_MACHINE_TOKEN_RULES``):

- ``gty``: ``gty == "client-credentials"``, Auth0's default token profile marks the grant this way;
- ``auth0-clients``: ``sub`` is the token's own ``azp``/``client_id`` followed by ``@clients``,
  Auth0's machine-to-machine subject;
- ``client_ids`` (``PERMSVC_MACHINE_CLIENT_IDS``): the token's ``client_id``/``azp`` is one of the
  listed applications and ``sub`` is that id (RFC 9068 §2.2's client-credentials profile, as
  oidc-provider and Auth0's RFC 9068 profile issue it) or that id + ``@clients``. List only
  applications that may use the client-credentials grant alone: ``sub == client_id`` by itself is
  no proof, since an identity provider that lets people pick their user name lets one pick an
  application's id.

None of these can be met by a person choosing their own ``sub``: a ``sub`` that merely *ends* in
``@clients`` is a user's. Everything else is a *user* token. The subject is mapped the same way
for both kinds (``<subject_type>:<sub>``); callers that treat machines differently look at
:attr:`AuthClaims.token_type`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any, cast

import msgspec

from permsvc.auth.errors import InsufficientScopeError

__all__ = (
    "DEFAULT_MACHINE_TOKEN_RULES",
    "AuthClaims",
    "TokenKind",
    "client_id_of",
    "scopes_of",
    "token_kind_of",
)

DEFAULT_MACHINE_TOKEN_RULES = ("gty", "auth0-clients")


class TokenKind(StrEnum):
    """Who the token speaks for."""

    USER = "user"
    CLIENT = "client"


class AuthClaims(msgspec.Struct, frozen=True, kw_only=True):
    """The verified facts of one access token. Built only by the authenticator."""

    subject: str
    """The subject id, from the configured subject claim (``auth0|42``)."""
    subject_type: str
    """The object type the subject maps to (``user``)."""
    token_type: TokenKind
    """A user's token or a client's own (client-credentials) token; see the module docstring."""
    client_id: str | None
    """``client_id`` (RFC 9068) or ``azp`` (Auth0 profile): the application that asked for the token."""
    scopes: frozenset[str]
    """Space-separated ``scope`` merged with Auth0's RBAC ``permissions`` array."""
    audience: tuple[str, ...]
    issuer: str
    expires_at: int
    token_id: str | None = None
    """``jti``, when present."""
    raw: Mapping[str, Any] = msgspec.field(default_factory=lambda: MappingProxyType({}))
    """Every claim of the token, read-only."""

    def subject_ref(self) -> str:
        """The subject as a tuple user: ``user:auth0|42``."""
        return f"{self.subject_type}:{self.subject}"

    def has_scopes(self, *required: str) -> bool:
        return all(scope in self.scopes for scope in required)

    def require_scopes(self, *required: str) -> None:
        """Raise :class:`InsufficientScopeError` (403) unless every scope in ``required`` was granted."""
        if not self.has_scopes(*required):
            raise InsufficientScopeError(required, self.scopes)


def scopes_of(payload: Mapping[str, Any]) -> frozenset[str]:
    """``scope`` (a space-separated string) plus ``permissions`` (Auth0 RBAC: a list of strings).

    Callers validate the claim types first (:func:`permsvc.auth.checks.check_claims`); values of
    the wrong type contribute nothing here.
    """
    scopes: set[str] = set()
    scope = payload.get("scope")
    if isinstance(scope, str):
        scopes.update(scope.split())
    permissions = payload.get("permissions")
    if isinstance(permissions, list):
        scopes.update(p for p in cast("list[object]", permissions) if isinstance(p, str) and p)
    return frozenset(scopes)


def client_id_of(payload: Mapping[str, Any]) -> str | None:
    for claim in ("client_id", "azp"):
        value = payload.get(claim)
        if isinstance(value, str) and value:
            return value
    return None


def token_kind_of(
    payload: Mapping[str, Any],
    rules: tuple[str, ...] = DEFAULT_MACHINE_TOKEN_RULES,
    client_ids: tuple[str, ...] = (),
) -> TokenKind:
    """Apply the enabled ``rules`` and the ``client_ids`` rule of the module docstring."""
    if "gty" in rules and payload.get("gty") == "client-credentials":
        return TokenKind.CLIENT
    sub = payload.get("sub")
    client = client_id_of(payload)
    if isinstance(sub, str) and client is not None:
        if "auth0-clients" in rules and sub == f"{client}@clients":
            return TokenKind.CLIENT
        if client in client_ids and sub in (client, f"{client}@clients"):
            return TokenKind.CLIENT
    return TokenKind.USER
