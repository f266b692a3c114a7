"""Runs OpenFGA's conformance test files (vendored in ``tests/conformance/openfga/``) against permsvc.

One test = one store; its stages run in order against that store, each writing a new model (tuples
from earlier stages stay and are ignored when they no longer fit). Two modes, as OpenFGA's own
runner (``tests/check``, ``tests/listobjects``, ``tests/listusers``):

- ``stored``: the stage's tuples are written to the store;
- ``contextual``: they are not written, but sent with every assertion as contextual tuples.
  OpenFGA skips multi-stage tests in this mode ("expectation tuples are in system"); we run them
  by sending every tuple of the stages so far that still fits the stage's model, which is what
  the stored store holds as far as evaluation can tell (stale stored tuples are ignored).

Every check / listObjects / listUsers assertion is compared (booleans, unordered sets, or the
OpenFGA error code of the error raised), and every object or user a list query returns must
check true with the same inputs (the ListObjects/ListUsers vs Check consistency oracle).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import yaml

from permsvc.commands.check import CheckParams, CheckQuery
from permsvc.commands.list_objects import ListObjectsParams, ListObjectsQuery
from permsvc.commands.list_users import ListUsersParams, ListUsersQuery, UserFilter
from permsvc.commands.models import ModelResolver
from permsvc.core.errors import PermsvcError
from permsvc.core.refs import TupleCondition, TupleKey
from permsvc.engine.errors import openfga_code
from permsvc.model.compile import parse_dsl
from permsvc.model.tuple_validation import tuple_problem, validate_tuple
from permsvc.model.typesystem import TypeSystem

__all__ = ("AssertionResult", "load_suite", "run_test")

MODES = ("stored", "contextual")


class _NoTimestampLoader(yaml.SafeLoader):
    """YAML without implicit timestamps: contexts must reach CEL as the strings the file holds."""


_NoTimestampLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class AssertionResult(msgspec.Struct, frozen=True, kw_only=True):
    """One assertion's outcome; ``problem`` is empty when it passed."""

    where: str
    problem: str = ""

    @property
    def passed(self) -> bool:
        return not self.problem


def load_suite(path: Path) -> list[dict[str, Any]]:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_NoTimestampLoader)["tests"]


def _tuple(raw: dict[str, Any]) -> TupleKey:
    cond = raw.get("condition")
    return TupleKey(
        object=str(raw.get("object", "")),
        relation=str(raw.get("relation", "")),
        user=str(raw.get("user", "")),
        condition=TupleCondition(name=cond["name"], context=cond.get("context")) if cond else None,
    )


def _code(err: BaseException) -> int:
    return openfga_code(err)[0]


def _describe(value: Any) -> str:
    if isinstance(value, list | set):
        return "[" + ", ".join(sorted(value)) + "]"
    return str(value)


