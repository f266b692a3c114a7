"""Tuple writes and reads: OpenFGA's write semantics and the engine's read shapes, on every backend."""

from __future__ import annotations

import pytest

from permsvc.core.refs import TupleCondition, TupleKey
from permsvc.core.ulid import new_ulid
from permsvc.store.errors import (
    InvalidContinuationTokenError,
    InvalidWriteInputError,
    StoreNotFoundError,
    TupleConditionConflictError,
)
from permsvc.store.protocol import Datastore, ReadFilter, StartingWithUser
from tests.store.helpers import read_all, t


async def test_write_assigns_consecutive_revisions(datastore: Datastore) -> None:
    store = await datastore.create_store("w")
    assert await datastore.head_revision(store.id) == 0
    first = await datastore.write(
        store.id, writes=[t("doc:1#viewer@user:anne"), t("doc:1#viewer@user:bob")]
    )
    assert (first.revision, first.changed) == (1, 2)
    second = await datastore.write(
        store.id, deletes=[t("doc:1#viewer@user:bob")], writes=[t("doc:2#viewer@user:bob")]
    )
    assert (second.revision, second.changed) == (2, 2)
    assert await datastore.head_revision(store.id) == 2
    assert await datastore.head_revision(new_ulid()) == 0
    assert await read_all(datastore, store.id) == [
        t("doc:1#viewer@user:anne"),
        t("doc:2#viewer@user:bob"),
    ]


async def test_duplicate_write_errors_and_applies_nothing(datastore: Datastore) -> None:
    store = await datastore.create_store("w")
    await datastore.write(store.id, writes=[t("doc:1#owner@user:anne")])
    with pytest.raises(InvalidWriteInputError) as info:
        await datastore.write(
            store.id,
            writes=[t("doc:9#owner@user:zed"), t("doc:1#owner@user:anne")],
            on_duplicate="error",
        )
    assert str(info.value) == (
        "cannot write a tuple which already exists: user: 'user:anne', relation: 'owner', object: 'doc:1': "
        "tuple to be written already existed or the tuple to be deleted did not exist"
    )
    assert await read_all(datastore, store.id) == [t("doc:1#owner@user:anne")]
    assert await datastore.head_revision(store.id) == 1


async def test_missing_delete_errors_and_applies_nothing(datastore: Datastore) -> None:
    store = await datastore.create_store("w")
    await datastore.write(store.id, writes=[t("doc:1#owner@user:anne")])
    with pytest.raises(InvalidWriteInputError) as info:
        await datastore.write(
            store.id,
            deletes=[t("doc:1#owner@user:anne"), t("doc:1#owner@user:bob")],
            writes=[t("doc:2#owner@user:c")],
        )
    assert str(info.value).startswith(
        "cannot delete a tuple which does not exist: user: 'user:bob', relation: 'owner', object: 'doc:1'"
    )
    assert await read_all(datastore, store.id) == [t("doc:1#owner@user:anne")]
    assert await datastore.head_revision(store.id) == 1


async def test_ignore_options(datastore: Datastore) -> None:
    store = await datastore.create_store("w")
    await datastore.write(store.id, writes=[t("doc:1#owner@user:anne", "c", {"x": 1})])
    noop = await datastore.write(
        store.id,
        deletes=[t("doc:1#owner@user:ghost")],
        writes=[t("doc:1#owner@user:anne", "c", {"x": 1})],
        on_duplicate="ignore",
        on_missing="ignore",
    )
    assert (noop.revision, noop.changed) == (1, 0)
    mixed = await datastore.write(
        store.id,
        writes=[t("doc:1#owner@user:anne", "c", {"x": 1}), t("doc:2#owner@user:anne")],
        on_duplicate="ignore",
    )
    assert (mixed.revision, mixed.changed) == (2, 1)
    changes = await datastore.read_changes(store.id, page_size=50)
    assert [(c.key, c.operation, c.revision) for c in changes.items] == [
        (t("doc:1#owner@user:anne", "c", {"x": 1}), "write", 1),
        (t("doc:2#owner@user:anne"), "write", 2),
    ]


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(t("doc:1#owner@user:anne"), id="condition_removed"),
        pytest.param(t("doc:1#owner@user:anne", "d", {"x": 1}), id="other_condition_name"),
        pytest.param(t("doc:1#owner@user:anne", "c", {"x": 2}), id="other_context"),
        pytest.param(t("doc:1#owner@user:anne", "c"), id="context_dropped"),
    ],
)
async def test_ignore_with_different_condition_conflicts(
    datastore: Datastore, other: TupleKey
) -> None:
    store = await datastore.create_store("w")
    await datastore.write(store.id, writes=[t("doc:1#owner@user:anne", "c", {"x": 1})])
    with pytest.raises(TupleConditionConflictError):
        await datastore.write(
            store.id, writes=[t("doc:2#owner@user:bob"), other], on_duplicate="ignore"
        )
    assert await read_all(datastore, store.id) == [t("doc:1#owner@user:anne", "c", {"x": 1})]
    assert await datastore.head_revision(store.id) == 1


