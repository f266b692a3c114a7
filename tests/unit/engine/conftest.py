"""A small harness: a memory store holding one DSL model and some tuples, and the query commands.

Every test using ``make_env`` runs three times: reading through the memory store itself (it offers
synchronous reads, so checks run on the engine's ``SyncChecker``), through a plain
:class:`TupleReaderProxy` (coroutine reads only: the ``LocalChecker``'s inline async path) and
through a :class:`DatabaseLikeReader` (reads that wait, as a database's do: concurrent branches and
fan-out, reads batched per request by ``BatchingTupleReader``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import msgspec
import pytest

from permsvc.commands.batch_check import BatchCheckQuery
from permsvc.commands.check import CheckParams, CheckQuery
from permsvc.commands.expand import ExpandQuery
from permsvc.commands.list_objects import ListObjectsParams, ListObjectsQuery
from permsvc.commands.list_relations import ListRelationsQuery
from permsvc.commands.list_users import ListUsersParams, ListUsersQuery, UserFilter
from permsvc.commands.models import ModelResolver
from permsvc.core.refs import TupleKey, parse_tuple
from permsvc.model.compile import parse_dsl
from permsvc.settings import EngineLimits
from permsvc.store.memory import MemoryDatastore
from permsvc.store.protocol import TupleReader
from permsvc.store.wrappers.proxy import TupleReaderProxy

pytestmark = pytest.mark.timeout(30)


class DatabaseLikeReader(TupleReaderProxy):
    """The memory store presented as a database: no in-memory reads (``inline_reads`` false), every
    read suspends once, and the multi-key reads a batching reader uses (``MultiKeyTupleReader``)."""

    def __init__(self, inner: MemoryDatastore) -> None:
        super().__init__(inner)
        self.inline_reads = False
        self.memory = inner

    async def read_user_tuple(self, store_id: str, object: str, relation: str, user: str) -> Any:
        await asyncio.sleep(0)
        return await self.memory.read_user_tuple(store_id, object, relation, user)

    async def read_userset_tuples(self, store_id: str, object: str, relation: str) -> Any:
        await asyncio.sleep(0)
        return await self.memory.read_userset_tuples(store_id, object, relation)

    async def read_object_relation(self, store_id: str, object: str, relation: str) -> Any:
        await asyncio.sleep(0)
        return await self.memory.read_object_relation(store_id, object, relation)

    async def read_many(self, store_id: str, keys: Any) -> Any:
        await asyncio.sleep(0)
        return await self.memory.read_many(store_id, keys)


class Env:
    """One store with a model; helpers that run the query commands against it."""

    def __init__(
        self, datastore: MemoryDatastore, store_id: str, limits: EngineLimits, reader: TupleReader
    ) -> None:
        self.datastore = datastore
        self.reader = reader
        """What the queries read through: the datastore (sync reads) or a proxy (async reads)."""
        self.store_id = store_id
        self.limits = limits
        self.resolver = ModelResolver(datastore)

    def with_limits(self, **changes: Any) -> Env:
        return Env(
            self.datastore,
            self.store_id,
            msgspec.structs.replace(self.limits, **changes),
            self.reader,
        )

    async def write(self, tuples: Iterable[str | TupleKey]) -> None:
        keys = [parse_tuple(t) if isinstance(t, str) else t for t in tuples]
        for i in range(0, len(keys), 1000):
            await self.datastore.write(self.store_id, writes=keys[i : i + 1000])

    def queries(self) -> dict[str, Any]:
        kw = {"reader": self.reader, "resolver": self.resolver, "limits": self.limits}
        return {
            "check": CheckQuery(**kw),
            "batch": BatchCheckQuery(**kw),
            "expand": ExpandQuery(**kw),
            "objects": ListObjectsQuery(**kw),
            "users": ListUsersQuery(**kw),
            "relations": ListRelationsQuery(**kw),
        }

    async def check(
        self,
        tuple_str: str,
        *,
        contextual: Iterable[str] = (),
        context: dict[str, Any] | None = None,
    ) -> bool:
        outcome = await CheckQuery(
            reader=self.reader, resolver=self.resolver, limits=self.limits
        ).execute(
            CheckParams(
                store_id=self.store_id,
                tuple_key=parse_tuple(tuple_str),
                contextual_tuples=tuple(parse_tuple(t) for t in contextual),
                context=context,
            )
        )
        return outcome.allowed

    async def objects(self, type_: str, relation: str, user: str, **kw: Any) -> list[str]:
        out = await ListObjectsQuery(
            reader=self.reader, resolver=self.resolver, limits=self.limits
        ).execute(
            ListObjectsParams(
                store_id=self.store_id, type=type_, relation=relation, user=user, **kw
            )
        )
        return out.objects

    async def users(self, object_: str, relation: str, filter_: str, **kw: Any) -> list[str]:
        ftype, _, frel = filter_.partition("#")
        out = await ListUsersQuery(
            reader=self.reader, resolver=self.resolver, limits=self.limits
        ).execute(
            ListUsersParams(
                store_id=self.store_id,
                object=object_,
                relation=relation,
                user_filters=(UserFilter(type=ftype, relation=frel),),
                **kw,
            )
        )
        return out.users


@pytest.fixture(
    params=[
        pytest.param("sync", id="sync_reads"),
        pytest.param("async", id="async_reads"),
        pytest.param("database", id="database_reads"),
    ]
)
def make_env(request: pytest.FixtureRequest) -> Any:
    async def make(dsl: str, tuples: Iterable[str] = (), **limits: Any) -> Env:
        datastore = MemoryDatastore()
        store = await datastore.create_store("engine-test")
        await datastore.write_model(store.id, parse_dsl(dsl))
        readers = {
            "sync": datastore,
            "async": TupleReaderProxy(datastore),
            "database": DatabaseLikeReader(datastore),
        }
        reader: TupleReader = readers[request.param]
        env = Env(datastore, store.id, EngineLimits(**limits), reader)
        await env.write(tuples)
        return env

    return make
