"""CachedCheckResolver: answers are reused only for the same request at the same revision."""

from __future__ import annotations

from typing import Any

from permsvc.commands.check import CheckParams, CheckQuery
from permsvc.core.refs import parse_tuple
from permsvc.engine.cached import CachedCheckResolver
from permsvc.engine.local import LocalChecker
from permsvc.engine.resolver import build_check_resolver, new_context
from permsvc.model.compile import parse_dsl
from permsvc.model.typesystem import TypeSystem
from permsvc.settings import EngineLimits

MODEL = """
model
  schema 1.1
type user
type group
  relations
    define member: [user, group#member]
type document
  relations
    define viewer: [user, group#member]
"""


async def _check(query: CheckQuery, store_id: str, text: str, **kw: Any) -> bool:
    return (
        await query.execute(CheckParams(store_id=store_id, tuple_key=parse_tuple(text), **kw))
    ).allowed


async def test_hits_at_the_same_revision_and_misses_after_a_write(make_env: Any) -> None:
    env = await make_env(MODEL, ["document:1#viewer@user:anne"])
    cache = CachedCheckResolver(LocalChecker(), max_entries=100)
    query = CheckQuery(reader=env.datastore, resolver=env.resolver, checker=cache)
    assert await _check(query, env.store_id, "document:1#viewer@user:anne")
    assert await _check(query, env.store_id, "document:1#viewer@user:anne")
    assert (cache.hits, cache.misses) == (1, 1)
    await env.datastore.write(env.store_id, deletes=[parse_tuple("document:1#viewer@user:anne")])
    assert not await _check(query, env.store_id, "document:1#viewer@user:anne")
    assert (cache.hits, cache.misses) == (1, 2)


async def test_contextual_tuples_and_models_are_part_of_the_key(make_env: Any) -> None:
    env = await make_env(MODEL)
    cache = CachedCheckResolver(LocalChecker(), max_entries=100)
    query = CheckQuery(reader=env.datastore, resolver=env.resolver, checker=cache)
    assert not await _check(query, env.store_id, "document:1#viewer@user:anne")
    assert await _check(
        query,
        env.store_id,
        "document:1#viewer@user:anne",
        contextual_tuples=(parse_tuple("document:1#viewer@user:anne"),),
    )
    await env.datastore.write_model(env.store_id, parse_dsl(MODEL))
    assert not await _check(query, env.store_id, "document:1#viewer@user:anne")
    assert cache.misses == 3


async def test_cycles_are_not_cached_and_the_cache_is_bounded(make_env: Any) -> None:
    env = await make_env(MODEL, ["group:a#member@group:b#member", "group:b#member@group:a#member"])
    cache = CachedCheckResolver(LocalChecker(), max_entries=2)
    query = CheckQuery(reader=env.datastore, resolver=env.resolver, checker=cache)
    assert not await _check(query, env.store_id, "group:a#member@user:anne")
    assert cache.size == 0
    for user in ("user:x", "user:y", "user:z"):
        await _check(query, env.store_id, f"document:1#viewer@{user}")
    assert cache.size == 2


async def test_contexts_without_a_revision_bypass_the_cache(make_env: Any) -> None:
    env = await make_env(MODEL, ["document:1#viewer@user:anne"])
    resolver = build_check_resolver()
    assert isinstance(resolver, CachedCheckResolver)
    ts = TypeSystem.new((await env.datastore.read_latest_model(env.store_id)).model)
    for _ in range(2):
        ctx = new_context(
            store_id=env.store_id,
            typesystem=ts,
            reader=env.datastore,
            limits=EngineLimits(),
            context=None,
            user="user:anne",
        )
        assert (await resolver.check(ctx, "document:1", "viewer")).allowed
    assert (resolver.hits, resolver.misses, resolver.size) == (0, 0, 0)
    assert isinstance(build_check_resolver(cache_size=0), LocalChecker)