async def test_context_key_order_is_not_a_conflict(datastore: Datastore) -> None:
    store = await datastore.create_store("w")
    await datastore.write(
        store.id, writes=[t("doc:1#owner@user:anne", "c", {"a": 1, "b": {"y": 2, "x": 1}})]
    )
    result = await datastore.write(
        store.id,
        writes=[t("doc:1#owner@user:anne", "c", {"b": {"x": 1, "y": 2}, "a": 1})],
        on_duplicate="ignore",
    )
    assert result.changed == 0


async def test_deletes_apply_before_writes(datastore: Datastore) -> None:
    store = await datastore.create_store("w")
    await datastore.write(store.id, writes=[t("doc:1#owner@user:anne", "c", {"x": 1})])
    result = await datastore.write(
        store.id,
        deletes=[t("doc:1#owner@user:anne")],
        writes=[t("doc:1#owner@user:anne", "c", {"x": 2})],
    )
    assert (result.revision, result.changed) == (2, 2)
    assert await read_all(datastore, store.id) == [t("doc:1#owner@user:anne", "c", {"x": 2})]
    changes = (await datastore.read_changes(store.id, page_size=10)).items
    assert [(c.operation, c.key.condition) for c in changes] == [
        ("write", TupleCondition(name="c", context={"x": 1})),
        ("delete", TupleCondition(name="c", context={"x": 1})),
        ("write", TupleCondition(name="c", context={"x": 2})),
    ]


async def test_write_to_missing_or_deleted_store(datastore: Datastore) -> None:
    with pytest.raises(StoreNotFoundError):
        await datastore.write(new_ulid(), writes=[t("doc:1#owner@user:anne")])
    store = await datastore.create_store("w")
    await datastore.delete_store(store.id)
    with pytest.raises(StoreNotFoundError):
        await datastore.write(store.id, writes=[t("doc:1#owner@user:anne")])


async def test_conditions_round_trip(datastore: Datastore) -> None:
    store = await datastore.create_store("w")
    keys = [
        t("doc:1#viewer@user:a", "c", None),
        t("doc:1#viewer@user:b", "c", {}),
        t(
            "doc:1#viewer@user:c",
            "c",
            {"n": 1.5, "s": "x", "l": [1, "2"], "m": {"k": True}, "z": None},
        ),
        t("doc:1#viewer@user:d"),
    ]
    await datastore.write(store.id, writes=keys)
    assert await read_all(datastore, store.id) == keys
    assert (
        sorted(
            await datastore.read_object_relation(store.id, "doc:1", "viewer"), key=lambda k: k.user
        )
        == keys
    )
    for key in keys:
        assert await datastore.read_user_tuple(store.id, key.object, key.relation, key.user) == key


async def test_unusual_identifiers(datastore: Datastore) -> None:
    store = await datastore.create_store("w")
    keys = [
        t("doc:a b:c|d#viewer@user:auth0|64b1f00d"),
        t("doc:ünïcødé#viewer@user:alice@example.com"),
        t("doc:x#viewer@google-oauth2|1234:weird#member"),
    ]
    await datastore.write(store.id, writes=keys)
    for key in keys:
        assert await datastore.read_user_tuple(store.id, key.object, key.relation, key.user) == key
    assert await read_all(datastore, store.id) == keys


