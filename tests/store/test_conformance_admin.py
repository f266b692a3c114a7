"""Stores, models and assertions: identical behaviour on every backend."""

from __future__ import annotations

import datetime as dt

import pytest

from permsvc.core.refs import parse_tuple
from permsvc.core.ulid import is_ulid, new_ulid
from permsvc.model.json import model_from_json
from permsvc.store.errors import (
    InvalidContinuationTokenError,
    ModelNotFoundError,
    StoreNotFoundError,
)
from permsvc.store.protocol import Assertion, Datastore, ReadFilter

MODEL_JSON = {
    "schema_version": "1.1",
    "type_definitions": [
        {"type": "user"},
        {
            "type": "group",
            "relations": {"member": {"this": {}}},
            "metadata": {
                "relations": {"member": {"directly_related_user_types": [{"type": "user"}]}}
            },
        },
        {
            "type": "document",
            "relations": {
                "parent": {"this": {}},
                "owner": {"this": {}},
                "editor": {
                    "union": {"child": [{"this": {}}, {"computedUserset": {"relation": "owner"}}]}
                },
                "viewer": {
                    "difference": {
                        "base": {
                            "union": {
                                "child": [
                                    {"this": {}},
                                    {
                                        "tupleToUserset": {
                                            "tupleset": {"relation": "parent"},
                                            "computedUserset": {"relation": "viewer"},
                                        }
                                    },
                                ]
                            }
                        },
                        "subtract": {"computedUserset": {"relation": "blocked"}},
                    }
                },
                "blocked": {
                    "intersection": {
                        "child": [{"this": {}}, {"computedUserset": {"relation": "owner"}}]
                    }
                },
            },
            "metadata": {
                "relations": {
                    "parent": {"directly_related_user_types": [{"type": "document"}]},
                    "owner": {"directly_related_user_types": [{"type": "user"}]},
                    "editor": {
                        "directly_related_user_types": [{"type": "user", "condition": "in_hours"}]
                    },
                    "viewer": {
                        "directly_related_user_types": [
                            {"type": "user"},
                            {"type": "user", "wildcard": {}},
                            {"type": "group", "relation": "member"},
                        ]
                    },
                    "blocked": {"directly_related_user_types": [{"type": "user"}]},
                }
            },
        },
    ],
    "conditions": {
        "in_hours": {
            "name": "in_hours",
            "expression": "hour >= 9 && hour < 17",
            "parameters": {"hour": {"type_name": "TYPE_NAME_INT"}},
        }
    },
}


def _unique_name() -> str:
    return "s-" + new_ulid().lower()


