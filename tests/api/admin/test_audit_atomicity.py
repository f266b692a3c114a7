"""Through the APIs: a tuple change whose audit row cannot be stored is not applied, and a
committed change's row names its revision and request.

Run with and without the in-memory index: behind the index (the default deployment),
:class:`~permsvc.store.index.IndexedDatastore` hands ``audit=`` on to its database, so the row
commits with the change there too.

Also the fallback for a writer that does not take ``audit=`` (a wrapper not passing it on): the
row is then appended right after the commit, with the same content.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.commands.admin import GrantCommand
from permsvc.commands.audit import Actor, AuditRecorder
from permsvc.commands.models import ModelResolver
from permsvc.core.refs import parse_tuple
from permsvc.model.json import model_from_json
from permsvc.store.memory import MemoryDatastore
from permsvc.store.protocol import AuditFilter, WriteResult
from tests.api.admin.v1kit import ROOT, Issuer, api_key, bearer, seed_store, state_of, v1_client

Client = AsyncTestClient[Any]

_TUPLE = {"object": "document:d1", "relation": "viewer", "user": "user:anne"}


@pytest.fixture(
    params=[
        pytest.param(False, id="direct"),
        pytest.param(True, id="behind_the_index"),
    ]
)
async def indexed_client(request: pytest.FixtureRequest, issuer: Issuer) -> AsyncIterator[Client]:
    async for c in v1_client(issuer, index=request.param):
        yield c


def _memory(client: Client) -> MemoryDatastore:
    datastore = state_of(client).deps.datastore
    store = getattr(datastore, "inner", datastore)
    assert isinstance(store, MemoryDatastore)
    return store


def _refuse_audit_rows(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(entry: Any) -> int:
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(_memory(client), "_append_audit_row", refuse)


async def _stored(client: Client, store: str) -> list[dict[str, Any]]:
    page = (
        await client.post(f"/stores/{store}/read", json={"tuple_key": _TUPLE}, headers=ROOT)
    ).json()
    return list(page["tuples"])


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param("/v1/admin/grants", {"tuples": [_TUPLE]}, id="admin_grant"),
        pytest.param("/v1/admin/tuples/delete", {"user": "user:anne"}, id="admin_delete_by_filter"),
        pytest.param("", {"writes": {"tuple_keys": [_TUPLE]}}, id="openfga_write"),
    ],
)
async def test_a_change_whose_audit_row_fails_is_not_applied(
    indexed_client: Client, monkeypatch: pytest.MonkeyPatch, path: str, body: dict[str, Any]
) -> None:
    client = indexed_client
    admin = bearer(await api_key(client, "admin"))
    seeded = ("document:d1", "viewer", "user:anne") if "delete" in path else None
    store, _ = await seed_store(client, *([seeded] if seeded else []))
    head = await _memory(client).head_revision(store)
    before = await _stored(client, store)
    _refuse_audit_rows(client, monkeypatch)
    url = path or f"/stores/{store}/write"
    response = await client.post(url, json={**body, "store_id": store}, headers=admin)
    assert response.status_code == 500
    assert await _memory(client).head_revision(store) == head
    assert await _stored(client, store) == before


async def test_the_grant_row_names_the_grant_revision_and_request(
    client: Client, admin: dict[str, str]
) -> None:
    store, model = await seed_store(client)
    response = await client.post(
        "/v1/admin/grants",
        json={"store_id": store, "tuples": [_TUPLE]},
        headers={**admin, "X-Request-ID": "req-atomic-1"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    rows = await _memory(client).read_audit(
        AuditFilter(store_id=store, revision=body["revision"]), page_size=10
    )
    [row] = rows.items
    assert row.id == body["audit_id"] and row.action == "grant"
    assert row.request_id == "req-atomic-1"
    assert row.detail["changed"] == 1 and row.detail["authorization_model_id"] == model


class _Unaudited:
    """A writer wrapper that does not pass ``audit=`` on (no ``audited_writes``)."""

    def __init__(self, inner: MemoryDatastore) -> None:
        self.inner = inner

    async def write(self, store_id: str, **kwargs: Any) -> WriteResult:
        assert (
            kwargs.pop("audit", None) is None
        )  # not an AuditedWrites writer: never handed the row
        return await self.inner.write(store_id, **kwargs)


async def test_a_writer_without_audited_writes_gets_its_row_after_the_commit() -> None:
    inner = MemoryDatastore()
    store = await inner.create_store("s")
    model = await inner.write_model(
        store.id,
        model_from_json(
            {
                "schema_version": "1.1",
                "type_definitions": [
                    {"type": "user"},
                    {
                        "type": "document",
                        "relations": {"viewer": {"this": {}}},
                        "metadata": {
                            "relations": {
                                "viewer": {"directly_related_user_types": [{"type": "user"}]}
                            }
                        },
                    },
                ],
            }
        ),
    )
    recorder = AuditRecorder(log=inner)
    audit = recorder.draft(actor=Actor(id="cli:ops", kind="cli"), action="grant")
    command = GrantCommand(writer=_Unaudited(inner), resolver=ModelResolver(models=inner))
    outcome = await command.execute(
        store.id, [parse_tuple("document:d1#viewer@user:anne")], audit=audit
    )
    assert outcome.audit_id is None
    assert (await inner.read_audit(AuditFilter(store_id=store.id), page_size=10)).items == []
    audit_id = await recorder.settle(
        outcome.audit,
        store.id,
        revision=outcome.revision,
        changed=outcome.changed,
        audit_id=outcome.audit_id,
    )
    [row] = (await inner.read_audit(AuditFilter(store_id=store.id), page_size=10)).items
    assert row.id == audit_id and row.revision == outcome.revision == 1
    assert row.detail == {"authorization_model_id": model.id, "changed": 1}
