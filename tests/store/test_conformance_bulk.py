"""The bulk paths (BulkTupleWriter), and a differential check against the memory reference."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator

import pytest

from permsvc.core.refs import TupleCondition, TupleKey, parse_tuple
from permsvc.core.ulid import new_ulid
from permsvc.store.errors import (
    InvalidWriteInputError,
    StoreError,
    StoreNotFoundError,
    TupleConditionConflictError,
)
from permsvc.store.index import IndexedDatastore
from permsvc.store.memory import MemoryDatastore
from permsvc.store.postgres import PostgresDatastore
from permsvc.store.protocol import BulkTupleWriter, Datastore, ReadFilter, StartingWithUser
from permsvc.store.rows import to_columns
from tests.pg import session_database_url
from tests.store.helpers import read_all, t


async def _changes(datastore: Datastore, store_id: str) -> list[tuple[int, str, TupleKey]]:
    return [
        (c.revision, c.operation, c.key)
        for c in await datastore.changes_since(store_id, 0, limit=100_000)
    ]


def test_every_backend_is_a_bulk_writer(datastore: Datastore) -> None:
    assert isinstance(datastore, BulkTupleWriter)


async def test_bulk_write_is_one_revision(datastore: Datastore) -> None:
    store = await datastore.create_store("b")
    await datastore.write(store.id, writes=[t("doc:0#viewer@user:0")])
    keys = [t(f"doc:{i}#viewer@user:{i % 7}") for i in range(1500)] + [
        t("doc:c#viewer@user:c", "cond", {"a": [1]})
    ]
    result = await datastore.bulk_write(store.id, keys)
    assert (result.revision, result.changed) == (2, len(keys) - 1)
    assert await datastore.head_revision(store.id) == 2
    imported = sorted(keys[1:], key=to_columns)
    assert imported != keys[1:], "the input is not already in key order"
    assert await read_all(datastore, store.id, page_size=100) == [keys[0], *imported], (
        "an import is stored in key order"
    )
    changes = await _changes(datastore, store.id)
    assert changes == [(1, "write", keys[0])] + [(2, "write", k) for k in imported]
    users = await datastore.read_starting_with_user(
        store.id, StartingWithUser(object_type="doc", relation="viewer", users=["user:3"])
    )
    assert {k.object for k in users} == {f"doc:{i}" for i in range(1500) if i % 7 == 3}


async def test_bulk_write_accepts_async_iterables(datastore: Datastore) -> None:
    store = await datastore.create_store("b")

    async def produce() -> AsyncIterator[TupleKey]:
        for i in range(25_000):
            yield t(f"doc:{i}#viewer@user:x")

    result = await datastore.bulk_write(store.id, produce())
    assert (result.revision, result.changed) == (1, 25_000)
    page = await datastore.read_page(
        store.id, ReadFilter(object_type="doc", object_id="24999"), page_size=5
    )
    assert [s.key for s in page.items] == [t("doc:24999#viewer@user:x")]


async def test_bulk_write_duplicates(datastore: Datastore) -> None:
    store = await datastore.create_store("b")
    await datastore.write(store.id, writes=[t("doc:1#viewer@user:a", "c", {"x": 1})])
    result = await datastore.bulk_write(
        store.id,
        [
            t("doc:1#viewer@user:a", "c", {"x": 1}),
            t("doc:2#viewer@user:a"),
            t("doc:2#viewer@user:a"),
        ],
        on_duplicate="ignore",
    )
    assert (result.revision, result.changed) == (2, 1)
    nothing = await datastore.bulk_write(store.id, [t("doc:2#viewer@user:a")])
    assert (nothing.revision, nothing.changed) == (2, 0)
    empty = await datastore.bulk_write(store.id, [])
    assert (empty.revision, empty.changed) == (2, 0)


async def _read_changes_pages(
    datastore: Datastore, store_id: str, page_size: int
) -> list[TupleKey]:
    out: list[TupleKey] = []
    token = ""
    while True:
        page = await datastore.read_changes(store_id, page_size=page_size, continuation_token=token)
        if not page.items:
            return out
        out.extend(c.key for c in page.items)
        token = page.continuation_token


async def test_bulk_write_changelog_lists_exactly_the_inserted_tuples(datastore: Datastore) -> None:
    """With duplicates (stored before, repeated in the input) the import's changelog holds the
    inserted tuples only, once each, in key order; ReadChanges pages through all of them."""
    store = await datastore.create_store("b")
    stored = t("doc:5#viewer@user:a")
    await datastore.write(store.id, writes=[stored])
    batch = [t(f"doc:{i}#viewer@user:{i % 3}") for i in range(40, 0, -1)]
    batch += [stored, t("doc:7#viewer@user:1"), t("group:g#member@user:z", "c", {"b": 1, "a": 2})]
    result = await datastore.bulk_write(store.id, batch)
    inserted = sorted({k.key: k for k in batch if k != stored}.values(), key=to_columns)
    assert (result.revision, result.changed) == (2, len(inserted))
    assert await _changes(datastore, store.id) == [(1, "write", stored)] + [
        (2, "write", k) for k in inserted
    ]
    assert await _read_changes_pages(datastore, store.id, page_size=7) == [stored, *inserted]
    changes = await datastore.read_changes(store.id, object_type="group", page_size=10)
    assert [c.key for c in changes.items] == [inserted[-1]]


async def test_rejected_bulk_write_leaves_no_changelog(datastore: Datastore) -> None:
    store = await datastore.create_store("b")
    await datastore.write(store.id, writes=[t("doc:1#viewer@user:a")])
    with pytest.raises(TupleConditionConflictError):
        await datastore.bulk_write(
            store.id,
            [t(f"doc:{i}#viewer@user:b") for i in range(2, 300)] + [t("doc:1#viewer@user:a", "c")],
        )
    assert await _changes(datastore, store.id) == [(1, "write", t("doc:1#viewer@user:a"))]
    assert await read_all(datastore, store.id, page_size=100) == [t("doc:1#viewer@user:a")]
    after = await datastore.bulk_write(store.id, [t("doc:2#viewer@user:b")])
    assert (after.revision, after.changed) == (2, 1)
    assert await _changes(datastore, store.id) == [
        (1, "write", t("doc:1#viewer@user:a")),
        (2, "write", t("doc:2#viewer@user:b")),
    ]


async def test_an_index_following_the_store_catches_up_with_a_bulk_load(
    datastore: Datastore,
) -> None:
    """Another process's index (an IndexedDatastore over the same database, built before the
    import) follows the import's changelog to every imported tuple."""
    store = await datastore.create_store("b")
    await datastore.write(store.id, writes=[t("doc:0#viewer@user:0")])
    listen_url = session_database_url() if isinstance(datastore, PostgresDatastore) else None
    follower = IndexedDatastore(datastore, poll_s=0.02, listen_url=listen_url)
    await follower.start()
    try:
        assert follower.indexed_revision(store.id) == 1
        keys = [t(f"doc:{i}#viewer@user:{i % 11}") for i in range(3000, 0, -1)]
        result = await datastore.bulk_write(store.id, keys)
        deadline = time.monotonic() + 10
        while follower.indexed_revision(store.id) != result.revision:
            assert time.monotonic() < deadline, "the index did not catch up"
            await asyncio.sleep(0.01)
        index = follower.index_of(store.id)
        assert index is not None
        assert sorted(index.tuples(), key=to_columns) == sorted(
            [t("doc:0#viewer@user:0"), *keys], key=to_columns
        )
        # Imported tuples deleted again (their import's changes move to the changelog): the
        # follower applies the deletions, and a second import after them.
        await datastore.write(store.id, deletes=keys[:2])
        await datastore.bulk_delete(store.id, ReadFilter(user="user:3"))
        last = await datastore.bulk_write(store.id, [t("doc:x#viewer@user:3"), keys[0]])
        while follower.indexed_revision(store.id) != last.revision:
            assert time.monotonic() < deadline + 10, "the index did not catch up"
            await asyncio.sleep(0.01)
        index = follower.index_of(store.id)
        assert index is not None
        assert sorted(index.tuples(), key=to_columns) == sorted(
            await read_all(datastore, store.id, page_size=1000), key=to_columns
        )
        assert len(list(index.tuples())) == 1 + 3000 - 2 - 273 + 2
    finally:
        await follower.stop_following()


