"""Checks evaluated against a real database issue a number of queries bounded by the hops of the
check, not by its fan-out: a request's concurrent reads go out together (``BatchingTupleReader``
over the backend's ``MultiKeyTupleReader`` reads). Counted per read call (one statement each on
SQLite and PostgreSQL) and, on PostgreSQL, per statement sent through the pool."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from permsvc.commands.check import CheckParams, CheckQuery
from permsvc.commands.list_objects import ListObjectsParams, ListObjectsQuery
from permsvc.commands.list_users import ListUsersParams, ListUsersQuery, UserFilter
from permsvc.commands.models import ModelResolver
from permsvc.core.refs import parse_tuple
from permsvc.engine.list_users import expand_user_candidates
from permsvc.engine.resolver import build_check_resolver, new_context
from permsvc.model.compile import parse_dsl
from permsvc.model.typesystem import TypeSystem
from permsvc.settings import EngineLimits
from permsvc.store.postgres import PostgresDatastore
from permsvc.store.protocol import inline_reads
from permsvc.store.wrappers import wrap_for_request
from permsvc.store.wrappers.proxy import TupleReaderProxy
from tests.models import DRIVE as MODEL
from tests.pg import session_database_url
from tests.store.helpers import CountingPool

_GROUPS = 50

pytestmark = pytest.mark.backends("sqlite", "postgres")
"""The database backends only: in-memory reads are synchronous and never batched."""


def test_the_database_backends_do_not_read_inline(datastore: Any) -> None:
    assert not inline_reads(datastore)


class SingleKeyCountingReader(TupleReaderProxy):
    """Counts the engine's single-key read calls (one statement each on SQL backends); it cannot
    read many keys at once, so nothing is batched over it."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.reads = 0
        self.widest = 0

    async def read_starting_with_user(self, *args: Any) -> Any:
        self.reads += 1
        return await super().read_starting_with_user(*args)

    async def read_user_tuple(self, *args: Any) -> Any:
        self.reads += 1
        return await super().read_user_tuple(*args)

    async def read_userset_tuples(self, *args: Any) -> Any:
        self.reads += 1
        return await super().read_userset_tuples(*args)

    async def read_object_relation(self, *args: Any) -> Any:
        self.reads += 1
        return await super().read_object_relation(*args)


class CountingReader(SingleKeyCountingReader):
    """Counts the multi-key reads too (``MultiKeyTupleReader``): a request's reads over it are
    batched. Capabilities are the class's, so the two kinds are two classes."""

    async def read_many(self, store_id: str, keys: Any) -> Any:
        self.reads += 1
        self.widest = max(
            self.widest, len(keys.users) + len(keys.usersets) + len(keys.object_relations)
        )
        return await self.inner.read_many(store_id, keys)  # type: ignore[attr-defined]


async def _seed(datastore: Any) -> tuple[str, str]:
    store = await datastore.create_store("fan-out")
    model = await datastore.write_model(store.id, parse_dsl(MODEL))
    tuples = [f"document:1#viewer@group:g{i}#member" for i in range(_GROUPS)]
    tuples += [f"group:g{i}#member@user:u{i}" for i in range(_GROUPS)]
    tuples += ["group:g49#member@group:inner#member", "group:inner#member@user:anne"]
    tuples += [
        "document:1#parent@folder:f1",
        "folder:f1#parent@folder:f0",
        "folder:f0#viewer@user:zoe",
    ]
    await datastore.write(store.id, writes=[parse_tuple(t) for t in tuples])
    return store.id, model.id


async def _check(reader: Any, datastore: Any, store_id: str, model_id: str, tuple_str: str) -> bool:
    query = CheckQuery(
        reader=reader, resolver=ModelResolver(datastore), checker=build_check_resolver(cache_size=0)
    )
    outcome = await query.execute(
        CheckParams(store_id=store_id, model_id=model_id, tuple_key=parse_tuple(tuple_str))
    )
    return outcome.allowed


_CASES = [
    ("document:1#viewer@user:nobody", False),
    ("document:1#viewer@user:anne", True),
    ("document:1#viewer@user:u17", True),
    ("document:1#viewer@user:zoe", True),
]


