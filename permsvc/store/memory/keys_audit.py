"""API keys and the audit log in process memory: the reference the SQL backends must match.

:class:`MemoryKeysAuditMixin` is inherited by :class:`~permsvc.store.memory.MemoryDatastore`.
The audit continuation-token helpers live here too and are shared by the SQL backends, so every
backend produces and accepts the same tokens.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import msgspec

from permsvc.store.errors import CollisionError, InvalidContinuationTokenError
from permsvc.store.protocol import ApiKeyRecord, AuditEntry, AuditFilter, AuditRecord, Page
from permsvc.store.tokens import decode_page_token, encode_page_token

__all__ = (
    "MemoryKeysAuditMixin",
    "audit_filter_digest",
    "audit_page",
    "decode_audit_token",
    "encode_audit_token",
    "matches_audit_filter",
)

_TOKEN_KIND = "audit"


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


def matches_audit_filter(flt: AuditFilter, entry: AuditEntry) -> bool:
    return (
        (not flt.store_id or entry.store_id == flt.store_id)
        and (not flt.actor or entry.actor == flt.actor)
        and (not flt.action or entry.action == flt.action)
        and (flt.since is None or entry.at >= flt.since)
        and (flt.until is None or entry.at <= flt.until)
        and (flt.revision is None or entry.revision == flt.revision)
    )


class MemoryKeysAuditMixin:
    """:class:`~permsvc.store.protocol.ApiKeyStore` and :class:`~permsvc.store.protocol.AuditLog`
    in memory. State is created on first use, so the datastore's constructor needs no change."""

    _api_keys: dict[str, ApiKeyRecord]
    _audit: list[AuditEntry]

    def _keys_state(self) -> dict[str, ApiKeyRecord]:
        try:
            return self._api_keys
        except AttributeError:
            self._api_keys = {}
            return self._api_keys

    def _audit_state(self) -> list[AuditEntry]:
        try:
            return self._audit
        except AttributeError:
            self._audit = []
            return self._audit

    async def create_api_key(self, record: ApiKeyRecord) -> None:
        keys = self._keys_state()
        if record.id in keys:
            raise CollisionError(f"an API key with id '{record.id}' exists")
        keys[record.id] = record

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        return self._keys_state().get(key_id)

    async def list_api_keys(self, *, include_revoked: bool = False) -> list[ApiKeyRecord]:
        keys = sorted(self._keys_state().values(), key=lambda r: (r.created_at, r.id))
        return [k for k in keys if include_revoked or k.revoked_at is None]

    async def revoke_api_key(self, key_id: str) -> ApiKeyRecord | None:
        keys = self._keys_state()
        record = keys.get(key_id)
        if record is None or record.revoked_at is not None:
            return record
        keys[key_id] = record = msgspec.structs.replace(record, revoked_at=dt.datetime.now(dt.UTC))
        return record

    async def append_audit(self, entry: AuditEntry) -> int:
        return self._append_audit_row(entry)

    def _append_audit_row(self, entry: AuditEntry) -> int:
        log = self._audit_state()
        entry_id = len(log) + 1
        log.append(msgspec.structs.replace(entry, id=entry_id))
        return entry_id

    def _audit_write(
        self, store_id: str, audit: AuditRecord | None, revision: int, changed: int
    ) -> int | None:
        """Append the row of a tuple write about to commit ``revision``, before the write
        applies anything (no await between the two), so a failing append leaves no change."""
        if audit is None:
            return None
        return self._append_audit_row(audit.entry(store_id, revision=revision, changed=changed))

    async def read_audit(
        self, filter: AuditFilter, *, page_size: int, continuation_token: str = ""
    ) -> Page[AuditEntry]:
        before = decode_audit_token(filter, continuation_token)
        log = self._audit_state()
        start = len(log) if before is None else min(before - 1, len(log))
        items: list[AuditEntry] = []
        for entry in reversed(log[:start]):
            if matches_audit_filter(filter, entry):
                items.append(entry)
                if len(items) > page_size:
                    break
        return audit_page(filter, items, page_size)
