"""A bulk import's changelog (one entry per object type of the import on the SQL backends, read
from the tuples it wrote) reads exactly like a changelog row per tuple: ReadChanges pages and
tokens, type filters, changes_since batches, and after imported tuples are deleted again."""

from __future__ import annotations

from collections import defaultdict

import pytest

from permsvc.core.refs import TupleKey
from permsvc.store.memory import MemoryDatastore
from permsvc.store.protocol import Datastore, ReadFilter, TupleChange
from tests.store.helpers import t

Summary = list[tuple[int, str, TupleKey]]


def _summary(changes: list[TupleChange]) -> Summary:
    return [(c.revision, c.operation, c.key) for c in changes]


async def _history(datastore: Datastore) -> str:
    """Writes, two imports (three object types, duplicates skipped) and deletions of imported
    tuples by Write and by bulk delete; returns the store id."""
    store = (await datastore.create_store("imports")).id
    stored = t("doc:05#viewer@user:a")
    await datastore.write(store, writes=[stored, t("team:x#member@user:a")])
    first = [t(f"doc:{i:02}#viewer@user:{i % 4}") for i in range(30, 0, -1)]
    first += [t(f"folder:{i}#viewer@group:g{i % 3}#member") for i in range(12)]
    first += [stored, first[3], t("group:g1#member@user:z", "c", {"b": 1, "a": 2})]
    await datastore.bulk_write(store, first)
    await datastore.write(
        store,
        deletes=[t("doc:07#viewer@user:3"), t("group:g1#member@user:z", "c", {"b": 1, "a": 2})],
        writes=[t("doc:99#viewer@user:9")],
    )
    second = [t(f"doc:{i:02}#editor@user:{i % 5}") for i in range(8)]
    second += [t(f"folder:{i}#viewer@user:f{i}") for i in range(5)]
    await datastore.bulk_write(store, second)
    await datastore.bulk_delete(store, ReadFilter(object_type="folder", object_id="2"))
    await datastore.write(store, deletes=[t("doc:03#editor@user:3")])
    await datastore.write(store, writes=[t("doc:07#viewer@user:3")])
    await datastore.bulk_write(store, [t("doc:03#editor@user:3"), t("doc:07#viewer@user:3")])
    await datastore.bulk_delete(store, ReadFilter(user="user:1"))
    return store


async def _pages(
    datastore: Datastore, store: str, page_size: int, object_type: str = ""
) -> tuple[Summary, list[int]]:
    """Every change through ReadChanges pages of ``page_size``, and the page lengths."""
    out: list[TupleChange] = []
    lengths: list[int] = []
    token = ""
    while True:
        page = await datastore.read_changes(
            store, object_type=object_type, page_size=page_size, continuation_token=token
        )
        if not page.items:
            assert page.continuation_token == token
            return _summary(out), lengths
        lengths.append(len(page.items))
        out.extend(page.items)
        token = page.continuation_token


@pytest.fixture
async def reference() -> tuple[MemoryDatastore, str]:
    memory = MemoryDatastore()
    return memory, await _history(memory)


@pytest.mark.parametrize("page_size", [1, 2, 5, 7, 100])
@pytest.mark.parametrize("object_type", ["", "doc", "folder", "group", "team"])
async def test_read_changes_pages_match_the_reference(
    datastore: Datastore,
    reference: tuple[MemoryDatastore, str],
    page_size: int,
    object_type: str,
) -> None:
    store = await _history(datastore)
    expected, expected_lengths = await _pages(*reference, page_size, object_type)
    assert expected, "the history has changes of every type"
    got, lengths = await _pages(datastore, store, page_size, object_type)
    assert got == expected
    assert lengths == expected_lengths, "full pages across the import boundaries"


@pytest.mark.parametrize("limit", [1, 3, 10, 1000])
async def test_changes_since_batches_match_the_reference(
    datastore: Datastore, reference: tuple[MemoryDatastore, str], limit: int
) -> None:
    store = await _history(datastore)
    head = await datastore.head_revision(store)
    followed: list[TupleChange] = []
    revision = 0
    while revision < head:
        batch = list(await datastore.changes_since(store, revision, limit=limit))
        assert batch, "a follower behind the head always gets changes"
        revisions = [c.revision for c in batch]
        assert revisions == sorted(revisions) and revisions[0] > revision
        followed.extend(batch)
        revision = revisions[-1]
    memory, ref_store = reference
    assert _summary(followed) == _summary(
        list(await memory.changes_since(ref_store, 0, limit=10**6))
    )
    whole = defaultdict(list)
    for change in await datastore.changes_since(store, 0, limit=10**6):
        whole[change.revision].append(change)
    for change in followed:
        assert change in whole[change.revision], "no revision is split across batches"
    assert sum(map(len, whole.values())) == len(followed)


async def test_a_revision_keeps_one_timestamp(datastore: Datastore) -> None:
    """Imported changes, also those of tuples deleted later, carry their import's commit time."""
    store = await _history(datastore)
    times = defaultdict(set)
    for change in await datastore.changes_since(store, 0, limit=10**6):
        times[change.revision].add(change.timestamp)
    assert all(len(v) == 1 for v in times.values()), times
    ordered = [min(times[r]) for r in sorted(times)]
    assert ordered == sorted(ordered)


async def test_a_token_from_inside_an_import_survives_deletions(datastore: Datastore) -> None:
    """A client halfway through an import's changes when some of its tuples are deleted gets the
    rest of the import, then the deletions."""
    store = (await datastore.create_store("mid")).id
    keys = [t(f"doc:{i:03}#viewer@user:{i % 7}") for i in range(50)]
    await datastore.bulk_write(store, keys)
    page = await datastore.read_changes(store, page_size=20)
    assert [c.key for c in page.items] == keys[:20]
    await datastore.write(store, deletes=[keys[10], keys[30], keys[31]])
    await datastore.bulk_delete(store, ReadFilter(user="user:6"))
    rest, _ = await _pages_from(datastore, store, page.continuation_token, 9)
    gone_by_user = [
        k for k in keys if k.user == "user:6" and k not in (keys[10], keys[30], keys[31])
    ]
    assert rest == (
        [(1, "write", k) for k in keys[20:]]
        + [(2, "delete", k) for k in (keys[10], keys[30], keys[31])]
        + [(3, "delete", k) for k in gone_by_user]
    )


async def _pages_from(
    datastore: Datastore, store: str, token: str, page_size: int
) -> tuple[Summary, str]:
    out: list[TupleChange] = []
    while True:
        page = await datastore.read_changes(store, page_size=page_size, continuation_token=token)
        if not page.items:
            return _summary(out), token
        out.extend(page.items)
        token = page.continuation_token