@pytest.mark.parametrize(
    ("batch", "error"),
    [
        pytest.param(
            [t("doc:9#viewer@user:z"), t("doc:1#viewer@user:a", "c", {"x": 1})],
            InvalidWriteInputError,
            id="stored_error_mode",
        ),
        pytest.param(
            [t("doc:9#viewer@user:z"), t("doc:1#viewer@user:a")],
            InvalidWriteInputError,
            id="stored_other_condition_error_mode",
        ),
    ],
)
async def test_bulk_write_error_mode_applies_nothing(
    datastore: Datastore, batch: list[TupleKey], error: type
) -> None:
    store = await datastore.create_store("b")
    await datastore.write(store.id, writes=[t("doc:1#viewer@user:a", "c", {"x": 1})])
    with pytest.raises(error) as info:
        await datastore.bulk_write(store.id, batch, on_duplicate="error")
    assert "user: 'user:a', relation: 'viewer', object: 'doc:1'" in str(info.value)
    assert await read_all(datastore, store.id, page_size=100) == [
        t("doc:1#viewer@user:a", "c", {"x": 1})
    ]
    assert await datastore.head_revision(store.id) == 1


@pytest.mark.parametrize(
    "batch",
    [
        pytest.param(
            [t("doc:9#viewer@user:z"), t("doc:1#viewer@user:a", "c", {"x": 2})],
            id="stored_other_context",
        ),
        pytest.param(
            [t("doc:9#viewer@user:z"), t("doc:1#viewer@user:a")], id="stored_without_condition"
        ),
        pytest.param([t("doc:8#viewer@user:y"), t("doc:8#viewer@user:y", "c")], id="within_input"),
    ],
)
async def test_bulk_write_condition_conflicts_apply_nothing(
    datastore: Datastore, batch: list[TupleKey]
) -> None:
    store = await datastore.create_store("b")
    await datastore.write(store.id, writes=[t("doc:1#viewer@user:a", "c", {"x": 1})])
    with pytest.raises(TupleConditionConflictError):
        await datastore.bulk_write(store.id, batch)
    assert await read_all(datastore, store.id, page_size=100) == [
        t("doc:1#viewer@user:a", "c", {"x": 1})
    ]
    assert await datastore.head_revision(store.id) == 1