@pytest.mark.parametrize(("tuple_str", "allowed"), _CASES)
async def test_a_fan_out_of_fifty_groups_costs_queries_per_hop(
    datastore: Any, tuple_str: str, allowed: bool
) -> None:
    store_id, model_id = await _seed(datastore)
    batched, unbatched = CountingReader(datastore), SingleKeyCountingReader(datastore)
    assert await _check(batched, datastore, store_id, model_id, tuple_str) is allowed
    assert await _check(unbatched, datastore, store_id, model_id, tuple_str) is allowed
    # hops: document -> 50 groups -> inner group; document -> f1 -> f0. A few reads per hop
    # (one per read kind per round), never one per group.
    assert batched.reads <= 16, batched.reads
    assert 1 < batched.widest <= _GROUPS + 1
    if not allowed:
        assert unbatched.reads >= _GROUPS, unbatched.reads


async def test_list_objects_reads_each_wave_of_subjects_together(datastore: Any) -> None:
    """anne is in 50 groups, each the viewer of its own document: the expansion reads the 50
    group usersets' documents together, not group by group."""
    store = await datastore.create_store("wide-listing")
    model = await datastore.write_model(store.id, parse_dsl(MODEL))
    tuples = [f"group:g{i}#member@user:anne" for i in range(_GROUPS)]
    tuples += [f"document:{i}#viewer@group:g{i}#member" for i in range(_GROUPS)]
    await datastore.write(store.id, writes=[parse_tuple(t) for t in tuples])
    counting = CountingReader(datastore)
    query = ListObjectsQuery(reader=counting, resolver=ModelResolver(datastore))
    params = ListObjectsParams(
        store_id=store.id, model_id=model.id, type="document", relation="viewer", user="user:anne"
    )
    listed = [obj async for obj in query.stream(params)]
    assert sorted(listed) == sorted(f"document:{i}" for i in range(_GROUPS))
    assert counting.reads <= 12, counting.reads


async def test_list_users_expansion_reads_each_wave_together(datastore: Any) -> None:
    store_id, _ = await _seed(datastore)
    counting = CountingReader(datastore)
    ctx = new_context(
        store_id=store_id,
        typesystem=TypeSystem.new(parse_dsl(MODEL)),
        reader=wrap_for_request(counting, store_id),
        limits=EngineLimits(),
        context=None,
    )
    users = await expand_user_candidates(ctx, "document:1", "viewer", "user")
    assert set(users) == {f"user:u{i}" for i in range(_GROUPS)} | {"user:anne", "user:zoe"}
    # waves: document:1 -> its groups, editor, owner and folder:f1 -> group:inner, folder:f0 -> ...
    assert counting.reads <= 8, counting.reads


async def test_list_users_confirms_candidates_together(datastore: Any) -> None:
    store_id, model_id = await _seed(datastore)
    counting = CountingReader(datastore)
    query = ListUsersQuery(reader=counting, resolver=ModelResolver(datastore))
    params = ListUsersParams(
        store_id=store_id,
        model_id=model_id,
        object="document:1",
        relation="viewer",
        user_filters=(UserFilter(type="user"),),
    )
    listed = (await query.execute(params)).users
    assert sorted(listed) == sorted(
        {f"user:u{i}" for i in range(_GROUPS)} | {"user:anne", "user:zoe"}
    )
    # 52 candidates, each confirmed by a Check of a few rounds: 8 Checks share each round's statement.
    assert counting.reads <= 80, counting.reads


@pytest.mark.postgres
async def test_statements_sent_to_postgresql_are_bounded_by_hops() -> None:
    pool = await asyncpg.create_pool(session_database_url(), min_size=1, max_size=8)
    counting = CountingPool(pool)
    datastore = PostgresDatastore(counting)  # type: ignore[arg-type]
    try:
        store_id, model_id = await _seed(datastore)
        await ModelResolver(datastore).resolve(store_id, model_id)
        before = counting.statements
        assert (
            await _check(datastore, datastore, store_id, model_id, "document:1#viewer@user:nobody")
            is False
        )
        sent = counting.statements - before
        assert 2 < sent <= 20, sent
    finally:
        await datastore.aclose()
