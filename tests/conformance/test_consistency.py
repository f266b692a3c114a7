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
from permsvc.core.errors import PermsvcError
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
        outcome = await check.execute(
            CheckParams(
                store_id=store.id,
                tuple_key=TupleKey(object=obj, relation=relation, user=user),
                contextual_tuples=contextual,
            )
        )
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
                listed = (
                    await list_objects.execute(
                        ListObjectsParams(
                            store_id=store.id,
                            type=type_,
                            relation=relation,
                            user=user,
                            contextual_tuples=contextual,
                        )
                    )
                ).objects
                expected = [o for o in objects[type_] if await allowed(o, relation, user)]
                assert sorted(listed) == expected, (type_, relation, user)
            for obj in objects[type_]:
                for flt, candidates in (
                    (UserFilter(type="user"), [*USERS, "user:*"]),
                    (UserFilter(type="group", relation="member"), [f"{g}#member" for g in GROUPS]),
                ):
                    listed = (
                        await list_users.execute(
                            ListUsersParams(
                                store_id=store.id,
                                object=obj,
                                relation=relation,
                                user_filters=(flt,),
                                contextual_tuples=contextual,
                            )
                        )
                    ).users
                    expected = sorted([u for u in candidates if await allowed(obj, relation, u)])
                    assert sorted(listed) == expected, (obj, relation, flt)


def _union_only_model(rng: random.Random) -> str:
    """A random model built from unions only (direct grants, usersets, computed usersets,
    tuple-to-usersets), the shape whose ListObjects candidates are all definite."""
    lines = [
        "model",
        "  schema 1.1",
        "type user",
        "type group",
        "  relations",
        "    define member: [user, user:*, group#member]",
    ]
    for type_ in ("folder", "document"):
        lines += [f"type {type_}", "  relations", "    define parent: [folder]"]
        for i, relation in enumerate(("a", "b", "c")):
            direct = [r for r in ("user", "user:*", "group#member") if rng.random() < 0.5]
            if i == 0 and not direct:
                direct = ["user"]
            leaves = [f"[{', '.join(direct)}]"] if direct else []
            leaves += [earlier for earlier in ("a", "b")[:i] if rng.random() < 0.5]
            leaves += [f"{r} from parent" for r in ("a", "b", "c") if rng.random() < 0.35]
            if not leaves:
                leaves = ["[user]"]
            lines.append(f"    define {relation}: {' or '.join(leaves)}")
    return "\n".join(lines) + "\n"


def _union_only_tuples(rng: random.Random) -> list[TupleKey]:
    out: dict[tuple[str, str, str], TupleKey] = {}
    for _ in range(40):
        g, h = rng.sample(GROUPS, 2)
        out[(g, "member", h)] = TupleKey(
            object=g, relation="member", user=rng.choice([rng.choice(USERS), f"{h}#member"])
        )
        f, p = rng.sample(range(len(FOLDERS)), 2)
        child = rng.choice([FOLDERS[max(f, p)], rng.choice(DOCUMENTS)])
        out[(child, "parent", "")] = TupleKey(
            object=child, relation="parent", user=FOLDERS[min(f, p)]
        )
        obj = rng.choice([*FOLDERS, *DOCUMENTS])
        user = rng.choice([*USERS, f"{rng.choice(GROUPS)}#member", "user:*"])
        out[(obj, "grant", user)] = TupleKey(object=obj, relation=rng.choice("abc"), user=user)
    return list(out.values())


@pytest.mark.timeout(120)
@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed_{s}") for s in range(8)])
async def test_list_objects_equals_check_on_random_union_only_models(seed: int) -> None:
    """Every candidate of a union-only model is reported without a confirming Check, so this is
    the oracle for that shortcut: the listing is exactly the objects Check allows."""
    rng = random.Random(f"union-only-{seed}")
    dsl = _union_only_model(rng)
    model = parse_dsl(dsl)
    datastore = MemoryDatastore()
    store = await datastore.create_store("consistency-union-only")
    await datastore.write_model(store.id, model)
    fitting = []
    for key in _union_only_tuples(rng):
        try:
            await datastore.write(store.id, writes=[key])
        except PermsvcError:
            continue
        fitting.append(key)
    assert fitting, dsl
    resolver = ModelResolver(datastore)
    check = CheckQuery(reader=datastore, resolver=resolver)
    list_objects = ListObjectsQuery(reader=datastore, resolver=resolver)
    objects = {"document": DOCUMENTS, "folder": FOLDERS}
    for type_, candidates in objects.items():
        for relation in ("a", "b", "c"):
            for user in [*USERS, "user:*", *(f"{g}#member" for g in GROUPS)]:
                listed = (
                    await list_objects.execute(
                        ListObjectsParams(
                            store_id=store.id,
                            type=type_,
                            relation=relation,
                            user=user,
                        )
                    )
                ).objects
                expected = [
                    o
                    for o in candidates
                    if (
                        await check.execute(
                            CheckParams(
                                store_id=store.id,
                                tuple_key=TupleKey(object=o, relation=relation, user=user),
                            )
                        )
                    ).allowed
                ]
                assert listed == expected, (dsl, type_, relation, user)
