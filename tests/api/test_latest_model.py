"""Requests that name no model use the store's latest, which the server caches per process: a
model written through the API takes effect for the next check and AuthZEN evaluation without a
model id, and a deleted store stops answering even for a model it answered with before."""

from __future__ import annotations

import copy
from typing import Any

from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from tests.api.conftest import MODEL, make_settings, write_tuples


def _owners_only() -> dict[str, Any]:
    """MODEL with document#viewer narrowed to the owners: direct viewer tuples no longer count."""
    model = copy.deepcopy(MODEL)
    document = next(t for t in model["type_definitions"] if t["type"] == "document")
    document["relations"]["viewer"] = {"computedUserset": {"relation": "owner"}}
    del document["metadata"]["relations"]["viewer"]
    return model


async def _check(client: AsyncTestClient[Any], store_id: str, **extra: Any) -> Any:
    body = {
        "tuple_key": {"object": "document:1", "relation": "viewer", "user": "user:anne"},
        **extra,
    }
    return await client.post(f"/stores/{store_id}/check", json=body)


async def _evaluate(client: AsyncTestClient[Any], store_id: str) -> Any:
    body = {
        "subject": {"type": "user", "id": "anne"},
        "action": {"name": "viewer"},
        "resource": {"type": "document", "id": "1"},
    }
    return await client.post(f"/stores/{store_id}/access/v1/evaluation", json=body)


async def test_a_new_model_takes_effect_for_requests_without_a_model_id(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    await write_tuples(client, store_id, ("document:1", "viewer", "user:anne"))
    for _ in range(2):  # the second answer comes from the cached latest model
        assert (await _check(client, store_id)).json()["allowed"] is True
        assert (await _evaluate(client, store_id)).json() == {"decision": True}
    response = await client.post(f"/stores/{store_id}/authorization-models", json=_owners_only())
    assert response.status_code == 201, response.text
    assert (await _check(client, store_id)).json()["allowed"] is False
    assert (await _evaluate(client, store_id)).json() == {"decision": False}
    assert (await _check(client, store_id, authorization_model_id=model_id)).json()[
        "allowed"
    ] is True
    for consistency in ("MINIMIZE_LATENCY", "HIGHER_CONSISTENCY"):
        assert (await _check(client, store_id, consistency=consistency)).json()["allowed"] is False


async def test_a_deleted_store_no_longer_answers(
    client: AsyncTestClient[Any], store_id: str, model_id: str
) -> None:
    await write_tuples(client, store_id, ("document:1", "viewer", "user:anne"))
    assert (await _check(client, store_id)).json()["allowed"] is True
    assert (await _check(client, store_id, authorization_model_id=model_id)).json()[
        "allowed"
    ] is True
    assert (await client.delete(f"/stores/{store_id}")).status_code == 204
    for extra in ({}, {"authorization_model_id": model_id}):
        response = await _check(client, store_id, **extra)
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "store_id_not_found"


async def test_streamed_list_objects_without_a_model_id_uses_the_cached_latest_model() -> None:
    app = create_app(make_settings())
    async with AsyncTestClient(app) as client:
        created = await client.post("/stores", json={"name": "streamed"})
        assert created.status_code == 201, created.text
        store_id = created.json()["id"]
        model_id = (
            await client.post(f"/stores/{store_id}/authorization-models", json=MODEL)
        ).json()["authorization_model_id"]
        await write_tuples(client, store_id, ("document:1", "viewer", "user:anne"))
        inner = getattr(app.state.deps.datastore, "inner", None)
        assert inner is not None, "the API fixtures serve through the in-memory index"
        reads = 0
        read_latest_model = inner.read_latest_model

        async def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal reads
            reads += 1
            return await read_latest_model(*args, **kwargs)

        inner.read_latest_model = counted
        body = {"type": "document", "relation": "viewer", "user": "user:anne"}
        for _ in range(3):
            response = await client.post(f"/stores/{store_id}/streamed-list-objects", json=body)
            assert response.status_code == 200, response.text
            assert response.headers["openfga-authorization-model-id"] == model_id
            assert '"object":"document:1"' in response.text
        assert reads <= 1, f"{reads} latest-model reads for three MINIMIZE_LATENCY streams"
