"""Userset expansions (``permsvc.engine.expansion``) answer exactly as the checker would.

Every check runs three ways and must agree on the answer, the cycle flag and the error class:
through the in-memory index (its reader offers relation versions, so group hops are answered by
expansion), through the memory store (synchronous reads, no versions: hop by hop) and through a
proxy with coroutine reads only (``LocalChecker``). The data has nested, cyclic and very deep
groups (deeper than the resolution depth limit), wildcards, conditional tuples (which never fit
an expandable relation), exclusions (where a cycle and a plain false differ) and contextual tuples;
the index is changed between rounds, so expansions computed earlier must not be reused.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from permsvc.commands.check import CheckParams, CheckQuery
from permsvc.commands.models import ModelResolver
from permsvc.core.refs import TupleCondition, TupleKey, parse_tuple
from permsvc.engine import expansion
from permsvc.engine.plan import plan_for
from permsvc.engine.resolver import build_check_resolver
from permsvc.model.compile import parse_dsl
from permsvc.model.typesystem import TypeSystem
from permsvc.store.index import IndexedDatastore
from permsvc.store.memory import MemoryDatastore
from permsvc.store.wrappers.proxy import TupleReaderProxy
from tests.unit.engine.test_sync import COND, DOCUMENTS, GROUPS, USERS, _outcome

pytestmark = pytest.mark.timeout(180)

MODEL = """
model
  schema 1.1
