"""The multi-key reads (``MultiKeyTupleReader``) answer exactly what the single-key reads answer,
key by key, on every backend: what ``BatchingTupleReader`` relies on when it merges a request's
concurrent reads into one statement."""

from __future__ import annotations

from typing import Any

import pytest

from permsvc.core.refs import TupleKey
from permsvc.core.ulid import new_ulid
from permsvc.store.protocol import ManyKeys, MultiKeyTupleReader
from tests.store.helpers import t

pytestmark = pytest.mark.backends("memory", "sqlite", "postgres")
"""The backends that read many keys at once (``MultiKeyTupleReader``); the index does not."""

_TUPLES = [
    t("doc:1#viewer@user:anne"),
    t("doc:1#viewer@user:*"),
    t("doc:1#viewer@group:eng#member"),
    t("doc:1#viewer@group:ops#member", "in_office", {"ip": "10.0.0.1"}),
    t("doc:1#editor@user:bob", "in_office"),
    t("doc:2#viewer@user:anne"),
    t("doc:2#parent@folder:a"),
    t("doc:2#parent@folder:b"),
    t("folder:a#viewer@group:eng#member"),
    t("doc:with:colons#viewer@user:anne"),
]

_USER_KEYS = [
    ("doc:1", "viewer", "user:anne"),
    ("doc:1", "viewer", "user:*"),
    ("doc:1", "viewer", "group:eng#member"),
    ("doc:1", "viewer", "group:ops#member"),
    ("doc:1", "viewer", "group:eng"),
    ("doc:1", "editor", "user:bob"),
    ("doc:1", "viewer", "user:bob"),
    ("doc:2", "viewer", "user:anne"),
    ("doc:3", "viewer", "user:anne"),
    ("doc:with:colons", "viewer", "user:anne"),
]
_PAIRS = [
    ("doc:1", "viewer"),
    ("doc:1", "editor"),
    ("doc:2", "parent"),
    ("doc:2", "viewer"),
    ("folder:a", "viewer"),
    ("folder:z", "viewer"),
    ("doc:with:colons", "viewer"),
]


def _sorted(keys: Any) -> list[TupleKey]:
    return sorted(keys, key=lambda k: (k.object, k.relation, k.user))


async def test_read_many_equals_the_single_key_reads(datastore: Any) -> None:
    assert isinstance(datastore, MultiKeyTupleReader)
    store = await datastore.create_store("multi")
    other = await datastore.create_store("other")
    await datastore.write(store.id, writes=_TUPLES)
    await datastore.write(
        other.id, writes=[t("doc:1#viewer@user:bob"), t("doc:3#viewer@user:anne")]
    )

    expected_users = [await datastore.read_user_tuple(store.id, *k) for k in _USER_KEYS]
    expected_usersets = [
        row for pair in _PAIRS for row in await datastore.read_userset_tuples(store.id, *pair)
    ]
    expected_objects = [
        row for pair in _PAIRS for row in await datastore.read_object_relation(store.id, *pair)
    ]
    got = await datastore.read_many(
        store.id, ManyKeys(users=_USER_KEYS, usersets=_PAIRS, object_relations=_PAIRS)
    )
    assert _sorted(got.users) == _sorted(k for k in expected_users if k is not None)
    assert len(got.users) == 7
    assert _sorted(got.usersets) == _sorted(expected_usersets) and len(got.usersets) == 4
    assert (
        _sorted(got.object_relations) == _sorted(expected_objects)
        and len(got.object_relations) == 10
    )

    one_kind = await datastore.read_many(store.id, ManyKeys(object_relations=[("doc:1", "viewer")]))
    assert (list(one_kind.users), list(one_kind.usersets)) == ([], [])
    conditioned = {k.key: k for k in one_kind.object_relations}
    assert conditioned[("doc:1", "viewer", "group:ops#member")] == _TUPLES[3]


async def test_read_many_of_nothing(datastore: Any) -> None:
    store = await datastore.create_store("empty")
    nothing = await datastore.read_many(store.id, ManyKeys())
    assert (list(nothing.users), list(nothing.usersets), list(nothing.object_relations)) == (
        [],
        [],
        [],
    )
    missing = await datastore.read_many(
        new_ulid(),
        ManyKeys(users=[("doc:1", "viewer", "user:anne")], object_relations=[("doc:1", "viewer")]),
    )
    assert (list(missing.users), list(missing.object_relations)) == ([], [])


async def test_a_thousand_keys_in_one_call(datastore: Any) -> None:
    store = await datastore.create_store("wide")
    await datastore.write(
        store.id, writes=[t(f"doc:{i}#viewer@group:g{i}#member") for i in range(0, 1000, 3)]
    )
    found = await datastore.read_many(
        store.id, ManyKeys(usersets=[(f"doc:{i}", "viewer") for i in range(600)])
    )
    assert len(found.usersets) == 200
    found = await datastore.read_many(
        store.id,
        ManyKeys(
            users=[(f"doc:{i}", "viewer", f"group:g{i}#member") for i in range(500)],
            object_relations=[(f"doc:{i}", "viewer") for i in range(500, 1000)],
        ),
    )
    assert (len(found.users), len(found.object_relations)) == (167, 167)
