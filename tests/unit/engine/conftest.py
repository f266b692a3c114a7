"""A small harness: a memory store holding one DSL model and some tuples, and the query commands.

Every test using ``make_env`` runs twice: reading through the memory store itself (it offers
synchronous reads, so checks run on the engine's ``SyncChecker``) and through a plain
:class:`TupleReaderProxy` (coroutine reads only: the ``LocalChecker``'s inline async path).
"""

from __future__ import annotations

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


class Env:
    """One store with a model; helpers that run the query commands against it."""

    def __init__(self, datastore: MemoryDatastore, store_id: str, limits: EngineLimits, reader: TupleReader) -> None:
        self.datastore = datastore
        self.reader = reader
        """What the queries read through: the datastore (sync reads) or a proxy (async reads)."""
        self.store_id = store_id
        self.limits = limits
        self.resolver = ModelResolver(datastore)

    def with_limits(self, **changes: Any) -> Env:
        return Env(self.datastore, self.store_id, msgspec.structs.replace(self.limits, **changes), self.reader)

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

    async def check(self, tuple_str: str, *, contextual: Iterable[str] = (), context: dict[str, Any] | None = None) -> bool:
        outcome = await CheckQuery(reader=self.reader, resolver=self.resolver, limits=self.limits).execute(
            CheckParams(
                store_id=self.store_id,
                tuple_key=parse_tuple(tuple_str),
                contextual_tuples=tuple(parse_tuple(t) for t in contextual),
                context=context,
            )
        )
        return outcome.allowed

    async def objects(self, type_: str, relation: str, user: str, **kw: Any) -> list[str]:
        out = await ListObjectsQuery(reader=self.reader, resolver=self.resolver, limits=self.limits).execute(
            ListObjectsParams(store_id=self.store_id, type=type_, relation=relation, user=user, **kw)
        )
        return out.objects

    async def users(self, object_: str, relation: str, filter_: str, **kw: Any) -> list[str]:
        ftype, _, frel = filter_.partition("#")
        out = await ListUsersQuery(reader=self.reader, resolver=self.resolver, limits=self.limits).execute(
            ListUsersParams(
                store_id=self.store_id,
                object=object_,
                relation=relation,
                user_filters=(UserFilter(type=ftype, relation=frel),),
                **kw,
            )
        )
        return out.users


@pytest.fixture(params=[pytest.param("sync", id="sync_reads"), pytest.param("async", id="async_reads")])
def make_env(request: pytest.FixtureRequest) -> Any:
    async def make(dsl: str, tuples: Iterable[str] = (), **limits: Any) -> Env:
        datastore = MemoryDatastore()
        store = await datastore.create_store("engine-test")
        await datastore.write_model(store.id, parse_dsl(dsl))
        reader: TupleReader = datastore if request.param == "sync" else TupleReaderProxy(datastore)
        env = Env(datastore, store.id, EngineLimits(**limits), reader)
        await env.write(tuples)
        return env

    return make
