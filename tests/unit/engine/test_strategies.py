"""The evaluation strategy follows the reader: inline for in-memory reads, concurrent tasks for
readers that wait (databases). Both must give the same answers."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from permsvc.commands.check import CheckParams, CheckQuery
from permsvc.core.refs import TupleKey, parse_tuple
from permsvc.engine.errors import DeadlineExceededError
from permsvc.settings import EngineLimits
from permsvc.store.wrappers.proxy import TupleReaderProxy

MODEL = """
model
  schema 1.1
type user
type group
  relations
    define member: [user, group#member]
    define banned: [user]
    define active: member but not banned
type folder
  relations
    define parent: [folder]
    define viewer: [user, group#member] or viewer from parent
type document
  relations
    define parent: [folder]
    define approved: [group#member]
    define viewer: [user, group#member] or viewer from parent
    define can_edit: viewer and approved
"""


class _WaitingReader(TupleReaderProxy):
    """Every read yields to the event loop, as a database read would."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.inline_reads = False

    async def read_user_tuple(self, store_id: str, object: str, relation: str, user: str) -> Any:
        await asyncio.sleep(0)
        return await super().read_user_tuple(store_id, object, relation, user)

    async def read_userset_tuples(self, store_id: str, object: str, relation: str) -> Any:
        await asyncio.sleep(0)
        return await super().read_userset_tuples(store_id, object, relation)

    async def read_object_relation(self, store_id: str, object: str, relation: str) -> Any:
        await asyncio.sleep(0)
        return await super().read_object_relation(store_id, object, relation)


def _random_tuples(rng: random.Random) -> list[str]:
    tuples: set[str] = set()
    for _ in range(60):
        g, h = rng.randrange(8), rng.randrange(8)
        tuples.add(f"group:g{g}#member@user:u{rng.randrange(6)}")
        if g != h:
            tuples.add(f"group:g{g}#member@group:g{h}#member")
        tuples.add(f"group:g{g}#banned@user:u{rng.randrange(6)}")
        f, p = rng.randrange(6), rng.randrange(6)
        if f > p:
            tuples.add(f"folder:f{f}#parent@folder:f{p}")
        tuples.add(f"folder:f{f}#viewer@group:g{g}#member")
        d = rng.randrange(6)
        tuples.add(f"document:d{d}#parent@folder:f{f}")
        tuples.add(f"document:d{d}#approved@group:g{h}#member")
    return sorted(tuples)


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed_{s}") for s in range(4)])
async def test_concurrent_strategy_agrees_with_inline(make_env: Any, seed: int) -> None:
    rng = random.Random(seed)
    env = await make_env(MODEL, _random_tuples(rng))
    inline = CheckQuery(reader=env.datastore, resolver=env.resolver)
    waiting = CheckQuery(
        reader=_WaitingReader(env.datastore),
        resolver=env.resolver,
        limits=EngineLimits(max_concurrent_dispatches=3),
    )
    before = len(asyncio.all_tasks())
    for obj in [f"document:d{i}" for i in range(6)] + [f"group:g{i}" for i in range(8)]:
        relations = ("viewer", "can_edit") if obj.startswith("document") else ("member", "active")
        for relation in relations:
            for user in (f"user:u{i}" for i in range(6)):
                params = CheckParams(
                    store_id=env.store_id,
                    tuple_key=TupleKey(object=obj, relation=relation, user=user),
                )
                a = await inline.execute(params)
                b = await waiting.execute(params)
                assert (a.allowed, a.cycle_detected) == (b.allowed, b.cycle_detected), (
                    params.tuple_key
                )
    assert len(asyncio.all_tasks()) == before


async def test_first_true_cancels_the_other_branches(make_env: Any) -> None:
    tuples = [f"document:1#viewer@group:g{i}#member" for i in range(20)] + [
        "group:g0#member@user:anne"
    ]
    env = await make_env(MODEL, tuples)
    query = CheckQuery(reader=_WaitingReader(env.datastore), resolver=env.resolver)
    before = len(asyncio.all_tasks())
    outcome = await query.execute(
        CheckParams(store_id=env.store_id, tuple_key=parse_tuple("document:1#viewer@user:anne"))
    )
    assert outcome.allowed
    assert len(asyncio.all_tasks()) == before


class _HangingReader(_WaitingReader):
    """A database read that never comes back."""

    async def read_user_tuple(self, store_id: str, object: str, relation: str, user: str) -> Any:
        await asyncio.sleep(3600)
        return None


async def test_a_hanging_database_read_ends_at_the_deadline(make_env: Any) -> None:
    env = await make_env(MODEL, ["document:1#viewer@user:anne"])
    query = CheckQuery(
        reader=_HangingReader(env.datastore),
        resolver=env.resolver,
        limits=EngineLimits(check_deadline_s=0.1),
    )
    with pytest.raises(DeadlineExceededError):
        await query.execute(
            CheckParams(store_id=env.store_id, tuple_key=parse_tuple("document:1#viewer@user:anne"))
        )
