"""Audit-log code shared by every backend: the column values of a new row, and paging, so each
backend produces and accepts the same tokens.

A page is read newest first (id descending) from below the id its continuation token names; a
token is valid only with the filter it was made for (its digest is in the token).
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from permsvc.store.errors import InvalidContinuationTokenError
from permsvc.store.protocol import AuditEntry, AuditFilter, Page
from permsvc.store.tokens import decode_page_token, encode_page_token

__all__ = (
    "audit_filter_digest",
    "audit_filter_terms",
    "audit_insert_values",
    "audit_page",
    "decode_audit_token",
    "encode_audit_token",
    "matches_audit_filter",
)

_TOKEN_KIND = "audit"
_FIELDS = ("store_id", "actor", "action", "since", "until", "revision")


def audit_insert_values(entry: AuditEntry, at: Any) -> tuple[Any, ...]:
    """The parameters of the SQL backends' ``INSERT INTO audit_log (store_id, at, actor,
    actor_kind, action, detail, request_id, revision)``, with ``at`` as the backend stores the
    entry's time and ``detail`` as JSON text."""
    return (
        entry.store_id,
        at,
        entry.actor,
        entry.actor_kind,
        entry.action,
        msgspec.json.encode(entry.detail).decode(),
        entry.request_id,
        entry.revision,
    )


def audit_filter_digest(flt: AuditFilter) -> str:
    """A short digest of a filter: a token is only valid with the filter it was made for."""
    return hashlib.sha256(msgspec.json.encode(flt)).hexdigest()[:16]


def encode_audit_token(flt: AuditFilter, last_id: int) -> str:
    return encode_page_token({"k": _TOKEN_KIND, "f": audit_filter_digest(flt), "before": last_id})


def decode_audit_token(flt: AuditFilter, token: str) -> int | None:
    """The id the next page starts below, or ``None`` for the first page."""
    if not token:
        return None
    payload = decode_page_token(token, kind=_TOKEN_KIND)
    before = payload.get("before")
    if payload.get("f") != audit_filter_digest(flt) or not isinstance(before, int) or before < 1:
        raise InvalidContinuationTokenError()
    return before


def audit_page(flt: AuditFilter, entries: list[AuditEntry], page_size: int) -> Page[AuditEntry]:
    """A page from up to ``page_size + 1`` entries read newest first (one more means "more follow")."""
    if len(entries) > page_size:
        items = entries[:page_size]
        return Page(items=items, continuation_token=encode_audit_token(flt, items[-1].id))
    return Page(items=entries)


def audit_filter_terms(flt: AuditFilter) -> list[tuple[str, Any]]:
    """The fields ``flt`` restricts, as ``(field, value)`` in a fixed order: ``store_id``,
    ``actor``, ``action`` (equal), ``since`` (``at >=``), ``until`` (``at <=``), ``revision``
    (equal). The SQL backends turn each into a fixed fragment with the value as a parameter."""
    terms = []
    for field in _FIELDS:
        value = getattr(flt, field)
        if value is not None and value != "":
            terms.append((field, value))
    return terms


def matches_audit_filter(flt: AuditFilter, entry: AuditEntry) -> bool:
    """Whether ``entry`` passes ``flt`` (the in-memory form of :func:`audit_filter_terms`)."""
    return (
        (not flt.store_id or entry.store_id == flt.store_id)
        and (not flt.actor or entry.actor == flt.actor)
        and (not flt.action or entry.action == flt.action)
        and (flt.since is None or entry.at >= flt.since)
        and (flt.until is None or entry.at <= flt.until)
        and (flt.revision is None or entry.revision == flt.revision)
    )
