"""Cross-API oracle: on random data over a model with every rewrite shape, ListObjects and
ListUsers return exactly what Check says, nothing more and nothing missing (SpiceDB's
accessibility-set idea: ``list_objects == {o | check(o)}`` over every object in the fixture).

The engine does not depend on the backend for this (the conformance suites cover every backend),
so this runs on the memory store, with the data stored and sent as contextual tuples."""

from __future__ import annotations

import random

import pytest

from permsvc.commands.check import CheckParams, CheckQuery
from permsvc.commands.list_objects import ListObjectsParams, ListObjectsQuery
from permsvc.commands.list_users import ListUsersParams, ListUsersQuery, UserFilter
from permsvc.commands.models import ModelResolver
from permsvc.core.refs import TupleKey
from permsvc.model.compile import parse_dsl
from permsvc.store.memory import MemoryDatastore

MATRIX = """
model
  schema 1.1
type user
type group
  relations
    define member: [user, user:*, group#member]
    define banned: [user]
    define active: member but not banned
type folder
  relations
    define parent: [folder]
    define owner: [user]
    define viewer: [user, group#member] or owner or viewer from parent
type document
  relations
    define parent: [folder]
    define owner: [user]
    define editor: [user, group#active] or owner
    define viewer: [user, user:*, group#member] or editor or viewer from parent
    define approved: [user, group#member]
    define blocked: [user, group#member]
    define can_publish: editor and approved
    define can_view: viewer but not blocked
    define can_audit: (viewer and approved) but not (blocked or owner from parent)
"""

USERS = [f"user:u{i}" for i in range(6)]
GROUPS = [f"group:g{i}" for i in range(5)]
FOLDERS = [f"folder:f{i}" for i in range(5)]
DOCUMENTS = [f"document:d{i}" for i in range(6)]


def _tuples(rng: random.Random) -> list[TupleKey]:
    out: dict[tuple[str, str, str], TupleKey] = {}

    def add(obj: str, rel: str, user: str) -> None:
        out[(obj, rel, user)] = TupleKey(object=obj, relation=rel, user=user)

    for _ in range(45):
        g, h = rng.sample(GROUPS, 2)
        add(g, "member", rng.choice(USERS))
        if rng.random() < 0.5:
            add(g, "member", f"{h}#member")
        if rng.random() < 0.05:
            add(g, "member", "user:*")
        add(g, "banned", rng.choice(USERS))
        f, p = rng.sample(range(len(FOLDERS)), 2)
        if f > p:
            add(FOLDERS[f], "parent", FOLDERS[p])
        add(rng.choice(FOLDERS), rng.choice(["owner", "viewer"]), rng.choice(USERS))
        add(rng.choice(FOLDERS), "viewer", f"{rng.choice(GROUPS)}#member")
        d = rng.choice(DOCUMENTS)
        add(d, "parent", rng.choice(FOLDERS))
        rel = rng.choice(["owner", "editor", "viewer", "approved", "blocked"])
        add(d, rel, rng.choice(USERS))
        add(d, rng.choice(["viewer", "approved", "blocked"]), f"{rng.choice(GROUPS)}#member")
        add(d, "editor", f"{rng.choice(GROUPS)}#active")
        if rng.random() < 0.1:
            add(d, "viewer", "user:*")
    return list(out.values())


@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", ["stored", "contextual"])
@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed_{s}") for s in range(4)])
async def test_list_queries_equal_check_over_every_object(seed: int, mode: str) -> None:
    tuples = _tuples(random.Random(seed))
    datastore = MemoryDatastore()
    store = await datastore.create_store("consistency")
    await datastore.write_model(store.id, parse_dsl(MATRIX))
    contextual: tuple[TupleKey, ...] = ()
    if mode == "stored":
        for i in range(0, len(tuples), 100):
            await datastore.write(store.id, writes=tuples[i : i + 100])
    else:
        contextual = tuple(tuples)
    resolver = ModelResolver(datastore)
    check = CheckQuery(reader=datastore, resolver=resolver)
    list_objects = ListObjectsQuery(reader=datastore, resolver=resolver)
    list_users = ListUsersQuery(reader=datastore, resolver=resolver)

    async def allowed(obj: str, relation: str, user: str) -> bool:
        outcome = await check.execute(CheckParams(
            store_id=store.id, tuple_key=TupleKey(object=obj, relation=relation, user=user),
            contextual_tuples=contextual,
        ))
        return outcome.allowed

    relations = {
        "document": ["viewer", "editor", "can_publish", "can_view", "can_audit"],
        "folder": ["viewer"],
        "group": ["member", "active"],
    }
    objects = {"document": DOCUMENTS, "folder": FOLDERS, "group": GROUPS}
    subjects = [*USERS, "user:*", *(f"{g}#member" for g in GROUPS)]
    for type_, rels in relations.items():
        for relation in rels:
            for user in subjects:
                listed = (await list_objects.execute(ListObjectsParams(
                    store_id=store.id, type=type_, relation=relation, user=user, contextual_tuples=contextual,
                ))).objects
                expected = [o for o in objects[type_] if await allowed(o, relation, user)]
                assert sorted(listed) == expected, (type_, relation, user)
            for obj in objects[type_]:
                for flt, candidates in (
                    (UserFilter(type="user"), [*USERS, "user:*"]),
                    (UserFilter(type="group", relation="member"), [f"{g}#member" for g in GROUPS]),
                ):
                    listed = (await list_users.execute(ListUsersParams(
                        store_id=store.id, object=obj, relation=relation, user_filters=(flt,),
                        contextual_tuples=contextual,
                    ))).users
                    expected = sorted([u for u in candidates if await allowed(obj, relation, u)])
                    assert sorted(listed) == expected, (obj, relation, flt)