type document
  relations
    define owner: [user]
    define viewer: [user, group#member, team#member] or owner
    define blocked: [group#member, user]
    define can_view: viewer but not blocked
    define guarded_view: [group#guarded] or viewer
type team
  relations
    define member: [user, group#member]
type group
  relations
    define member: [user, user:*, group#member, team#member]
    define guarded: [user with cond, group#member]
type user
condition cond(x: int) {
  x < 10
}
"""

TEAMS = [f"team:t{i}" for i in range(3)]
CHAIN = [f"group:c{i}" for i in range(30)]
"""Nested 30 deep: a check through the top of it exceeds the depth limit (25)."""


def _tuples(rng: random.Random) -> list[TupleKey]:
    """Random groups, teams and documents, the 30-deep chain and a public group."""
    groups = [f"{g}#member" for g in GROUPS]
    principals = [*USERS, *groups, *(f"{t}#member" for t in TEAMS)]
    rows: list[tuple[str, str, str, TupleCondition | None]] = []
    for _ in range(10):
        g, h = rng.sample(GROUPS, 2)
        rows += [(g, "member", rng.choice(USERS), None), (g, "guarded", rng.choice(USERS), COND)]
        rows += [(g, "member", f"{h}#member", None)] if rng.random() < 0.6 else []
        rows += [(g, "member", f"{rng.choice(TEAMS)}#member", None)] if rng.random() < 0.3 else []
        rows.append((rng.choice(TEAMS), "member", rng.choice([*USERS, *groups]), None))
        d = rng.choice(DOCUMENTS)
        rows += [
            (d, "viewer", rng.choice(principals), None),
            (d, "blocked", rng.choice(groups), None),
            (d, "guarded_view", f"{rng.choice(GROUPS)}#guarded", None),
            (d, "owner", rng.choice(USERS), None),
        ]
    rows += [
        (upper, "member", f"{lower}#member", None) for upper, lower in itertools.pairwise(CHAIN)
    ]
    rows += [
        (CHAIN[-1], "member", "user:u0", None),
        (CHAIN[5], "member", "user:u1", None),
        ("group:g5", "member", "user:*", None),
        ("document:d3", "viewer", f"{CHAIN[0]}#member", None),
        ("document:d2", "viewer", f"{CHAIN[20]}#member", None),
    ]
    unique: dict[tuple[str, str, str], TupleKey] = {}
    for obj, rel, user, condition in rows:
        unique.setdefault(
            (obj, rel, user), TupleKey(object=obj, relation=rel, user=user, condition=condition)
        )
    return list(unique.values())


def _queries(
    datastore: MemoryDatastore, indexed: IndexedDatastore, resolver: ModelResolver | None = None
) -> list[CheckQuery]:
    resolver = resolver or ModelResolver(datastore)
    return [
        CheckQuery(reader=reader, resolver=resolver, checker=build_check_resolver(cache_size=0))
        for reader in (indexed, datastore, TupleReaderProxy(datastore))
    ]


async def _compare_all(
    store_id: str, queries: list[CheckQuery], contextual: tuple[TupleKey, ...] = ()
) -> dict[Any, int]:
    users = [*USERS, "user:*", "user:u9", *(f"{g}#member" for g in GROUPS[:2])]
    seen: dict[Any, int] = {}
    targets = [(g, "member") for g in GROUPS + CHAIN[:3] + TEAMS] + [
        (d, r) for d in DOCUMENTS for r in ("viewer", "can_view", "guarded_view")
    ]
    for obj, relation in targets:
        for user in users:
            for context in (None, {"x": 1}):
                params = CheckParams(
                    store_id=store_id,
                    tuple_key=TupleKey(object=obj, relation=relation, user=user),
                    context=context,
                    contextual_tuples=contextual,
                )
                outcomes = [await _outcome(q, params) for q in queries]
                assert outcomes[0] == outcomes[1] == outcomes[2], (
                    obj,
                    relation,
                    user,
                    context,
                    outcomes,
                )
                seen[outcomes[0]] = seen.get(outcomes[0], 0) + 1
    return seen


def test_plan_marks_only_pure_unconditional_usersets_expandable() -> None:
    plan = plan_for(TypeSystem.new(parse_dsl(MODEL)))
    groups = {key: rp.expansion_group for key, rp in plan.relations.items()}
    assert groups[("group", "member")] == (("group", "member"), ("team", "member"))
    assert groups[("team", "member")] == (("group", "member"), ("team", "member"))
    assert groups[("group", "guarded")] == ()  # admits a conditional user
    assert groups[("document", "viewer")] == ()  # a union
    assert groups[("document", "blocked")] == (
        ("document", "blocked"),
        ("group", "member"),
        ("team", "member"),
    )


@pytest.mark.parametrize(
    "bound", [pytest.param(None, id="default_bound"), pytest.param(3, id="tiny_bound")]
)
@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed_{s}") for s in range(3)])
async def test_expansions_agree_with_the_checker(
    seed: int, bound: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if bound is not None:  # most nodes too big to expand: the checker evaluates them instead
        monkeypatch.setattr(expansion, "MAX_EXPANSION_TUPLES", bound)
    rng = random.Random(seed)
    datastore = MemoryDatastore()
    store_id = (await datastore.create_store("expansion")).id
    await datastore.write_model(store_id, parse_dsl(MODEL))
    await datastore.write(store_id, writes=_tuples(rng))
    indexed = IndexedDatastore(datastore)
    await indexed.start()
    try:
        assert indexed.mode(store_id) == "index"
        resolver = ModelResolver(datastore)
        queries = _queries(datastore, indexed, resolver)
        seen = await _compare_all(store_id, queries)
        assert seen.get((True, False)) and seen.get((False, False))
        assert seen.get(("error", "ResolutionDepthExceededError")), seen
        typesystem = await resolver.resolve(store_id, "")
        tables = plan_for(typesystem).expansions
        assert any(table.nodes for table in tables.values()), "no hop was answered by expansion"

        # Changes after expansions were computed: a new nesting (possibly a cycle), a removal and
        # a wildcard; the index follows them and no earlier expansion may answer.
        changes = [
            TupleKey(object="group:g0", relation="member", user="group:g1#member"),
            TupleKey(object="group:g1", relation="member", user="group:g0#member"),
            TupleKey(object="team:t0", relation="member", user="user:u5"),
        ]
        fresh = [
            k
            for k in changes
            if await datastore.read_user_tuple(store_id, k.object, k.relation, k.user) is None
        ]
        await indexed.write(store_id, writes=fresh)
        await indexed.write(
            store_id, deletes=[parse_tuple(f"{CHAIN[10]}#member@{CHAIN[11]}#member")]
        )
        seen = await _compare_all(store_id, queries)
        assert seen.get((True, False)) and seen.get((False, False))

        # Contextual tuples: the overlay offers no versions, so hops are evaluated one by one.
        contextual = (
            TupleKey(object="group:g2", relation="member", user="user:u9"),
            TupleKey(object="group:g3", relation="member", user="group:g2#member"),
        )
        await _compare_all(store_id, queries, contextual)
    finally:
        await indexed.aclose()


async def test_a_cycle_below_a_group_is_reported_as_the_checker_reports_it() -> None:
    datastore = MemoryDatastore()
    store_id = (await datastore.create_store("expansion-cycle")).id
    await datastore.write_model(store_id, parse_dsl(MODEL))
    await datastore.write(
        store_id,
        writes=[
            parse_tuple("group:a#member@group:b#member"),
            parse_tuple("group:b#member@group:a#member"),
            parse_tuple("group:b#member@user:u1"),
            parse_tuple("document:d#viewer@user:u2"),
            parse_tuple("document:d#blocked@group:a#member"),
        ],
    )
    indexed = IndexedDatastore(datastore)
    await indexed.start()
    try:
        queries = _queries(datastore, indexed)
        for tuple_str, expected in (
            (
                "document:d#can_view@user:u2",
                (False, True),
            ),  # blocked: a cycle, so not "not blocked"
            ("document:d#can_view@user:u1", (False, False)),
            ("group:a#member@user:u1", (True, False)),
            ("group:a#member@user:u3", (False, True)),
        ):
            params = CheckParams(store_id=store_id, tuple_key=parse_tuple(tuple_str))
            assert [await _outcome(q, params) for q in queries] == [expected] * 3, tuple_str
    finally:
        await indexed.aclose()
