"""Differential testing of conditions: permsvc against OpenFGA's own engine (``fga model test``).

A seeded generator (:class:`Generator`) writes conditions over every OpenFGA parameter type and a
few contexts for each: operators, functions, macros, conversions, null comparisons, overflow,
division by zero, short-circuits around errors, time zones, costly expressions and wrong-typed
or missing context values. Each case is one conditional tuple ``doc:<case>#r_<i>@user:1`` (its
persisted context, if any) and one Check of it with the request context.

Both engines get the same model JSON, tuples and checks:

- OpenFGA: conditions it might accept are batched 25 to a model (OpenFGA's limit), many models
  (test files) to one ``fga model test`` invocation; a condition permsvc refuses gets a test file
  of its own, as a refused model stops the invocation.
- permsvc: ``WriteAuthorizationModelCommand`` (the write-time refusal), the store's write, and
  ``CheckQuery`` on a memory datastore.

Each case's conclusion is compared (:class:`Verdict`): model refused (error code, and the first
line of the message unless it is a grammar error, whose ANTLR wording permsvc does not copy),
allowed, denied, or check error (the same OpenFGA code and the same message).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import subprocess
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgspec

from permsvc.commands.check import CheckParams, CheckQuery
from permsvc.commands.models import ModelResolver, WriteAuthorizationModelCommand
from permsvc.core.errors import PermsvcError
from permsvc.core.refs import TupleCondition, TupleKey
from permsvc.engine.errors import openfga_code
from permsvc.model.tuple_validation import validate_tuple
from permsvc.model.typesystem import TypeSystem
from permsvc.store.memory import MemoryDatastore

__all__ = (
    "KNOWN_DIFFERENCES",
    "Case",
    "Generator",
    "Spec",
    "Verdict",
    "compare",
    "run_openfga",
    "run_permsvc",
)

MAX_CONDITIONS_PER_MODEL = 25
"""OpenFGA refuses a model with more conditions (``WriteAuthorizationModelRequest.Conditions``)."""


class Case(msgspec.Struct, frozen=True, kw_only=True):
    """One tuple and one Check of it."""

    id: int
    persisted: dict[str, Any] | None = None
    request: dict[str, Any] | None = None


class Spec(msgspec.Struct, frozen=True, kw_only=True):
    """One condition and its cases."""

    id: int
    expression: str
    params: dict[str, str]
    cases: tuple[Case, ...]

    @property
    def name(self) -> str:
        return f"c_{self.id}"


class Verdict(msgspec.Struct, frozen=True):
    """``kind`` is ``refused`` (model write), ``allowed``, ``denied`` or ``error`` (Check)."""

    kind: str
    code: int = 0
    message: str = ""


# ---------------------------------------------------------------------------------------------
# The generator

SCALARS = ("bool", "string", "int", "uint", "double", "duration", "timestamp", "ipaddress")
_COMPARABLE = ("bool", "string", "int", "uint", "double", "duration", "timestamp")
_NUMERIC = ("int", "uint", "double")
_TIME_ZONES = (
    '"UTC"', '"America/New_York"', '"Asia/Kolkata"', '"Europe/Berlin"', '"+05:30"', '"-08:00"',
    '"Australia/Lord_Howe"', '"Mars/Olympus"', '""', '"02:00"',
)  # fmt: skip
_TIME_GETTERS = (
    "getFullYear", "getMonth", "getDayOfYear", "getDayOfMonth", "getDate", "getDayOfWeek",
    "getHours", "getMinutes", "getSeconds", "getMilliseconds",
)  # fmt: skip
_LITERALS: dict[str, tuple[str, ...]] = {
    "bool": ("true", "false"),
    "string": ('"a"', '"abc"', '"ops-1"', '""', '"héllo"', "'x\\ty'", 'r"\\d+"', '"192.168.0.1"'),
    "int": ("0", "1", "2", "-1", "7", "42", "-100", "1000000", "9223372036854775807",
            "-9223372036854775808", "0x10"),
    "uint": ("0u", "1u", "3u", "42u", "18446744073709551615u"),
    "double": ("0.0", "1.5", "-2.25", "1e308", "3.0", "0.1", "-0.0", "2.5e-3"),
    "duration": ('duration("1h")', 'duration("30m")', 'duration("-1s")', 'duration("1.5s")',
                 'duration("0s")', 'duration("2562047h")', 'duration("1h30m15s")'),
    "timestamp": ('timestamp("2024-01-01T00:00:00Z")', 'timestamp("2023-06-15T12:30:00+02:00")',
                  'timestamp("9999-12-31T23:59:59Z")', 'timestamp("0001-01-01T00:00:00Z")',
                  "timestamp(0)", "timestamp(1700000000)",
                  'timestamp("2024-02-29T23:59:59.999Z")'),
    "ipaddress": ('ipaddress("192.168.0.1")', 'ipaddress("::1")', 'ipaddress("10.0.0.1")',
                  'ipaddress("2001:db8::1")'),
}  # fmt: skip
_BAD_LITERALS = (
    'duration("1d")', 'timestamp("2024-13-01T00:00:00Z")', 'ipaddress("300.1.1.1")', "1 / 0",
    'int("x")', "9223372036854775807 + 1", '"a".matches("(")', 'timestamp("2024-01-01")',
)  # fmt: skip
_CIDRS = ('"192.168.0.0/24"', '"10.0.0.0/8"', '"::1/128"', '"2001:db8::/32"', '"0.0.0.0/0"',
          '"::ffff:10.0.0.0/104"', '"192.168.0.1"', '"10.0.0.0/33"')  # fmt: skip
_REGEXES = ('"^ops-"', '"a+"', '"^[a-z]+$"', '"\\\\d"', '""', '"(a|b)c"')

_CONTEXT_VALUES: dict[str, tuple[Any, ...]] = {
    "bool": (True, False),
    "string": ("", "a", "abc", "ops-1", "héllo", "192.168.0.1", "x" * 70, "ab" * 200, "true"),
    "int": (0, 1, 2, -1, 5, 42, -100, 9007199254740993, 9223372036854775807, 1.0, "17", "-3",
            -9223372036854775808, 1e20),
    "uint": (0, 1, 3, 42, 18446744073709551615, "7", 2.0),
    "double": (0.0, 0.5, -1.25, 3, 1e308, 2.5e-3, "1.5", "NaN"),
    "duration": ("1h", "30m", "1h30m", "-5s", "1.5s", "0s", "0", "2562047h", "1ms", "1us"),
    "timestamp": ("2024-01-01T00:00:00Z", "2024-03-10T07:30:00-05:00", "1970-01-01T00:00:00Z",
                  "2023-12-31T23:59:59.999999999Z", "9999-12-31T23:59:59Z",
                  "2024-06-30T23:00:00+05:45"),
    "ipaddress": ("192.168.0.1", "10.1.2.3", "::1", "2001:db8::1", "::ffff:10.0.0.1",
                  "192.168.0.255"),
}  # fmt: skip
_WRONG_VALUES = (
    123, "abc", True, None, [1], {"a": 1}, 1.5, "-1", "", "1e3", "2024-01-01", "1x", -1,
    "300.1.1.1", "Infinity", [None], {"a": None},
)  # fmt: skip


class Generator:
    """Seeded random conditions; the same seed gives the same specs."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.next_case = 0

    def specs(self, count: int, *, start: int = 0) -> list[Spec]:
        return [self.spec(start + i) for i in range(count)]

    def spec(self, spec_id: int) -> Spec:
        rng = self.rng
        params: dict[str, str] = {}
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            params[f"p{len(params)}"] = self._param_type()
        self.vars = dict(params)
        self.ill = rng.random() < 0.10  # plant one mistake: a refused model, mostly
        self.planted = False
        expression = self.expr("bool", rng.choice((1, 2, 2, 3, 3, 4)))
        if self.ill and not self.planted:
            expression = f"{expression} && {self._mistake()}"
        cases = tuple(self._case(params) for _ in range(rng.choice((3, 4, 4, 5))))
        return Spec(id=spec_id, expression=expression, params=params, cases=cases)

    def _param_type(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.15:
            return f"list<{rng.choice(SCALARS)}>"
        if roll < 0.25:
            return f"map<{rng.choice(SCALARS)}>"
        if roll < 0.27:
            return "any"
        return rng.choice(SCALARS)

    # -- expressions -------------------------------------------------------------------------

    def _var(self, t: str) -> str | None:
        names = [n for n, vt in self.vars.items() if vt == t]
        return self.rng.choice(names) if names else None

    def _mistake(self) -> str:
        self.planted = True
        rng = self.rng
        return rng.choice((
            "p0 + true > 1", "undefined_var == 1", "unknown_fn(1)", '"a" < 1', "1 + 1u == 2",
            "size(1) == 1", '[1, 2][0] == "a"', "(1 == 1", "1 < 1.5", "{1: 2}.x == 2",
            "p0.foo()", '"a".in_cidr("1.0.0.0/8")', "int(true) == 1",
            "'abc'", "1", "x.all(y, y)", '"a" in "abc"', "dyn(1) < dyn(true)",
            rng.choice(_BAD_LITERALS) + " != null",
        ))  # fmt: skip

    def expr(self, t: str, depth: int) -> str:
        rng = self.rng
        if self.ill and not self.planted and rng.random() < 0.15:
            return self._mistake()
        var = self._var(t)
        if depth <= 0 or rng.random() < 0.2:
            if var is not None and rng.random() < 0.75:
                return var
            return self.literal(t)
        maker = getattr(self, f"_{t}", None) if "<" not in t else None
        if t.startswith("list<"):
            return self._list(t[5:-1], depth)
        if t.startswith("map<"):
            return self._map(t[4:-1], depth)
        if maker is None:
            return var or self.literal(t)
        return maker(depth - 1)

    def literal(self, t: str) -> str:
        rng = self.rng
        if t.startswith("list<"):
            inner = t[5:-1]
            return "[" + ", ".join(self.literal(inner) for _ in range(rng.randint(0, 3))) + "]"
        if t.startswith("map<"):
            inner = t[4:-1]
            keys = rng.sample(("a", "b", "k", "tier"), rng.randint(0, 2))
            return "{" + ", ".join(f'"{k}": {self.literal(inner)}' for k in keys) + "}"
        if t == "any":
            return self.literal(rng.choice(SCALARS[:5]))
        return rng.choice(_LITERALS[t])

    def _sub(self, t: str, depth: int) -> str:
        text = self.expr(t, depth)
        if text.startswith("-") or " " in text:
            return f"({text})"
        return text

    def _bool(self, d: int) -> str:
        rng = self.rng
        roll = rng.randrange(20)
        if roll < 5:
            t = rng.choice(_COMPARABLE)
            op = rng.choice(("<", "<=", ">", ">=", "==", "!=") if t != "bool" else ("==", "!="))
            return f"{self._sub(t, d)} {op} {self._sub(t, d)}"
        if roll < 8:
            op = rng.choice(("&&", "||"))
            return f"{self._sub('bool', d)} {op} {self._sub('bool', d)}"
        if roll == 8:
            return f"!{self._sub('bool', d)}"
        if roll == 9:
            method = rng.choice(("startsWith", "endsWith", "contains", "matches"))
            arg = rng.choice(_REGEXES) if method == "matches" else self._sub("string", d)
            return f"{self._sub('string', d)}.{method}({arg})"
        if roll == 10:
            t = rng.choice(("int", "string", "double", "uint", "bool"))
            return f"{self._sub(t, d)} in {self._sub(f'list<{t}>', d)}"
        if roll == 11:
            return f"{self._sub('string', d)} in {self._sub('map<' + rng.choice(SCALARS) + '>', d)}"
        if roll == 12:
            return self._macro_bool(d)
        if roll == 13:
            m = self._var_like("map<")
            if m is not None:
                return f"has({m}.{rng.choice(('a', 'k', 'tier'))})"
            return f"{self._sub('ipaddress', d)}.in_cidr({rng.choice(_CIDRS)})"
        if roll == 14:
            return f"{self._sub('ipaddress', d)}.in_cidr({rng.choice(_CIDRS)})"
        if roll == 15:
            t = rng.choice(("duration", "timestamp", "ipaddress", "any"))
            if self._var(t) is None and rng.random() < 0.5:
                t = rng.choice(SCALARS)  # mostly refused: null compares only with message types
            return f"{self._sub(t, d)} {rng.choice(('==', '!='))} null"
        if roll == 16:
            a, b = rng.sample(("int", "uint", "double", "string"), 2)
            return f"dyn({self.expr(a, d)}) {rng.choice(('==', '!=', '<', '>='))} {self._sub(b, d)}"
        if roll == 17:
            return f"{self._sub('bool', d)} ? {self._sub('bool', d)} : {self._sub('bool', d)}"
        if roll == 18:
            return f"size({self._sub(rng.choice(('string', 'list<int>', 'map<string>')), d)}) > {rng.randint(0, 4)}"
        return f"bool({self._sub('string', d)})"

    def _var_like(self, prefix: str) -> str | None:
        names = [n for n, t in self.vars.items() if t.startswith(prefix)]
        return self.rng.choice(names) if names else None

    def _macro_bool(self, d: int) -> str:
        rng = self.rng
        t = rng.choice(("int", "string", "double", "duration"))
        source = self._var_like("list<") or self._var_like("map<")
        if source is not None and rng.random() < 0.7:
            t = self.vars[source][self.vars[source].index("<") + 1 : -1]
            if self.vars[source].startswith("map<"):
                t = "string"
        else:
            source = self._sub(f"list<{t}>", d)
        var = f"v{len(self.vars)}"
        self.vars[var] = t
        body = self.expr("bool", d)
        del self.vars[var]
        macro = rng.choice(("all", "exists", "exists_one"))
        return f"{source}.{macro}({var}, {body})"

    def _int(self, d: int) -> str:
        rng = self.rng
        roll = rng.randrange(12)
        if roll < 4:
            op = rng.choice(("+", "-", "*", "/", "%"))
            return f"{self._sub('int', d)} {op} {self._sub('int', d)}"
        if roll == 4:
            return f"-{self._sub('int', d)}"
        if roll == 5:
            return f"size({self._sub(rng.choice(('string', 'list<string>', 'map<int>')), d)})"
        if roll == 6:
            return f"int({self._sub(rng.choice(('double', 'uint', 'string', 'timestamp')), d)})"
        if roll == 7:
            getter = rng.choice(_TIME_GETTERS)
            tz = rng.choice(_TIME_ZONES) if rng.random() < 0.5 else ""
            return f"{self._sub('timestamp', d)}.{getter}({tz})"
        if roll == 8:
            getter = rng.choice(("getHours", "getMinutes", "getSeconds", "getMilliseconds"))
            return f"{self._sub('duration', d)}.{getter}()"
        if roll == 9:
            return f"{self._sub('list<int>', d)}[{rng.choice(('0', '1', '-1', '3', '1u', 'p0'))}]"
        if roll == 10:
            return f'{self._sub("map<int>", d)}["{rng.choice(("a", "k", "zz"))}"]'
        return f"{self._sub('bool', d)} ? {self._sub('int', d)} : {self._sub('int', d)}"

    def _uint(self, d: int) -> str:
        rng = self.rng
        roll = rng.randrange(6)
        if roll < 3:
            op = rng.choice(("+", "-", "*", "/", "%"))
            return f"{self._sub('uint', d)} {op} {self._sub('uint', d)}"
        if roll == 3:
            return f"uint({self._sub(rng.choice(('int', 'double', 'string')), d)})"
        if roll == 4:
            return f"{self._sub('list<uint>', d)}[{rng.choice(('0', '1'))}]"
        return f"{self._sub('bool', d)} ? {self._sub('uint', d)} : {self._sub('uint', d)}"

    def _double(self, d: int) -> str:
        rng = self.rng
        roll = rng.randrange(6)
        if roll < 3:
            op = rng.choice(("+", "-", "*", "/"))
            return f"{self._sub('double', d)} {op} {self._sub('double', d)}"
        if roll == 3:
            return f"-{self._sub('double', d)}"
        if roll == 4:
            return f"double({self._sub(rng.choice(('int', 'uint', 'string')), d)})"
        return f'{self._sub("map<double>", d)}["{rng.choice(("a", "b"))}"]'

    def _string(self, d: int) -> str:
        rng = self.rng
        roll = rng.randrange(6)
        if roll < 2:
            return f"{self._sub('string', d)} + {self._sub('string', d)}"
        if roll < 4:
            t = rng.choice(("int", "uint", "double", "bool", "duration", "timestamp", "string"))
            return f"string({self._sub(t, d)})"
        if roll == 4:
            return f'{self._sub("map<string>", d)}["{rng.choice(("a", "tier"))}"]'
        return f"{self._sub('list<string>', d)}[0]"

    def _duration(self, d: int) -> str:
        rng = self.rng
        roll = rng.randrange(5)
        if roll == 0:
            return f"{self._sub('duration', d)} + {self._sub('duration', d)}"
        if roll == 1:
            return f"{self._sub('duration', d)} - {self._sub('duration', d)}"
        if roll == 2:
            return f"{self._sub('timestamp', d)} - {self._sub('timestamp', d)}"
        if roll == 3:
            return f"duration({self._sub('string', d)})"
        return rng.choice(_LITERALS["duration"])

    def _timestamp(self, d: int) -> str:
        rng = self.rng
        roll = rng.randrange(5)
        if roll == 0:
            return f"{self._sub('timestamp', d)} + {self._sub('duration', d)}"
        if roll == 1:
            return f"{self._sub('timestamp', d)} - {self._sub('duration', d)}"
        if roll == 2:
            return f"timestamp({self._sub('string', d)})"
        if roll == 3:
            return f"timestamp({self._sub('int', d)})"
        return rng.choice(_LITERALS["timestamp"])

    def _ipaddress(self, d: int) -> str:
        if self.rng.random() < 0.5:
            return f"ipaddress({self._sub('string', d)})"
        return self.rng.choice(_LITERALS["ipaddress"])

    def _list(self, inner: str, d: int) -> str:
        rng = self.rng
        roll = rng.randrange(5)
        if roll == 0:
            return f"{self._sub(f'list<{inner}>', d)} + {self._sub(f'list<{inner}>', d)}"
        if roll in (1, 2):
            var = f"v{len(self.vars)}"
            self.vars[var] = inner
            try:
                if roll == 1:
                    return f"{self._sub(f'list<{inner}>', d)}.filter({var}, {self.expr('bool', d)})"
                return f"{self._sub(f'list<{inner}>', d)}.map({var}, {self.expr(inner, d)})"
            finally:
                del self.vars[var]
        if roll == 3:
            return "[" + ", ".join(self.expr(inner, d) for _ in range(rng.randint(1, 3))) + "]"
        return self.literal(f"list<{inner}>")

    def _map(self, inner: str, d: int) -> str:
        keys = self.rng.sample(("a", "b", "k", "tier"), self.rng.randint(1, 2))
        return "{" + ", ".join(f'"{k}": {self.expr(inner, d)}' for k in keys) + "}"

    # -- contexts ----------------------------------------------------------------------------

    def value(self, t: str, *, wrong: float = 0.06) -> Any:
        """A context value of type ``t``; with probability ``wrong`` (at every level) one that
        does not convert."""
        rng = self.rng
        if rng.random() < wrong:
            return rng.choice(_WRONG_VALUES)
        if t.startswith("list<"):
            inner = t[5:-1]
            n = rng.choice((0, 1, 2, 3, 4, 40)) if rng.random() < 0.9 else rng.randint(60, 120)
            return [self.value(inner, wrong=wrong / 4) for _ in range(n)]
        if t.startswith("map<"):
            inner = t[4:-1]
            keys = rng.sample(("a", "b", "k", "tier", "zz"), rng.randint(0, 4))
            return {k: self.value(inner, wrong=wrong) for k in keys}
        if t == "any":
            return self.value(rng.choice(("bool", "string", "int", "double")), wrong=0)
        value = rng.choice(_CONTEXT_VALUES[t])
        if wrong == 0 and not _converts(t, value):
            return _CONTEXT_VALUES[t][0]
        return value

    def _case(self, params: dict[str, str]) -> Case:
        rng = self.rng
        request: dict[str, Any] = {}
        persisted: dict[str, Any] = {}
        for name, t in params.items():
            roll = rng.random()
            if roll < 0.06:
                continue  # missing
            if roll < 0.25:
                # Persisted on the tuple (a different request value for it must lose). Always
                # well-typed: OpenFGA refuses the tuple write otherwise, and so does permsvc.
                persisted[name] = self.value(t, wrong=0)
                if rng.random() < 0.5:
                    request[name] = self.value(t)
                continue
            request[name] = self.value(t)
        if rng.random() < 0.05:
            request["unrelated"] = "ignored"
        case = Case(id=self.next_case, persisted=persisted or None, request=request or None)
        self.next_case += 1
        return case


def _converts(t: str, value: Any) -> bool:
    """Whether a scalar context value converts to ``t`` (some listed values are edge cases that
    OpenFGA refuses, such as ``1e20`` for an int)."""
    from permsvc.model.conditions import ConditionEvaluationError, compile_condition
    from permsvc.model.schema import Condition, ConditionParam

    compiled = compile_condition(
        Condition(name="probe", expression="true",
                  parameters={"x": ConditionParam(type_name=f"TYPE_NAME_{t.upper()}")})
    )  # fmt: skip
    try:
        compiled.convert_context({"x": value})
    except ConditionEvaluationError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# One store file per batch of specs


def _param_json(t: str) -> dict[str, Any]:
    if "<" in t:
        outer, _, rest = t.partition("<")
        return {
            "type_name": f"TYPE_NAME_{outer.upper()}",
            "generic_types": [_param_json(rest[:-1])],
        }
    return {"type_name": f"TYPE_NAME_{t.upper()}"}


def model_json(specs: list[Spec]) -> dict[str, Any]:
    relations = {f"r_{s.id}": {"this": {}} for s in specs}
    metadata = {
        f"r_{s.id}": {"directly_related_user_types": [{"type": "user", "condition": s.name}]}
        for s in specs
    }
    return {
        "schema_version": "1.1",
        "type_definitions": [
            {"type": "user"},
            {"type": "doc", "relations": relations, "metadata": {"relations": metadata}},
        ],
        "conditions": {
            s.name: {
                "name": s.name,
                "expression": s.expression,
                "parameters": {k: _param_json(v) for k, v in s.params.items()},
            }
            for s in specs
        },
    }


def _tuple_json(spec: Spec, case: Case) -> dict[str, Any]:
    condition: dict[str, Any] = {"name": spec.name}
    if case.persisted is not None:
        condition["context"] = case.persisted
    return {"user": "user:1", "relation": f"r_{spec.id}", "object": f"doc:{case.id}",
            "condition": condition}  # fmt: skip


def _store_file(specs: list[Spec], model_file: str) -> dict[str, Any]:
    tuples = [_tuple_json(s, c) for s in specs for c in s.cases]
    checks = []
    for s in specs:
        for c in s.cases:
            check: dict[str, Any] = {"user": "user:1", "object": f"doc:{c.id}",
                                     "assertions": {f"r_{s.id}": True}}  # fmt: skip
            if c.request is not None:
                check["context"] = c.request
            checks.append(check)
    return {"model_file": model_file, "tuples": tuples, "tests": [{"name": "t", "check": checks}]}


# ---------------------------------------------------------------------------------------------
# OpenFGA

_RESULT = re.compile(
    r"object=doc:(\d+)[,)].*?: expected=true, got=(true|false|N/A)"
    r"(?:, error=rpc error: code = Code\((\d+)\) desc = (.*))?$"
)
_REFUSED = re.compile(
    r"^Error: error running tests for (\S+) due to rpc error: "
    r"code = (?:Code\((\d+)\)|(InvalidArgument)) desc = (.*)",
    re.DOTALL,
)
_FIRST_CASE = re.compile(r"doc:(\d+)")


def _fga_run(fga: str, workdir: Path, files: list[str]) -> str:
    pattern = files[0] if len(files) == 1 else "batch_*.fga.yaml"
    proc = subprocess.run(
        [fga, "model", "test", "--tests", pattern],
        capture_output=True, text=True, timeout=600, cwd=workdir, check=False,
    )  # fmt: skip
    return proc.stdout + proc.stderr


def _fga_group(fga: str, specs: list[Spec], single: bool) -> dict[int, Verdict]:
    """Verdicts of one group of specs: batched (all in one invocation, refusals split off and
    re-run), or one spec per invocation."""
    verdicts: dict[int, Verdict] = {}
    with tempfile.TemporaryDirectory(prefix="fga_diff_") as tmp:
        workdir = Path(tmp)
        pending = list(specs)
        while pending:
            for old in workdir.glob("batch_*"):
                old.unlink()
            batches = (
                [[s] for s in pending[:1]]
                if single
                else [pending[i : i + MAX_CONDITIONS_PER_MODEL]
                      for i in range(0, len(pending), MAX_CONDITIONS_PER_MODEL)]
            )  # fmt: skip
            names = []
            for n, batch in enumerate(batches):
                (workdir / f"batch_{n}.json").write_text(json.dumps(model_json(batch)))
                name = f"batch_{n}.fga.yaml"
                (workdir / name).write_text(json.dumps(_store_file(batch, f"batch_{n}.json")))
                names.append(name)
            output = _fga_run(fga, workdir, names)
            refused = _REFUSED.search(output)
            if refused:
                message = refused.group(4).strip()
                # gRPC InvalidArgument (a request validation rule) is OpenFGA's validation_error.
                code = int(refused.group(2)) if refused.group(2) else 2000
                found = re.search(r"condition '(c_\d+)'|Conditions\[(c_\d+)\]", message)
                named = (found.group(1) or found.group(2)) if found else None
                batch = batches[names.index(Path(refused.group(1)).name)]
                culprit = next((s for s in batch if s.name == named), batch[0])
                if len(batch) > 1 and named is None:
                    raise AssertionError(
                        f"fga refused a batch without naming a condition:\n{output}"
                    )
                for case in culprit.cases:
                    verdicts[case.id] = Verdict("refused", code, message)
                pending.remove(culprit)
                continue
            if "# Test Summary #" not in output:
                raise AssertionError(f"fga model test did not run:\n{output[:4000]}")
            failures: dict[int, Verdict] = {}
            for line in output.splitlines():
                m = _RESULT.search(line)
                if m is None:
                    continue
                case_id = int(m.group(1))
                if m.group(2) == "false":
                    failures[case_id] = Verdict("denied")
                elif m.group(2) == "N/A":
                    failures[case_id] = Verdict("error", int(m.group(3) or 0), m.group(4) or "")
                else:
                    raise AssertionError(line)
            done = batches[0] if single else pending
            for spec in done:
                for case in spec.cases:
                    verdicts[case.id] = failures.get(case.id, Verdict("allowed"))
            pending = pending[1:] if single else []
    return verdicts


def run_openfga(
    fga: str, specs: list[Spec], accepted: set[int], *, workers: int = 2
) -> dict[int, Verdict]:
    """Case id -> OpenFGA's verdict. ``accepted``: spec ids permsvc accepts (batched together;
    the others each run alone, since a refused model stops an invocation)."""
    batched = [s for s in specs if s.id in accepted]
    alone = [s for s in specs if s.id not in accepted]
    chunks: list[tuple[list[Spec], bool]] = []
    size = max(MAX_CONDITIONS_PER_MODEL, -(-len(batched) // workers))
    for i in range(0, len(batched), size):
        chunks.append((batched[i : i + size], False))
    for i in range(0, len(alone), 20):
        chunks.append((alone[i : i + 20], True))
    verdicts: dict[int, Verdict] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(lambda c: _fga_group(fga, c[0], c[1]), chunks):
            verdicts.update(result)
    return verdicts


# ---------------------------------------------------------------------------------------------
# permsvc


async def _permsvc_batch(specs: list[Spec]) -> dict[int, Verdict]:
    datastore = MemoryDatastore()
    store = await datastore.create_store("differential")
    write_model = WriteAuthorizationModelCommand(models=datastore)
    try:
        stored = await write_model.execute(store.id, model_json(specs))
    except PermsvcError as err:
        verdict = Verdict("refused", openfga_code(err)[0], str(err))
        return {c.id: verdict for s in specs for c in s.cases}
    typesystem = TypeSystem.new(stored.model)
    keys = []
    for spec in specs:
        for case in spec.cases:
            key = TupleKey(
                object=f"doc:{case.id}",
                relation=f"r_{spec.id}",
                user="user:1",
                condition=TupleCondition(name=spec.name, context=case.persisted),
            )
            validate_tuple(typesystem, key)
            keys.append(key)
    for i in range(0, len(keys), 100):
        await datastore.write(store.id, writes=keys[i : i + 100])
    check = CheckQuery(reader=datastore, resolver=ModelResolver(datastore))
    verdicts: dict[int, Verdict] = {}
    for spec in specs:
        for case in spec.cases:
            params = CheckParams(
                store_id=store.id,
                tuple_key=TupleKey(object=f"doc:{case.id}", relation=f"r_{spec.id}", user="user:1"),
                context=case.request,
            )
            try:
                outcome = await check.execute(params)
            except PermsvcError as err:
                verdicts[case.id] = Verdict("error", openfga_code(err)[0], str(err))
                continue
            verdicts[case.id] = Verdict("allowed" if outcome.allowed else "denied")
    return verdicts


def run_permsvc(specs: list[Spec]) -> tuple[dict[int, Verdict], set[int]]:
    """(case id -> permsvc's verdict, ids of the specs whose model permsvc accepts).

    Each spec's model is written alone first (the write-time verdict per condition), then the
    accepted ones are checked in batches as OpenFGA checks them."""

    async def main() -> tuple[dict[int, Verdict], set[int]]:
        verdicts: dict[int, Verdict] = {}
        accepted: set[int] = set()
        for spec in specs:
            alone = await _permsvc_refusal(spec)
            if alone is None:
                accepted.add(spec.id)
            else:
                verdicts.update({c.id: alone for c in spec.cases})
        ok = [s for s in specs if s.id in accepted]
        for i in range(0, len(ok), MAX_CONDITIONS_PER_MODEL):
            verdicts.update(await _permsvc_batch(ok[i : i + MAX_CONDITIONS_PER_MODEL]))
        return verdicts, accepted

    return asyncio.run(main())


async def _permsvc_refusal(spec: Spec) -> Verdict | None:
    datastore = MemoryDatastore()
    store = await datastore.create_store("refusal")
    try:
        await WriteAuthorizationModelCommand(models=datastore).execute(store.id, model_json([spec]))
    except PermsvcError as err:
        return Verdict("refused", openfga_code(err)[0], str(err))
    return None


# ---------------------------------------------------------------------------------------------
# Comparing


class Difference(msgspec.Struct, frozen=True, kw_only=True):
    """A deliberate difference: ``applies(spec, case, ours, theirs)`` recognises it."""

    id: str
    reason: str
    applies: Callable[[Spec, Case, Verdict, Verdict], bool]


_EMPTY_LITERAL_ELEMENT = re.compile(r"(\[\]|\{\})\)*\s*(\[|\.(map|filter|all|exists|exists_one)\()")

_MACRO_CALL = r"\)*\.(?:all|exists|exists_one|map|filter)\("


def _iterates_map(spec: Spec) -> bool:
    """Whether a macro ranges over a map literal or a map-typed parameter."""
    if re.search(r"\}" + _MACRO_CALL, spec.expression):
        return True
    maps = [name for name, t in spec.params.items() if t.startswith("map<")]
    return any(re.search(rf"\b{name}" + _MACRO_CALL, spec.expression) for name in maps)


KNOWN_DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        id="empty-literal-element",
        reason=(
            "An element of an empty list or map literal has no type of its own; cel-go binds it "
            "to the first overload that accepts it, permsvc types it as dyn. Such an element "
            "does not exist at run time, so a model permsvc accepts and OpenFGA refuses never "
            "turns a denial into an allow."
        ),
        applies=lambda spec, case, ours, theirs: (
            bool(_EMPTY_LITERAL_ELEMENT.search(spec.expression))
            and ({ours.kind, theirs.kind} <= {"refused", "error"} or theirs.kind == "refused")
        ),
    ),
    Difference(
        id="cost-after-error",
        reason=(
            "Once a sub-expression has failed, cel-go's accounting of what it still evaluates "
            "(the other elements of a literal, the remaining loop steps of a macro) is not "
            "reproduced step for step: one engine may pass the cost limit where the other "
            "reports the original error. The check fails either way, with validation_error."
        ),
        applies=lambda spec, case, ours, theirs: (
            ours.kind == theirs.kind == "error"
            and ours.code == theirs.code
            and "actual cost limit exceeded" in (ours.message + theirs.message)
            and "failed to evaluate condition expression" in ours.message
            and "failed to evaluate condition expression" in theirs.message
        ),
    ),
    Difference(
        id="map-iteration-order",
        reason=(
            "A macro over a map visits its keys in Go's map order in OpenFGA, which is random; "
            "permsvc visits them in the order the context gave them. When several keys fail, "
            "the two may report different keys' errors. The check fails either way."
        ),
        applies=lambda spec, case, ours, theirs: (
            ours.kind == theirs.kind == "error"
            and ours.code == theirs.code
            and _iterates_map(spec)
            and "failed to evaluate condition expression" in ours.message
            and "failed to evaluate condition expression" in theirs.message
        ),
    ),
)
"""The table of deliberate differences (docs/conditions.md lists the same ids and reasons)."""


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else ""


def _same_missing(ours: str, theirs: str) -> bool:
    """Missing-parameter messages list several names in Go map order: compare them as sets."""
    head_o, _, names_o = ours.rpartition("'[")
    head_t, _, names_t = theirs.rpartition("'[")
    return head_o == head_t and sorted(names_o.strip("]'").split()) == sorted(
        names_t.strip("]'").split()
    )


def _same_conversion_failure(spec: Spec, case: Case, ours: Verdict, theirs: Verdict) -> bool:
    """Several context values fail to convert: OpenFGA names the first in Go's (random) map
    order, so either engine may name any of them; both must name one that fails, in its words."""
    marker = "parameter type error on condition"
    if ours.kind != "error" or theirs.kind != "error" or ours.code != theirs.code:
        return False
    if marker not in ours.message or marker not in theirs.message:
        return False
    from permsvc.model.conditions import ConditionEvaluationError, compile_condition, merge_context
    from permsvc.model.schema import Condition, ConditionParam

    def param(t: str) -> ConditionParam:
        if "<" in t:
            outer, _, rest = t.partition("<")
            return ConditionParam(type_name=f"TYPE_NAME_{outer.upper()}",
                                  generic_types=(param(rest[:-1]),))  # fmt: skip
        return ConditionParam(type_name=f"TYPE_NAME_{t.upper()}")

    compiled = compile_condition(
        Condition(name=spec.name, expression=spec.expression,
                  parameters={k: param(v) for k, v in spec.params.items()})
    )  # fmt: skip
    context = merge_context(case.persisted, case.request)
    failures = set()
    for name, t in spec.params.items():
        if name not in context:
            continue
        value = context[name]
        # A map's entries are converted in Go's map order too: try each on its own.
        parts = (
            [{k: v} for k, v in value.items()]
            if t.startswith("map<") and isinstance(value, dict)
            else [value]
        )
        for part in parts:
            try:
                compiled.convert_context({name: part})
            except ConditionEvaluationError as err:
                failures.add(str(err))
    return len(failures) > 1 and ours.message in failures and theirs.message in failures


def agree(ours: Verdict, theirs: Verdict) -> bool:
    """Whether permsvc's verdict is OpenFGA's (see the module docstring for what is compared)."""
    if ours.kind != theirs.kind or ours.code != theirs.code:
        return False
    if ours.kind == "refused":
        if "Syntax error" in theirs.message:
            return "Syntax error" in ours.message
        return _first_line(ours.message) == _first_line(theirs.message)
    if ours.kind == "error":
        if "is missing context parameters" in theirs.message:
            return _same_missing(ours.message, theirs.message)
        return ours.message == theirs.message
    return True


def compare(
    specs: list[Spec], ours: dict[int, Verdict], theirs: dict[int, Verdict]
) -> tuple[list[str], dict[str, int]]:
    """(undocumented disagreements, described; count of cases per documented difference)."""
    problems: list[str] = []
    documented: dict[str, int] = {}
    for spec in specs:
        for case in spec.cases:
            o, t = ours[case.id], theirs[case.id]
            if agree(o, t) or _same_conversion_failure(spec, case, o, t):
                continue
            known = next((d for d in KNOWN_DIFFERENCES if d.applies(spec, case, o, t)), None)
            if known is not None:
                documented[known.id] = documented.get(known.id, 0) + 1
                continue
            problems.append(
                f"case {case.id}: {spec.expression!r} params={spec.params} "
                f"persisted={case.persisted} request={case.request}\n"
                f"    permsvc: {o}\n    openfga: {t}"
            )
    return problems, documented
