"""ReadChanges and the follower API (changes_since), on every backend."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from permsvc.core.refs import parse_tuple
from permsvc.core.ulid import new_ulid
from permsvc.store.errors import InvalidContinuationTokenError, StoreNotFoundError
from permsvc.store.protocol import Datastore, TupleChange


async def _populate(datastore: Datastore) -> str:
    """Five revisions mixing two object types; returns the store id."""
    store = await datastore.create_store("c")
    await datastore.write(
        store.id, writes=[parse_tuple("doc:1#viewer@user:a"), parse_tuple("folder:1#viewer@user:a")]
    )
    await datastore.write(store.id, writes=[parse_tuple("doc:2#viewer@user:b")])
    await datastore.write(store.id, deletes=[parse_tuple("doc:1#viewer@user:a")])
    await datastore.write(store.id, writes=[parse_tuple("folder:2#viewer@user:c")])
    await datastore.write(
        store.id,
        deletes=[parse_tuple("folder:1#viewer@user:a")],
        writes=[parse_tuple("doc:3#viewer@user:d")],
    )
    return store.id


def _summary(changes: list[TupleChange]) -> list[tuple[int, str, str]]:
    return [(c.revision, c.operation, str(c.key)) for c in changes]


EXPECTED = [
    (1, "write", "doc:1#viewer@user:a"),
    (1, "write", "folder:1#viewer@user:a"),
    (2, "write", "doc:2#viewer@user:b"),
    (3, "delete", "doc:1#viewer@user:a"),
    (4, "write", "folder:2#viewer@user:c"),
    (5, "delete", "folder:1#viewer@user:a"),
    (5, "write", "doc:3#viewer@user:d"),
]


async def _follow(
    datastore: Datastore, store_id: str, object_type: str, page_size: int
) -> tuple[list, str]:
    changes: list[TupleChange] = []
    token = ""
    for _ in range(100):
        page = await datastore.read_changes(
            store_id, object_type=object_type, page_size=page_size, continuation_token=token
        )
        if not page.items:
            assert page.continuation_token == token, (
                "an exhausted feed returns the token it was given"
            )
            return changes, token
        assert len(page.items) <= page_size
        changes.extend(page.items)
        token = page.continuation_token
        assert token
    raise AssertionError("the changelog never ended")


@pytest.mark.parametrize(
    "page_size",
    [pytest.param(1, id="page_1"), pytest.param(3, id="page_3"), pytest.param(50, id="page_50")],
)
async def test_changes_in_commit_order(datastore: Datastore, page_size: int) -> None:
    store_id = await _populate(datastore)
    changes, token = await _follow(datastore, store_id, "", page_size)
    assert _summary(changes) == EXPECTED
    timestamps = [c.timestamp for c in changes]
    assert timestamps == sorted(timestamps)
    assert all(ts.tzinfo is not None for ts in timestamps)

    await datastore.write(store_id, writes=[parse_tuple("doc:4#viewer@user:e")])
    page = await datastore.read_changes(store_id, page_size=page_size, continuation_token=token)
    assert _summary(page.items) == [(6, "write", "doc:4#viewer@user:e")]


async def test_type_filter_and_token_type_binding(datastore: Datastore) -> None:
    store_id = await _populate(datastore)
    changes, token = await _follow(datastore, store_id, "folder", 1)
    assert _summary(changes) == [c for c in EXPECTED if c[2].startswith("folder:")]
    with pytest.raises(InvalidContinuationTokenError):
        await datastore.read_changes(
            store_id, object_type="doc", page_size=10, continuation_token=token
        )
    with pytest.raises(InvalidContinuationTokenError):
        await datastore.read_changes(store_id, page_size=10, continuation_token=token)
    none, token = await _follow(datastore, store_id, "nothing", 10)
    assert (none, token) == ([], "")


async def test_empty_store_and_errors(datastore: Datastore) -> None:
    store = await datastore.create_store("c")
    page = await datastore.read_changes(store.id, page_size=10)
    assert (page.items, page.continuation_token) == ([], "")
    with pytest.raises(StoreNotFoundError):
        await datastore.read_changes(new_ulid(), page_size=10)
    with pytest.raises(InvalidContinuationTokenError):
        await datastore.read_changes(store.id, page_size=10, continuation_token="%%%")


async def test_start_time(datastore: Datastore) -> None:
    store = await datastore.create_store("c")
    await datastore.write(store.id, writes=[parse_tuple("doc:1#viewer@user:a")])
    await asyncio.sleep(0.01)
    middle = dt.datetime.now(dt.UTC)
    await asyncio.sleep(0.01)
    await datastore.write(
        store.id, writes=[parse_tuple("doc:2#viewer@user:b"), parse_tuple("folder:2#viewer@user:b")]
    )
    page = await datastore.read_changes(store.id, start_time=middle, page_size=1)
    assert _summary(page.items) == [(2, "write", "doc:2#viewer@user:b")]
    rest = await datastore.read_changes(
        store.id,
        start_time=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
        page_size=10,
        continuation_token=page.continuation_token,
    )
    assert _summary(rest.items) == [(2, "write", "folder:2#viewer@user:b")], (
        "the token wins over start_time"
    )
    typed = await datastore.read_changes(
        store.id, object_type="folder", start_time=middle, page_size=10
    )
    assert _summary(typed.items) == [(2, "write", "folder:2#viewer@user:b")]
    late = await datastore.read_changes(
        store.id, start_time=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5), page_size=10
    )
    assert (late.items, late.continuation_token) == ([], "")


@pytest.mark.parametrize(
    ("after", "limit", "expected_revisions"),
    [
        pytest.param(0, 1, [1, 1], id="first_revision_whole"),
        pytest.param(0, 2, [1, 1], id="limit_at_revision_end"),
        pytest.param(0, 3, [1, 1, 2], id="limit_mid_feed"),
        pytest.param(2, 1, [3], id="after_revision"),
        pytest.param(4, 1, [5, 5], id="last_revision_not_split"),
        pytest.param(4, 100, [5, 5], id="tail"),
        pytest.param(5, 10, [], id="caught_up"),
    ],
)
async def test_changes_since(
    datastore: Datastore, after: int, limit: int, expected_revisions: list[int]
) -> None:
    store_id = await _populate(datastore)
    changes = await datastore.changes_since(store_id, after, limit=limit)
    assert [c.revision for c in changes] == expected_revisions
    assert _summary(list(changes)) == [c for c in EXPECTED if c[0] > after][: len(changes)]
    assert not await datastore.changes_since(new_ulid(), 0, limit=10)
