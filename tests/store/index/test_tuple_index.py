"""TupleIndex against the memory backend (the reference): same answers for every read shape after
any sequence of writes and deletes, compact values, idempotent catch-up."""

from __future__ import annotations

import datetime as dt
import gc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from permsvc.core.refs import TupleCondition, TupleKey
from permsvc.store.index.tuple_index import SMALL, TupleIndex, gc_paused
from permsvc.store.memory import MemoryDatastore
from permsvc.store.protocol import StartingWithUser, TupleChange

_NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
_OBJECTS = ("doc:1", "doc:2", "folder:a")
_RELATIONS = ("viewer", "parent")
_USERS = ("user:anne", "user:bob", "user:*", "group:eng#member", "folder:a", "doc:2#viewer")
_CONDITION = TupleCondition(name="small", context={"x": 1})


def _change(key: TupleKey, operation: str, revision: int) -> TupleChange:
    return TupleChange(key=key, operation=operation, timestamp=_NOW, revision=revision)  # type: ignore[arg-type]


def _sorted(keys: object) -> list[TupleKey]:
    return sorted(keys, key=lambda k: (k.object, k.relation, k.user))  # type: ignore[attr-defined]


_keys = st.builds(
    TupleKey,
    object=st.sampled_from(_OBJECTS),
    relation=st.sampled_from(_RELATIONS),
    user=st.sampled_from(_USERS),
    condition=st.sampled_from((None, _CONDITION)),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=st.lists(st.tuples(st.booleans(), _keys), max_size=40))
async def test_reads_match_the_memory_reference_after_random_changes(
    operations: list[tuple[bool, TupleKey]],
) -> None:
    memory = MemoryDatastore()
    store = (await memory.create_store("s")).id
    for is_write, key in operations:
        if is_write:
            if await memory.read_user_tuple(store, key.object, key.relation, key.user) is None:
                await memory.write(store, writes=[key])
        else:
            await memory.write(store, deletes=[key], on_missing="ignore")
    index = TupleIndex(store)
    index.finish_build(0)
    index.apply(await memory.changes_since(store, 0, limit=10_000))
    assert index.revision == await memory.head_revision(store)
    expected_all = []
    for obj in _OBJECTS:
        for rel in _RELATIONS:
            assert _sorted(index.object_relation(obj, rel)) == _sorted(
                await memory.read_object_relation(store, obj, rel)
            )
            assert _sorted(index.userset_tuples(obj, rel)) == _sorted(
                await memory.read_userset_tuples(store, obj, rel)
            )
            expected_all.extend(await memory.read_object_relation(store, obj, rel))
        for relations in (_RELATIONS, _RELATIONS[::-1], ("viewer", "never", "parent"), ("never",)):
            assert list(index.read_userset_tuples_of_sync(store, obj, relations)) == [
                key for rel in relations for key in index.userset_tuples(obj, rel)
            ]
            for user in _USERS:
                found = (index.user_tuple(obj, rel, user) for rel in relations)
                assert list(index.read_user_tuples_sync(store, obj, relations, user)) == [
                    key for key in found if key is not None
                ]
        for rel in _RELATIONS:
            for user in _USERS:
                assert index.user_tuple(obj, rel, user) == await memory.read_user_tuple(
                    store, obj, rel, user
                )
    for otype in ("doc", "folder"):
        for rel in _RELATIONS:
            everyone = StartingWithUser(object_type=otype, relation=rel, users=list(_USERS))
            got = index.starting_with_user(everyone)
            assert _sorted(got) == _sorted(await memory.read_starting_with_user(store, everyone))
            some = StartingWithUser(
                object_type=otype,
                relation=rel,
                users=["user:anne", "user:*"],
                object_ids=["1", "a"],
            )
            got = index.starting_with_user(some)
            assert _sorted(got) == _sorted(await memory.read_starting_with_user(store, some))
    assert _sorted(index.tuples()) == _sorted(expected_all)
    assert index.count == len(expected_all)


def test_values_grow_from_string_to_tuple_to_set_and_shrink_back() -> None:
    index = TupleIndex("s")
    index.finish_build(0)
    users = [f"user:{i}" for i in range(SMALL + 4)]
    index.apply(
        [_change(TupleKey(object="doc:1", relation="viewer", user=u), "write", 1) for u in users]
    )
    rel = index._relations[("doc", "viewer")]
    assert isinstance(rel.direct["1"], set)
    assert rel.objects["user:0"] == "1"
    index.apply(
        [
            _change(TupleKey(object="doc:1", relation="viewer", user=u), "delete", 2)
            for u in users[2:]
        ]
    )
    assert sorted(rel.direct["1"]) == sorted(users[:2])
    assert isinstance(rel.direct["1"], tuple)
    index.apply([_change(TupleKey(object="doc:1", relation="viewer", user=users[0]), "delete", 3)])
    assert rel.direct["1"] == users[1]
    assert index.count == 1


def test_apply_skips_changes_at_or_below_its_revision() -> None:
    index = TupleIndex("s")
    key = TupleKey(object="doc:1", relation="viewer", user="user:anne")
    index.add_batch([key])
    index.finish_build(5)
    assert index.apply([_change(key, "delete", 4), _change(key, "delete", 5)]) == 0
    assert index.user_tuple("doc:1", "viewer", "user:anne") == key
    assert index.apply([_change(key, "delete", 6)]) == 1
    assert index.user_tuple("doc:1", "viewer", "user:anne") is None
    assert index.revision == 6


