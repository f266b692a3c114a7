"""Per-store claim specs in process memory: the reference the SQL backends must match."""

from __future__ import annotations

import datetime as dt
from functools import cached_property

from permsvc.store.protocol import StoredClaimSpec

__all__ = ("MemoryClaimSpecMixin",)


class MemoryClaimSpecMixin:
    """:class:`~permsvc.store.protocol.ClaimSpecStore` in memory; state is created on first use."""

    @cached_property
    def _claim_spec_state(self) -> dict[str, StoredClaimSpec]:
        return {}

    async def put_claim_spec(self, store_id: str, document: str) -> StoredClaimSpec:
        stored = StoredClaimSpec(
            store_id=store_id, document=document, updated_at=dt.datetime.now(dt.UTC)
        )
        self._claim_spec_state[store_id] = stored
        return stored

    async def get_claim_spec(self, store_id: str) -> StoredClaimSpec | None:
        return self._claim_spec_state.get(store_id)

    async def delete_claim_spec(self, store_id: str) -> bool:
        return self._claim_spec_state.pop(store_id, None) is not None
