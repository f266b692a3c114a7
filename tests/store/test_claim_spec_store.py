"""ClaimSpecStore: one suite on every backend (memory is the reference)."""

from __future__ import annotations

from typing import Any

import pytest

from permsvc.store.protocol import ClaimSpecStore, unwrap


@pytest.fixture
def backend(datastore: Any) -> Any:
    """The layer of the backend that keeps them (the in-memory index hands out its database's)."""
    layer = unwrap(datastore, ClaimSpecStore)
    assert layer is not None
    return layer


async def test_put_get_replace_delete(backend: Any) -> None:
    assert isinstance(backend, ClaimSpecStore)
    store = (await backend.create_store("claim-specs")).id
    other = (await backend.create_store("claim-specs-2")).id
    assert await backend.get_claim_spec(store) is None
    first = await backend.put_claim_spec(store, '{"claim":"https://a.example/p"}')
    assert (first.store_id, first.document) == (store, '{"claim":"https://a.example/p"}')
    assert first.updated_at.tzinfo is not None
    assert await backend.get_claim_spec(store) == first
    second = await backend.put_claim_spec(store, '{"claim":"https://b.example/p","é":1}')
    assert (await backend.get_claim_spec(store)) == second and second.updated_at >= first.updated_at
    await backend.put_claim_spec(other, "{}")
    assert await backend.delete_claim_spec(store) is True
    assert await backend.delete_claim_spec(store) is False
    assert await backend.get_claim_spec(store) is None
    assert (await backend.get_claim_spec(other)).document == "{}"