async def test_point_and_userset_reads(datastore: Datastore) -> None:
    store = await datastore.create_store("r")
    await datastore.write(
        store.id,
        writes=[
            t("doc:1#viewer@user:anne"),
            t("doc:1#viewer@user:*"),
            t("doc:1#viewer@group:eng#member"),
            t("doc:1#editor@group:eng#member"),
            t("doc:2#viewer@user:anne"),
        ],
    )
    other = await datastore.create_store("other")
    await datastore.write(other.id, writes=[t("doc:1#viewer@user:bob")])
    assert await datastore.read_user_tuple(store.id, "doc:1", "viewer", "user:anne") == t(
        "doc:1#viewer@user:anne"
    )
    assert await datastore.read_user_tuple(store.id, "doc:1", "viewer", "user:bob") is None
    assert await datastore.read_user_tuple(store.id, "doc:1", "viewer", "user:*") == t(
        "doc:1#viewer@user:*"
    )
    assert await datastore.read_user_tuple(store.id, "doc:2", "viewer", "user:*") is None
    assert await datastore.read_user_tuple(new_ulid(), "doc:1", "viewer", "user:anne") is None
    usersets = await datastore.read_userset_tuples(store.id, "doc:1", "viewer")
    assert sorted(k.user for k in usersets) == ["group:eng#member", "user:*"]
    assert not await datastore.read_userset_tuples(store.id, "doc:2", "viewer")
    everyone = await datastore.read_object_relation(store.id, "doc:1", "viewer")
    assert sorted(k.user for k in everyone) == ["group:eng#member", "user:*", "user:anne"]
    assert not await datastore.read_object_relation(store.id, "doc:3", "viewer")


async def test_reverse_reads(datastore: Datastore) -> None:
    store = await datastore.create_store("r")
    await datastore.write(
        store.id,
        writes=[
            t("doc:1#viewer@user:anne"),
            t("doc:2#viewer@user:anne"),
            t("doc:3#viewer@user:*"),
            t("doc:4#viewer@group:eng#member"),
            t("doc:5#editor@user:anne"),
            t("folder:1#viewer@user:anne"),
        ],
    )

    async def objects(users: list[str], object_ids: list[str] | None = None) -> list[str]:
        keys = await datastore.read_starting_with_user(
            store.id,
            StartingWithUser(
                object_type="doc", relation="viewer", users=users, object_ids=object_ids
            ),
        )
        assert all(k.relation == "viewer" and k.object.startswith("doc:") for k in keys)
        return sorted(k.object for k in keys)

    assert await objects(["user:anne"]) == ["doc:1", "doc:2"]
    assert await objects(["user:anne", "user:*"]) == ["doc:1", "doc:2", "doc:3"]
    assert await objects(["group:eng#member", "user:anne", "user:anne"]) == [
        "doc:1",
        "doc:2",
        "doc:4",
    ]
    assert await objects(["user:anne", "user:*"], ["2", "3", "9"]) == ["doc:2", "doc:3"]
    assert await objects(["user:anne"], []) == []
    assert await objects([]) == []
    assert await objects(["user:nobody"]) == []