def test_condition_is_replaced_and_dropped_with_the_tuple() -> None:
    index = TupleIndex("s")
    index.finish_build(0)
    plain = TupleKey(object="doc:1", relation="viewer", user="user:anne")
    conditional = TupleKey(
        object="doc:1", relation="viewer", user="user:anne", condition=_CONDITION
    )
    index.apply([_change(conditional, "write", 1)])
    assert index.user_tuple("doc:1", "viewer", "user:anne") == conditional
    index.apply([_change(conditional, "delete", 2), _change(plain, "write", 2)])
    assert index.user_tuple("doc:1", "viewer", "user:anne") == plain
    assert index.count == 1


@pytest.mark.parametrize(
    "user",
    [
        pytest.param("user:*", id="wildcard"),
        pytest.param("group:eng#member", id="userset"),
        pytest.param("user:anne", id="plain_user"),
    ],
)
def test_snapshot_batch_and_changelog_build_the_same_index(user: str) -> None:
    keys = [TupleKey(object=f"doc:{i}", relation="viewer", user=user) for i in range(3)]
    keys.append(TupleKey(object="doc:0", relation="viewer", user="user:zed", condition=_CONDITION))
    built = TupleIndex("s")
    built.add_batch(keys)
    built.finish_build(1)
    followed = TupleIndex("s")
    followed.finish_build(0)
    followed.apply([_change(k, "write", 1) for k in keys])
    assert _sorted(built.tuples()) == _sorted(followed.tuples()) == _sorted(keys)
    assert built.count == followed.count == 4


@settings(max_examples=150, deadline=None)
@given(keys=st.lists(_keys, max_size=60, unique_by=lambda k: k.key))
def test_building_from_a_snapshot_equals_applying_the_same_writes(keys: list[TupleKey]) -> None:
    built = TupleIndex("s")
    built.add_batch(keys[: len(keys) // 2])
    built.add_batch(keys[len(keys) // 2 :])
    built.finish_build(1)
    followed = TupleIndex("s")
    followed.finish_build(0)
    followed.apply([_change(k, "write", 1) for k in keys])
    assert _sorted(built.tuples()) == _sorted(followed.tuples()) == _sorted(keys)
    assert built.count == followed.count == len(keys)
    for obj in _OBJECTS:
        for rel in _RELATIONS:
            assert _sorted(built.object_relation(obj, rel)) == _sorted(
                followed.object_relation(obj, rel)
            )
            for user in _USERS:
                assert built.user_tuple(obj, rel, user) == followed.user_tuple(obj, rel, user)
    for otype in ("doc", "folder"):
        for rel in _RELATIONS:
            everyone = StartingWithUser(object_type=otype, relation=rel, users=list(_USERS))
            assert _sorted(built.starting_with_user(everyone)) == _sorted(
                followed.starting_with_user(everyone)
            )


def test_relation_versions_change_with_every_change_and_are_unique() -> None:
    first, second = TupleIndex("s"), TupleIndex("s")
    assert first.relation_version("doc", "viewer") == 0
    grant = TupleKey(object="doc:1", relation="viewer", user="user:anne")
    first.add_batch([grant])
    second.add_batch([grant])
    first.finish_build(1)
    second.finish_build(1)
    seen = {first.relation_version("doc", "viewer"), second.relation_version("doc", "viewer")}
    assert len(seen) == 2 and 0 not in seen
    untouched = first.relation_version("doc", "viewer")
    first.apply([_change(TupleKey(object="doc:1", relation="parent", user="folder:a"), "write", 2)])
    assert first.relation_version("doc", "viewer") == untouched
    for revision, operation in ((3, "write"), (4, "delete")):
        before = first.relation_version("doc", "viewer")
        key = TupleKey(object="doc:2", relation="viewer", user="group:eng#member")
        first.apply([_change(key, operation, revision)])
        assert first.relation_version("doc", "viewer") not in seen | {before}
        seen.add(first.relation_version("doc", "viewer"))


def test_gc_paused_nests_and_restores_the_collector() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # a collector that was off stays off
    finally:
        gc.enable()


def test_reads_of_several_relations_see_a_relation_added_after_them() -> None:
    """The relation groups those reads keep are dropped when the index gains a relation."""
    index = TupleIndex("s")
    index.add_batch([TupleKey(object="doc:1", relation="viewer", user="group:eng#member")])
    index.finish_build(1)
    relations = ("editor", "viewer")
    assert index.read_user_tuples_sync("s", "doc:1", relations, "user:anne") == ()
    assert [k.relation for k in index.read_userset_tuples_of_sync("s", "doc:1", relations)] == [
        "viewer"
    ]
    index.apply(
        [
            _change(TupleKey(object="doc:1", relation="editor", user="user:anne"), "write", 2),
            _change(
                TupleKey(object="doc:1", relation="editor", user="group:ops#member"), "write", 3
            ),
        ]
    )
    assert index.read_user_tuples_sync("s", "doc:1", relations, "user:anne") == [
        TupleKey(object="doc:1", relation="editor", user="user:anne")
    ]
    assert [k.user for k in index.read_userset_tuples_of_sync("s", "doc:1", relations)] == [
        "group:ops#member",
        "group:eng#member",
    ]
