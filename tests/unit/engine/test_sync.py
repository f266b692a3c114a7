"""The synchronous checker and the coroutine checker agree, answer for answer and error for error.

Random data (nested and cyclic groups, folder chains, wildcards, conditional grants) over a model
with every rewrite shape; every ``object#relation@user`` of the fixture, objects and usersets as
users, with and without the condition's parameter, is checked through the memory store (which
offers synchronous reads: ``SyncChecker``), through the in-memory index built over it (the
``IndexedReader``'s synchronous reads) and through a proxy with coroutine reads only
(``LocalChecker``). The answer, the cycle flag and the error class must be the same.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from permsvc.commands.check import CheckParams, CheckQuery
from permsvc.commands.models import ModelResolver
from permsvc.core.errors import PermsvcError
from permsvc.core.refs import TupleCondition, TupleKey
from permsvc.engine.resolver import build_check_resolver
from permsvc.model.compile import parse_dsl
from permsvc.store.index import IndexedDatastore
from permsvc.store.memory import MemoryDatastore
from permsvc.store.wrappers.proxy import TupleReaderProxy

pytestmark = pytest.mark.timeout(120)

MODEL = """
model
  schema 1.1
type user
type group
  relations
    define member: [user, user:*, group#member, user with cond]
    define banned: [user]
    define active: member but not banned
type folder
  relations
    define parent: [folder]
    define owner: [user]
    define editor: [user, group#member] or owner
    define viewer: [user, group#member] or editor or viewer from parent
type document
  relations
    define parent: [folder]
    define owner: [user]
    define editor: [user, group#active] or owner
    define viewer: [user, user:*, group#member] or editor or viewer from parent
    define approved: [user, group#member]
    define blocked: [user, group#member]
    define limited: [user with cond, group#member with cond]
    define can_publish: editor and approved
    define can_view: viewer but not blocked
    define can_limited: limited or viewer
    define can_audit: (viewer and approved) but not (blocked or owner from parent)
condition cond(x: int) {
  x < 10
}
"""

USERS = [f"user:u{i}" for i in range(8)]
GROUPS = [f"group:g{i}" for i in range(5)]
FOLDERS = [f"folder:f{i}" for i in range(5)]
DOCUMENTS = [f"document:d{i}" for i in range(5)]
COND = TupleCondition(name="cond")


def _tuples(rng: random.Random) -> list[TupleKey]:
    out: dict[tuple[str, str, str], TupleKey] = {}

    def add(obj: str, rel: str, user: str, condition: TupleCondition | None = None) -> None:
        out.setdefault(
            (obj, rel, user), TupleKey(object=obj, relation=rel, user=user, condition=condition)
        )

    for _ in range(12):
        g, h = rng.choice(GROUPS), rng.choice(GROUPS)
        add(g, "member", rng.choice(USERS), COND if rng.random() < 0.2 else None)
        if g != h:
            add(g, "member", f"{h}#member")
        add(g, "banned", rng.choice(USERS))
        f, p = rng.randrange(5), rng.randrange(5)
        add(f"folder:f{f}", "parent", f"folder:f{p}")
        add(f"folder:f{f}", rng.choice(["owner", "editor", "viewer"]), rng.choice(USERS))
        add(f"folder:f{f}", "viewer", f"{g}#member")
        d = rng.choice(DOCUMENTS)
        add(d, "parent", f"folder:f{f}")
        rel = rng.choice(["owner", "editor", "viewer", "approved", "blocked"])
        add(d, rel, rng.choice(USERS))
        add(d, rng.choice(["viewer", "approved", "blocked"]), f"{h}#member")
        add(d, "editor", f"{g}#active")
        add(d, "limited", rng.choice(USERS), COND)
        add(d, "limited", f"{h}#member", COND)
    add("group:g4", "member", "user:*")
    add("document:d4", "viewer", "user:*")
    return list(out.values())


RELATIONS = {
    "group": ("member", "active"),
    "folder": ("viewer", "editor"),
    "document": ("viewer", "limited", "can_publish", "can_view", "can_limited", "can_audit"),
}


async def _outcome(query: CheckQuery, params: CheckParams) -> tuple[Any, ...]:
    try:
        out = await query.execute(params)
    except PermsvcError as err:
        return ("error", type(err).__name__)
    return (out.allowed, out.cycle_detected)


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed_{s}") for s in range(3)])
async def test_sync_and_async_checkers_agree(seed: int) -> None:
    rng = random.Random(seed)
    datastore = MemoryDatastore()
    store_id = (await datastore.create_store("sync-vs-async")).id
    await datastore.write_model(store_id, parse_dsl(MODEL))
    await datastore.write(store_id, writes=_tuples(rng))
    resolver = ModelResolver(datastore)
    sync = CheckQuery(
        reader=datastore, resolver=resolver, checker=build_check_resolver(cache_size=0)
    )
    coro = CheckQuery(
        reader=TupleReaderProxy(datastore),
        resolver=resolver,
        checker=build_check_resolver(cache_size=0),
    )
    indexed = IndexedDatastore(datastore)
    await indexed.start()
    via_index = CheckQuery(
        reader=indexed, resolver=resolver, checker=build_check_resolver(cache_size=0)
    )
    try:
        assert indexed.mode(store_id) == "index"
        users = (
            USERS
            + ["user:*"]
            + [f"{g}#member" for g in GROUPS]
            + [f"{f}#viewer" for f in FOLDERS[:2]]
        )
        compared = errors = allowed = 0
        for objects in (GROUPS, FOLDERS, DOCUMENTS):
            for obj in objects:
                for relation in RELATIONS[obj.partition(":")[0]]:
                    for user in users:
                        for context in (None, {"x": 1}):
                            params = CheckParams(
                                store_id=store_id,
                                tuple_key=TupleKey(object=obj, relation=relation, user=user),
                                context=context,
                            )
                            a, b = await _outcome(sync, params), await _outcome(coro, params)
                            assert a == b, (params.tuple_key, context)
                            assert await _outcome(via_index, params) == a, (
                                params.tuple_key,
                                context,
                            )
                            compared += 1
                            errors += a[0] == "error"
                            allowed += a[0] is True
    finally:
        await indexed.aclose()
    assert errors and allowed and compared - errors - allowed, (compared, errors, allowed)


def test_a_flattened_union_reads_each_direct_relation_once_per_user_key() -> None:
    """The keys of the several-relation reads: each relation once per user key, in order, with
    every condition any of its restrictions admits; usersets by relation."""
    from permsvc.engine.plan import plan_for
    from permsvc.model.typesystem import TypeSystem

    plan = plan_for(TypeSystem.new(parse_dsl(MODEL)))
    flat = plan.relations[("document", "can_limited")].flat
    assert flat is not None
    assert flat.lookup_relations["user"] == ("limited", "viewer", "editor", "owner")
    assert flat.lookup_conditions["user"]["limited"] == frozenset({"cond"})
    assert flat.lookup_conditions["user"]["viewer"] == frozenset({""})
    assert flat.lookup_relations["user:*"] == ("viewer",)
    assert flat.userset_relations == ("limited", "viewer", "editor")
    assert set(flat.userset_targets_of["limited"]) == {("group", "member")}
    assert set(flat.userset_targets_of["editor"]) == {("group", "active")}
    member = plan.relations[("group", "member")].flat
    assert member is not None
    assert member.lookup_conditions["user"] == {"member": frozenset({"", "cond"})}
