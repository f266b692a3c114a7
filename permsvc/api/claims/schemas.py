"""Wire structs of the claim feed.

Requests forbid unknown fields: the callers are our own Action and IdP hooks, and a misspelt
field (``userId``) silently ignored would summarise the wrong user or audience.
"""

from __future__ import annotations

import datetime as dt

import msgspec

__all__ = ("ClaimSpecDeleted", "ClaimSpecResponse", "ClaimsRequest", "ClaimsResponse")


class ClaimsRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a post-login Action knows: ``event.user.user_id``, ``event.resource_server?.identifier``,
    ``event.client.client_id``; ``store_id`` defaults to ``PERMSVC_STORE``."""

    user_id: str
    audience: str | None = None
    client_id: str | None = None
    store_id: str | None = None


class ClaimsResponse(msgspec.Struct, frozen=True, kw_only=True):
    """``claims`` maps the claim name to the summary, embedded byte for byte as computed."""

    claims: dict[str, msgspec.Raw]
    revision: int
    truncated: bool


class ClaimSpecResponse(msgspec.Struct, frozen=True, kw_only=True):
    """A store's claim spec (``null`` when it has none) and the server default it falls back to."""

    store_id: str
    spec: msgspec.Raw | None
    updated_at: dt.datetime | None
    default: msgspec.Raw | None


class ClaimSpecDeleted(msgspec.Struct, frozen=True, kw_only=True):
    store_id: str
    deleted: bool
