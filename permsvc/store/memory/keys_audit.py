"""API keys and the audit log in process memory: the reference the SQL backends must match.

:class:`MemoryKeysAuditMixin` is inherited by :class:`~permsvc.store.memory.MemoryDatastore`; its
paging is :mod:`permsvc.store.common.audit_paging`, as every backend's.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property

import msgspec

from permsvc.store.common.audit_paging import audit_page, decode_audit_token, matches_audit_filter
from permsvc.store.errors import CollisionError
from permsvc.store.protocol import ApiKeyRecord, AuditEntry, AuditFilter, AuditRecord, Page

__all__ = ("MemoryKeysAuditMixin",)


class MemoryKeysAuditMixin:
    """:class:`~permsvc.store.protocol.ApiKeyStore` and :class:`~permsvc.store.protocol.AuditLog`
    in memory. State is created on first use, so the datastore's constructor needs no change."""

    @cached_property
    def _keys_state(self) -> dict[str, ApiKeyRecord]:
        return {}

    @cached_property
    def _audit_state(self) -> list[AuditEntry]:
        return []

    async def create_api_key(self, record: ApiKeyRecord) -> None:
        keys = self._keys_state
        if record.id in keys:
            raise CollisionError(f"an API key with id '{record.id}' exists")
        keys[record.id] = record

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        return self._keys_state.get(key_id)

    async def list_api_keys(self, *, include_revoked: bool = False) -> list[ApiKeyRecord]:
        keys = sorted(self._keys_state.values(), key=lambda r: (r.created_at, r.id))
        return [k for k in keys if include_revoked or k.revoked_at is None]

    async def revoke_api_key(self, key_id: str) -> ApiKeyRecord | None:
        keys = self._keys_state
        record = keys.get(key_id)
        if record is None or record.revoked_at is not None:
            return record
        keys[key_id] = record = msgspec.structs.replace(record, revoked_at=dt.datetime.now(dt.UTC))
        return record

    async def append_audit(self, entry: AuditEntry) -> int:
        return self._append_audit_row(entry)

    def _append_audit_row(self, entry: AuditEntry) -> int:
        log = self._audit_state
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
        log = self._audit_state
        start = len(log) if before is None else min(before - 1, len(log))
        items: list[AuditEntry] = []
        for entry in reversed(log[:start]):
            if matches_audit_filter(filter, entry):
                items.append(entry)
                if len(items) > page_size:
                    break
        return audit_page(filter, items, page_size)