FILTER_CASES = [
    pytest.param(
        ReadFilter(),
        ["d1v_anne", "d1v_bob", "d2v_anne", "d1e_anne", "f1v_anne", "d3v_eng"],
        id="everything",
    ),
    pytest.param(
        ReadFilter(object_type="doc"),
        ["d1v_anne", "d1v_bob", "d2v_anne", "d1e_anne", "d3v_eng"],
        id="type",
    ),
    pytest.param(
        ReadFilter(object_type="doc", object_id="1"),
        ["d1v_anne", "d1v_bob", "d1e_anne"],
        id="object",
    ),
    pytest.param(
        ReadFilter(object_type="doc", object_id="1", relation="viewer"),
        ["d1v_anne", "d1v_bob"],
        id="object_relation",
    ),
    pytest.param(
        ReadFilter(object_type="doc", user="user:anne"),
        ["d1v_anne", "d2v_anne", "d1e_anne"],
        id="type_user",
    ),
    pytest.param(
        ReadFilter(object_type="doc", relation="viewer", user="user:anne"),
        ["d1v_anne", "d2v_anne"],
        id="type_relation_user",
    ),
    pytest.param(
        ReadFilter(object_type="doc", object_id="1", relation="viewer", user="user:bob"),
        ["d1v_bob"],
        id="exact",
    ),
    pytest.param(
        ReadFilter(object_type="doc", user="group:eng#member"), ["d3v_eng"], id="userset_user"
    ),
    pytest.param(
        ReadFilter(relation="viewer"),
        ["d1v_anne", "d1v_bob", "d2v_anne", "f1v_anne", "d3v_eng"],
        id="relation_only",
    ),
    pytest.param(
        ReadFilter(user="user:anne"),
        ["d1v_anne", "d2v_anne", "d1e_anne", "f1v_anne"],
        id="user_only",
    ),
    pytest.param(ReadFilter(object_type="nothing"), [], id="no_match"),
]

_FIXTURE = {
    "d1v_anne": "doc:1#viewer@user:anne",
    "d1v_bob": "doc:1#viewer@user:bob",
    "d2v_anne": "doc:2#viewer@user:anne",
    "d1e_anne": "doc:1#editor@user:anne",
    "f1v_anne": "folder:1#viewer@user:anne",
    "d3v_eng": "doc:3#viewer@group:eng#member",
}


@pytest.mark.parametrize(("f", "expected"), FILTER_CASES)
async def test_read_filters_in_write_order(
    datastore: Datastore, f: ReadFilter, expected: list[str]
) -> None:
    store = await datastore.create_store("r")
    for value in _FIXTURE.values():
        await datastore.write(store.id, writes=[t(value)])
    other = await datastore.create_store("o")
    await datastore.write(other.id, writes=[t(v) for v in _FIXTURE.values()])
    assert await read_all(datastore, store.id, f) == [t(_FIXTURE[n]) for n in expected]


async def test_read_pagination_is_stable_under_writes(datastore: Datastore) -> None:
    store = await datastore.create_store("r")
    original = [t(f"doc:{i}#viewer@user:u{i}") for i in range(10)]
    await datastore.write(store.id, writes=original)
    seen: list[TupleKey] = []
    token = ""
    step = 0
    while True:
        page = await datastore.read_page(
            store.id, ReadFilter(object_type="doc"), page_size=3, continuation_token=token
        )
        seen.extend(s.key for s in page.items)
        assert all(s.timestamp.tzinfo is not None for s in page.items)
        token = page.continuation_token
        if not token:
            break
        step += 1
        await datastore.write(store.id, writes=[t(f"doc:new{step}#viewer@user:x")])
        if step == 1:
            # Rewriting an unseen tuple moves it to the end (it is a new write).
            await datastore.write(store.id, deletes=[t("doc:8#viewer@user:u8")])
            await datastore.write(store.id, writes=[t("doc:8#viewer@user:u8")])
    assert len(seen) == len({k.key for k in seen})
    assert seen[:8] == original[:8]
    assert seen[8] == original[9]
    assert set(original) <= set(seen)


async def test_read_page_errors(datastore: Datastore) -> None:
    store = await datastore.create_store("r")
    with pytest.raises(StoreNotFoundError):
        await datastore.read_page(new_ulid(), ReadFilter(), page_size=10)
    for bad in ("???", "eyJrIjoic3RvcmVzIiwiYSI6IiJ9"):
        with pytest.raises(InvalidContinuationTokenError):
            await datastore.read_page(store.id, ReadFilter(), page_size=10, continuation_token=bad)
    page = await datastore.read_page(store.id, ReadFilter(), page_size=10)
    assert (page.items, page.continuation_token) == ([], "")