async def test_bulk_write_needs_a_live_store(datastore: Datastore) -> None:
    with pytest.raises(StoreNotFoundError):
        await datastore.bulk_write(new_ulid(), [t("doc:1#viewer@user:a")])
    with pytest.raises(StoreNotFoundError):
        await datastore.bulk_delete(new_ulid(), ReadFilter())


@pytest.mark.parametrize(
    ("f", "survivors"),
    [
        pytest.param(
            ReadFilter(user="user:anne"),
            ["doc:1#editor@user:bob", "folder:1#viewer@group:x#member"],
            id="one_user",
        ),
        pytest.param(
            ReadFilter(object_type="doc"),
            ["folder:1#viewer@user:anne", "folder:1#viewer@group:x#member"],
            id="one_type",
        ),
        pytest.param(
            ReadFilter(object_type="doc", object_id="1", relation="viewer"),
            [
                "doc:1#editor@user:bob",
                "doc:2#viewer@user:anne",
                "folder:1#viewer@user:anne",
                "folder:1#viewer@group:x#member",
            ],
            id="object_relation",
        ),
        pytest.param(ReadFilter(), [], id="everything"),
    ],
)
async def test_bulk_delete(datastore: Datastore, f: ReadFilter, survivors: list[str]) -> None:
    store = await datastore.create_store("b")
    initial = [
        "doc:1#viewer@user:anne",
        "doc:1#editor@user:bob",
        "doc:2#viewer@user:anne",
        "folder:1#viewer@user:anne",
        "folder:1#viewer@group:x#member",
    ]
    await datastore.write(store.id, writes=[t(v) for v in initial])
    result = await datastore.bulk_delete(store.id, f)
    assert (result.revision, result.changed) == (2, len(initial) - len(survivors))
    assert sorted(map(str, await read_all(datastore, store.id, page_size=100))) == sorted(survivors)
    deleted = [str(k) for rev, op, k in await _changes(datastore, store.id) if rev == 2]
    assert deleted == [v for v in initial if v not in survivors], (
        "deletions are logged in write order"
    )
    again = await datastore.bulk_delete(store.id, f)
    assert (again.revision, again.changed) == (2, 0)


