"""Per-store claim specs in PostgreSQL (schema v3, ``0003_claim_specs.sql``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from permsvc.store.protocol import StoredClaimSpec

if TYPE_CHECKING:
    from collections.abc import Mapping

    import asyncpg

__all__ = ("PostgresClaimSpecMixin",)

UPSERT_SPEC = (
    "INSERT INTO claim_specs (store_id, document, updated_at) VALUES ($1, $2, now()) "
    "ON CONFLICT (store_id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at "
    "RETURNING store_id, document, updated_at"
)
GET_SPEC = "SELECT store_id, document, updated_at FROM claim_specs WHERE store_id = $1"
DELETE_SPEC = "DELETE FROM claim_specs WHERE store_id = $1 RETURNING store_id"


def _spec(row: Mapping[str, Any]) -> StoredClaimSpec:
    return StoredClaimSpec(
        store_id=row["store_id"], document=row["document"], updated_at=row["updated_at"]
    )


class PostgresClaimSpecMixin:
    """:class:`~permsvc.store.protocol.ClaimSpecStore`."""

    _pool: asyncpg.Pool

    async def put_claim_spec(self, store_id: str, document: str) -> StoredClaimSpec:
        return _spec(await self._pool.fetchrow(UPSERT_SPEC, store_id, document))

    async def get_claim_spec(self, store_id: str) -> StoredClaimSpec | None:
        row = await self._pool.fetchrow(GET_SPEC, store_id)
        return None if row is None else _spec(row)

    async def delete_claim_spec(self, store_id: str) -> bool:
        return await self._pool.fetchval(DELETE_SPEC, store_id) is not None
