"""ClaimSpecStore: one suite on every backend (memory is the reference)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from permsvc.store.protocol import ClaimSpecStore
from tests.backends import BACKENDS, POSTGRES_BACKENDS
from tests.pg import postgres_url  # noqa: F401 - re-exported fixture

_PARAMS = [
    pytest.param(name, id=name, marks=[pytest.mark.postgres] if name in POSTGRES_BACKENDS else [])
    for name in ("memory", "sqlite", "postgres")
    if name in BACKENDS
]


@pytest.fixture(params=_PARAMS)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    async with BACKENDS[request.param]() as store:
        yield store


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