async def test_random_operations_match_the_memory_reference(datastore: Datastore) -> None:
    """Seeded random writes/deletes/bulk operations give the same results, errors, tuples and
    changelog as MemoryDatastore (STYLE 5.5: any difference is a bug in one of them)."""
    rng = random.Random(20261128)
    reference = MemoryDatastore()
    ref_store = (await reference.create_store("ref")).id
    store = (await datastore.create_store("sut")).id
    conditions = [
        None,
        TupleCondition(name="c"),
        TupleCondition(name="c", context={"x": 1}),
        TupleCondition(name="d", context={}),
    ]

    def key() -> TupleKey:
        base = parse_tuple(
            f"{rng.choice(['doc', 'folder'])}:{rng.randrange(6)}#{rng.choice(['viewer', 'owner'])}@"
            + rng.choice(["user:a", "user:b", "user:*", "group:g#member"])
        )
        return TupleKey(
            object=base.object,
            relation=base.relation,
            user=base.user,
            condition=rng.choice(conditions),
        )

    async def both(name: str, *args: object, **kwargs: object) -> None:
        outcomes = []
        for ds, sid in ((reference, ref_store), (datastore, store)):
            try:
                result = await getattr(ds, name)(sid, *args, **kwargs)
                outcomes.append(("ok", result.revision, result.changed))
            except StoreError as err:
                outcomes.append((type(err).__name__, str(err)))
        assert outcomes[0] == outcomes[1], f"{name} {args} {kwargs}"

    for _ in range(150):
        op = rng.random()
        if op < 0.7:
            writes = list({k.key: k for k in (key() for _ in range(rng.randrange(0, 4)))}.values())
            deletes = [
                k
                for k in {k.key: k for k in (key() for _ in range(rng.randrange(0, 3)))}.values()
                if k.key not in {w.key for w in writes}
            ]
            await both(
                "write",
                deletes=deletes,
                writes=writes,
                on_duplicate=rng.choice(["error", "ignore"]),
                on_missing=rng.choice(["error", "ignore"]),
            )
        elif op < 0.85:
            await both(
                "bulk_write",
                [key() for _ in range(rng.randrange(0, 8))],
                on_duplicate=rng.choice(["error", "ignore"]),
            )
        else:
            await both(
                "bulk_delete",
                rng.choice(
                    [ReadFilter(user="user:a"), ReadFilter(object_type="folder", object_id="1")]
                ),
            )
        assert await reference.head_revision(ref_store) == await datastore.head_revision(store)
    assert await read_all(reference, ref_store, page_size=100) == await read_all(
        datastore, store, page_size=100
    )
    assert await _changes(reference, ref_store) == await _changes(datastore, store)
    for relation in ("viewer", "owner"):
        for i in range(6):
            ref = await reference.read_object_relation(ref_store, f"doc:{i}", relation)
            got = await datastore.read_object_relation(store, f"doc:{i}", relation)
            assert sorted(map(str, ref)) == sorted(map(str, got))