async def test_store_lifecycle(datastore: Datastore) -> None:
    created = await datastore.create_store("acme")
    assert is_ulid(created.id)
    assert created.name == "acme"
    assert created.created_at == created.updated_at
    assert created.created_at.tzinfo is not None
    assert abs(created.created_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    assert await datastore.get_store(created.id) == created
    await datastore.delete_store(created.id)
    with pytest.raises(StoreNotFoundError):
        await datastore.get_store(created.id)
    await datastore.delete_store(created.id)
    await datastore.delete_store(new_ulid())
    with pytest.raises(StoreNotFoundError):
        await datastore.get_store(new_ulid())


async def test_list_stores_paginates_by_id_and_filters_by_name(datastore: Datastore) -> None:
    name = _unique_name()
    ids = [(await datastore.create_store(name)).id for _ in range(5)]
    other = await datastore.create_store(_unique_name())
    await datastore.delete_store(ids[2])
    live = [i for i in ids if i != ids[2]]

    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await datastore.list_stores(page_size=2, continuation_token=token, name=name)
        seen.extend(s.id for s in page.items)
        pages += 1
        token = page.continuation_token
        if not token:
            break
    assert seen == sorted(live)
    assert pages == 2

    everything: list[str] = []
    token = ""
    while True:
        page = await datastore.list_stores(page_size=3, continuation_token=token)
        everything.extend(s.id for s in page.items)
        token = page.continuation_token
        if not token:
            break
    assert everything == sorted(everything)
    assert set(live) | {other.id} <= set(everything)
    assert ids[2] not in everything


async def test_list_stores_rejects_foreign_tokens(datastore: Datastore) -> None:
    store = await datastore.create_store("x")
    await datastore.write(
        store.id, writes=[parse_tuple(f"doc:{i}#viewer@user:a") for i in range(3)]
    )
    read_token = (await datastore.read_page(store.id, ReadFilter(), page_size=1)).continuation_token
    assert read_token
    for bad in (read_token, "not-a-token", "e30"):
        with pytest.raises(InvalidContinuationTokenError):
            await datastore.list_stores(page_size=2, continuation_token=bad)


async def test_models_round_trip_newest_first(datastore: Datastore) -> None:
    store = await datastore.create_store("m")
    assert await datastore.read_latest_model(store.id) is None
    model = model_from_json(MODEL_JSON)
    written = [await datastore.write_model(store.id, model, dsl=f"model {i}") for i in range(5)]
    for stored in written:
        assert is_ulid(stored.id)
        assert stored.model == model_from_json(MODEL_JSON, model_id=stored.id)
        again = await datastore.read_model(store.id, stored.id)
        assert again == stored
    assert (await datastore.read_latest_model(store.id)) == written[-1]

    listed: list[str] = []
    token = ""
    while True:
        page = await datastore.list_models(store.id, page_size=2, continuation_token=token)
        listed.extend(m.id for m in page.items)
        token = page.continuation_token
        if not token:
            break
    assert listed == [m.id for m in reversed(written)]
    first = await datastore.list_models(store.id, page_size=5)
    assert [m.dsl for m in first.items] == [f"model {i}" for i in reversed(range(5))]
    assert first.continuation_token == ""


async def test_model_errors(datastore: Datastore) -> None:
    store = await datastore.create_store("m")
    with pytest.raises(ModelNotFoundError):
        await datastore.read_model(store.id, new_ulid())
    with pytest.raises(StoreNotFoundError):
        await datastore.write_model(new_ulid(), model_from_json(MODEL_JSON))
    with pytest.raises(StoreNotFoundError):
        await datastore.list_models(new_ulid(), page_size=10)
    with pytest.raises(InvalidContinuationTokenError):
        await datastore.list_models(store.id, page_size=10, continuation_token="garbage!")


async def test_models_are_scoped_by_store(datastore: Datastore) -> None:
    a = await datastore.create_store("a")
    b = await datastore.create_store("b")
    stored = await datastore.write_model(a.id, model_from_json(MODEL_JSON))
    with pytest.raises(ModelNotFoundError):
        await datastore.read_model(b.id, stored.id)
    assert await datastore.read_latest_model(b.id) is None


async def test_assertions_replace(datastore: Datastore) -> None:
    store = await datastore.create_store("a")
    model = await datastore.write_model(store.id, model_from_json(MODEL_JSON))
    assert await datastore.read_assertions(store.id, model.id) == []
    first = [
        Assertion(
            tuple_key=parse_tuple("document:1#viewer@user:anne"),
            expectation=True,
            contextual_tuples=(parse_tuple("document:1#owner@user:anne"),),
            context={"hour": 10, "nested": {"b": [1, 2], "a": None}},
        ),
        Assertion(tuple_key=parse_tuple("document:1#viewer@user:bob"), expectation=False),
    ]
    await datastore.write_assertions(store.id, model.id, first)
    assert await datastore.read_assertions(store.id, model.id) == first
    await datastore.write_assertions(store.id, model.id, first[1:])
    assert await datastore.read_assertions(store.id, model.id) == first[1:]
    await datastore.write_assertions(store.id, model.id, [])
    assert await datastore.read_assertions(store.id, model.id) == []
    with pytest.raises(ModelNotFoundError):
        await datastore.write_assertions(store.id, new_ulid(), first)
    with pytest.raises(ModelNotFoundError):
        await datastore.read_assertions(store.id, new_ulid())


async def test_readiness(datastore: Datastore) -> None:
    assert await datastore.is_ready()