class _Stage:
    def __init__(self, datastore: Any, store_id: str, mode: str, tuples: list[TupleKey]) -> None:
        resolver = ModelResolver(datastore)
        self.store_id = store_id
        self.contextual = mode == "contextual"
        self.tuples = tuples
        self.check = CheckQuery(reader=datastore, resolver=resolver)
        self.list_objects = ListObjectsQuery(reader=datastore, resolver=resolver)
        self.list_users = ListUsersQuery(reader=datastore, resolver=resolver)

    def contextual_tuples(self, assertion: dict[str, Any]) -> tuple[TupleKey, ...]:
        own = [_tuple(t) for t in assertion.get("contextualTuples") or ()]
        if self.contextual:
            own.extend(self.tuples)
        return tuple(own)

    async def checks_true(
        self, key: TupleKey, ctx_tuples: tuple[TupleKey, ...], context: Any
    ) -> str:
        try:
            outcome = await self.check.execute(
                CheckParams(
                    store_id=self.store_id,
                    tuple_key=key,
                    contextual_tuples=ctx_tuples,
                    context=context,
                )
            )
        except PermsvcError as err:
            return f"consistency: Check({key}) raised {_code(err)} {err}"
        return "" if outcome.allowed else f"consistency: listed but Check({key}) is false"

    async def run_check(self, a: dict[str, Any]) -> str:
        key = _tuple(a["tuple"])
        try:
            outcome = await self.check.execute(
                CheckParams(
                    store_id=self.store_id,
                    tuple_key=key,
                    contextual_tuples=self.contextual_tuples(a),
                    context=a.get("context"),
                )
            )
        except PermsvcError as err:
            if a.get("errorCode") == _code(err):
                return ""
            return f"Check({key}): expected {_expected(a)}, got error {_code(err)} {err}"
        if "errorCode" in a:
            return f"Check({key}): expected error {a['errorCode']}, got {outcome.allowed}"
        if outcome.allowed != bool(a.get("expectation")):
            return f"Check({key}): expected {bool(a.get('expectation'))}, got {outcome.allowed}"
        return ""

    async def run_list_objects(self, a: dict[str, Any]) -> str:
        req = a["request"]
        ctx_tuples = self.contextual_tuples(a)
        params = ListObjectsParams(
            store_id=self.store_id,
            type=req["type"],
            relation=req["relation"],
            user=req["user"],
            contextual_tuples=ctx_tuples,
            context=a.get("context"),
        )

        async def call() -> list[str]:
            return (await self.list_objects.execute(params)).objects

        return await self._compare_list(
            a,
            f"ListObjects({req['type']}#{req['relation']}@{req['user']})",
            call,
            lambda obj: TupleKey(object=obj, relation=req["relation"], user=req["user"]),
        )

    async def run_list_users(self, a: dict[str, Any]) -> str:
        req = a["request"]
        filters = tuple(
            UserFilter(type=f.partition("#")[0], relation=f.partition("#")[2])
            for f in req["filters"]
        )
        params = ListUsersParams(
            store_id=self.store_id,
            object=req["object"],
            relation=req["relation"],
            user_filters=filters,
            contextual_tuples=self.contextual_tuples(a),
            context=a.get("context"),
        )

        async def call() -> list[str]:
            return (await self.list_users.execute(params)).users

        return await self._compare_list(
            a,
            f"ListUsers({req['object']}#{req['relation']}, filter {','.join(req['filters'])})",
            call,
            lambda user: TupleKey(object=req["object"], relation=req["relation"], user=user),
        )

    async def _compare_list(
        self,
        a: dict[str, Any],
        what: str,
        call: Callable[[], Awaitable[list[str]]],
        check_key: Callable[[str], TupleKey],
    ) -> str:
        """Compare a list result with the expectation, then check every item (consistency)."""
        try:
            got = await call()
        except PermsvcError as err:
            if a.get("errorCode") == _code(err):
                return ""
            return f"{what}: expected {_expected(a)}, got error {_code(err)} {err}"
        if "errorCode" in a:
            return f"{what}: expected error {a['errorCode']}, got {_describe(got)}"
        expected = set(a.get("expectation") or ())
        if set(got) != expected or len(got) != len(set(got)):
            return f"{what}: expected {_describe(expected)}, got {_describe(got)}"
        for item in got:
            problem = await self.checks_true(
                check_key(item), self.contextual_tuples(a), a.get("context")
            )
            if problem:
                return f"{what}: {problem}"
        return ""


def _expected(a: dict[str, Any]) -> str:
    if "errorCode" in a:
        return f"error {a['errorCode']}"
    exp = a.get("expectation")
    return _describe(exp) if isinstance(exp, list) else str(bool(exp))


async def run_test(
    datastore: Any, test: dict[str, Any], mode: str, *, seed: int = 0
) -> list[AssertionResult]:
    """Run every stage of one test in one fresh store; one result per assertion.

    Tuple order is shuffled with a seeded RNG, as OpenFGA's runner shuffles its input.
    """
    rng = random.Random(f"{test['name']}:{mode}:{seed}")
    store = await datastore.create_store(test["name"])
    results: list[AssertionResult] = []
    written: list[TupleKey] = []
    for n, stage in enumerate(test["stages"]):
        model = parse_dsl(stage["model"])
        stored = await datastore.write_model(store.id, model)
        ts = TypeSystem.new(stored.model)
        tuples = [_tuple(t) for t in stage.get("tuples") or ()]
        rng.shuffle(tuples)
        if mode == "stored" and tuples:
            for key in tuples:
                validate_tuple(ts, key)
            for i in range(0, len(tuples), 100):
                await datastore.write(store.id, writes=tuples[i : i + 100])
        written.extend(tuples)
        runner = _Stage(datastore, store.id, mode, [k for k in written if not tuple_problem(ts, k)])
        for kind, run in (
            ("check", runner.run_check),
            ("listObjects", runner.run_list_objects),
            ("listUsers", runner.run_list_users),
        ):
            for i, a in enumerate(stage.get(f"{kind}Assertions") or ()):
                problem = await run(a)
                results.append(AssertionResult(where=f"stage {n} {kind} #{i}", problem=problem))
    return results
