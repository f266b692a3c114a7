"""Explanations are checked, not trusted: every witness re-verified step by step against the
store and the model, every denial against Check (``tests/conformance/explain_verify.py``).

Over OpenFGA's conformance suites (every check assertion of every stage, in both modes: tuples
stored, tuples sent as contextual tuples) and over random data on a model with every rewrite
shape (nested and cyclic groups, folder chains, wildcards, conditions, intersections and
exclusions), on every backend. Allowed explanations ask for all witnesses (up to 5) and every
one is verified. The session summary prints the counts per backend.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from permsvc.core.refs import TupleCondition, TupleKey
from permsvc.model.compile import parse_dsl
from permsvc.model.tuple_validation import tuple_problem, validate_tuple
from permsvc.model.typesystem import TypeSystem
from tests.conformance.explain_verify import verify_request
from tests.conformance.runner import MODES, _tuple, load_suite
from tests.conformance.summary import EXPLAIN_COUNTS
from tests.conftest import OPENFGA_SUITES
from tests.unit.engine.test_sync import COND, MODEL

pytestmark = pytest.mark.backends("memory", "sqlite", "postgres")
"""The database backends (as the conformance suites run on)."""

SUITES = {
    "consolidated": OPENFGA_SUITES / "consolidated_1_1_tests.yaml",
    "abac": OPENFGA_SUITES / "abac_tests.yaml",
}


def _cases() -> list[Any]:
    return [
        pytest.param(test, mode, id=f"{suite}-{test['name']}-{mode}")
        for suite, path in SUITES.items()
        for test in load_suite(path)
        for mode in MODES
    ]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("test", "mode"), _cases())
async def test_explanations_of_the_conformance_suites(
    datastore: Any, backend_name: str, test: dict[str, Any], mode: str
) -> None:
    counts = EXPLAIN_COUNTS["conformance", backend_name]
    store = await datastore.create_store(test["name"])
    written: list[TupleKey] = []
    for stage in test["stages"]:
        stored = await datastore.write_model(store.id, parse_dsl(stage["model"]))
        ts = TypeSystem.new(stored.model)
        tuples = [_tuple(t) for t in stage.get("tuples") or ()]
        if mode == "stored" and tuples:
            for key in tuples:
                validate_tuple(ts, key)
            for i in range(0, len(tuples), 100):
                await datastore.write(store.id, writes=tuples[i : i + 100])
        written.extend(tuples)
        fitting = [k for k in written if not tuple_problem(ts, k)]
        for a in stage.get("checkAssertions") or ():
            contextual = [_tuple(t) for t in a.get("contextualTuples") or ()]
            if mode == "contextual":
                contextual.extend(fitting)
            await verify_request(
                datastore,
                counts,
                store.id,
                ts,
                _tuple(a["tuple"]),
                tuple(contextual),
                a.get("context"),
            )


RANDOM_MODEL = MODEL
"""The engine's sync/async differential model (every rewrite shape), over fewer objects here."""

USERS = [f"user:u{i}" for i in range(6)]
GROUPS = [f"group:g{i}" for i in range(4)]
FOLDERS = [f"folder:f{i}" for i in range(4)]
DOCUMENTS = [f"document:d{i}" for i in range(3)]


def _random_tuples(rng: random.Random) -> list[TupleKey]:
    out: dict[tuple[str, str, str], TupleKey] = {}

    def add(obj: str, rel: str, user: str, condition: TupleCondition | None = None) -> None:
        out.setdefault(
            (obj, rel, user), TupleKey(object=obj, relation=rel, user=user, condition=condition)
        )

    for _ in range(10):
        g, h = rng.choice(GROUPS), rng.choice(GROUPS)
        add(g, "member", rng.choice(USERS), COND if rng.random() < 0.2 else None)
        if g != h:
            add(g, "member", f"{h}#member")
    add(rng.choice(GROUPS), "member", "user:*")
    add(rng.choice(GROUPS), "banned", rng.choice(USERS))
    for f in FOLDERS:
        if rng.random() < 0.6:
            add(f, "parent", rng.choice(FOLDERS))
        add(f, rng.choice(["owner", "editor", "viewer"]), rng.choice(USERS))
        add(f, "viewer", f"{rng.choice(GROUPS)}#member")
    for d in DOCUMENTS:
        add(d, "parent", rng.choice(FOLDERS))
        add(d, rng.choice(["owner", "editor", "viewer", "approved", "blocked"]), rng.choice(USERS))
        add(d, rng.choice(["approved", "blocked", "viewer"]), f"{rng.choice(GROUPS)}#member")
        add(d, "editor", f"{rng.choice(GROUPS)}#active")
        add(d, "limited", rng.choice(USERS), COND)
        if rng.random() < 0.3:
            add(d, "viewer", "user:*")
    return list(out.values())


@pytest.mark.timeout(300)
@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed_{s}") for s in range(3)])
async def test_explanations_of_random_data(datastore: Any, backend_name: str, seed: int) -> None:
    counts = EXPLAIN_COUNTS["random", backend_name]
    rng = random.Random(seed)
    store = await datastore.create_store(f"explain-{seed}")
    stored = await datastore.write_model(store.id, parse_dsl(RANDOM_MODEL))
    ts = TypeSystem.new(stored.model)
    tuples = _random_tuples(rng)
    await datastore.write(store.id, writes=tuples[:20])
    await datastore.write(store.id, writes=tuples[20:])
    # Deleted and written again: a witness names the later write.
    again = rng.sample(tuples, 5)
    await datastore.write(store.id, deletes=again)
    await datastore.write(store.id, writes=again)
    seen = {"allowed": 0, "denied": 0}
    for obj in DOCUMENTS + FOLDERS[:2]:
        otype = obj.partition(":")[0]
        relations = [r for r in ts.model.type(otype).relations]  # type: ignore[union-attr]
        for relation in relations:
            for user in USERS[:4] + ["group:g0#member"]:
                for context in (None, {"x": 3}, {"x": 30}):
                    got = await verify_request(
                        datastore,
                        counts,
                        store.id,
                        ts,
                        TupleKey(object=obj, relation=relation, user=user),
                        (),
                        context,
                    )
                    seen[got] = seen.get(got, 0) + 1
    assert seen["allowed"] and seen["denied"], seen
