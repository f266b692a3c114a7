"""ApiKeyStore and AuditLog: one suite on every backend (memory is the reference)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest

from permsvc.store.errors import CollisionError, InvalidContinuationTokenError
from permsvc.store.protocol import (
    ApiKeyRecord,
    ApiKeyStore,
    AuditEntry,
    AuditFilter,
    AuditLog,
    unwrap,
)
from tests.backends import BACKENDS
from tests.pg import fresh_database_url

_OWN_DATABASE: list[str] = []


@pytest.fixture
async def datastore(backend_name: str) -> AsyncIterator[Any]:
    """As the suite's fixture, but PostgreSQL on a database of this module's own: an API key in
    the session's shared database would close the anonymous door of every open-mode server that
    later tests start on it."""
    options: dict[str, Any] = {}
    if backend_name == "postgres":
        if not _OWN_DATABASE:
            _OWN_DATABASE.append(fresh_database_url())
        options["database_url"] = _OWN_DATABASE[0]
    async with BACKENDS[backend_name](**options) as store:
        yield store


@pytest.fixture
def backend(datastore: Any) -> Any:
    """The layer of the backend that keeps them (the in-memory index hands out its database's)."""
    layer = unwrap(datastore, ApiKeyStore)
    assert layer is not None
    return layer


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


async def test_backend_implements_both_protocols(backend: Any) -> None:
    assert isinstance(backend, ApiKeyStore)
    assert isinstance(backend, AuditLog)


async def test_api_key_create_get_list_revoke(backend: Any) -> None:
    suffix = _now().strftime("%H%M%S%f")
    created = _now()
    admin = ApiKeyRecord(
        id=f"a{suffix}", hashed_secret="sha256$00", scope="admin", name="ops", created_at=created
    )
    check = ApiKeyRecord(
        id=f"c{suffix}",
        hashed_secret="sha256$11",
        scope="check",
        store_id="01STORE",
        created_at=created + dt.timedelta(seconds=1),
    )
    await backend.create_api_key(admin)
    await backend.create_api_key(check)
    with pytest.raises(CollisionError):
        await backend.create_api_key(admin)
    assert await backend.get_api_key(admin.id) == admin
    assert await backend.get_api_key("nope") is None
    ids = [k.id for k in await backend.list_api_keys()]
    assert ids.index(admin.id) < ids.index(check.id)

    revoked = await backend.revoke_api_key(check.id)
    assert revoked is not None and revoked.revoked_at is not None and revoked.store_id == "01STORE"
    again = await backend.revoke_api_key(check.id)
    assert again is not None and again.revoked_at == revoked.revoked_at
    assert await backend.revoke_api_key("nope") is None
    assert check.id not in [k.id for k in await backend.list_api_keys()]
    assert check.id in [k.id for k in await backend.list_api_keys(include_revoked=True)]


async def test_audit_append_filter_and_paginate(backend: Any) -> None:
    store = "01AUDIT" + _now().strftime("%H%M%S%f")
    base = _now()
    ids = []
    for i in range(5):
        entry = AuditEntry(
            store_id=store,
            at=base + dt.timedelta(seconds=i),
            actor="key:abc" if i % 2 else "user:auth0|42",
            actor_kind="api_key" if i % 2 else "user_token",
            action="grant",
            detail={
                "count": i,
                "tuples": [{"object": "doc:1", "relation": "viewer", "user": "user:x"}],
            },
            request_id=f"req-{i}",
            revision=i + 1,
        )
        ids.append(await backend.append_audit(entry))
    assert ids == sorted(ids) and len(set(ids)) == 5

    flt = AuditFilter(store_id=store)
    first = await backend.read_audit(flt, page_size=2)
    assert [e.request_id for e in first.items] == ["req-4", "req-3"]
    assert first.items[0].detail["tuples"][0]["user"] == "user:x"
    assert first.items[0].at == base + dt.timedelta(seconds=4)
    second = await backend.read_audit(flt, page_size=2, continuation_token=first.continuation_token)
    third = await backend.read_audit(flt, page_size=2, continuation_token=second.continuation_token)
    assert [e.request_id for e in second.items + third.items] == ["req-2", "req-1", "req-0"]
    assert third.continuation_token == ""

    by_actor = await backend.read_audit(AuditFilter(store_id=store, actor="key:abc"), page_size=10)
    assert [e.revision for e in by_actor.items] == [4, 2]
    window = AuditFilter(
        store_id=store, since=base + dt.timedelta(seconds=1), until=base + dt.timedelta(seconds=2)
    )
    assert [e.request_id for e in (await backend.read_audit(window, page_size=10)).items] == [
        "req-2",
        "req-1",
    ]
    by_revision = await backend.read_audit(AuditFilter(store_id=store, revision=3), page_size=10)
    assert [e.request_id for e in by_revision.items] == ["req-2"]
    with pytest.raises(InvalidContinuationTokenError):
        await backend.read_audit(
            AuditFilter(store_id=store, action="revoke"),
            page_size=2,
            continuation_token=first.continuation_token,
        )
