"""cel-spec's simple conformance tests, run against permsvc's CEL (parser, checker, interpreter).

Every test of the vendored files (``tests/fixtures/cel-spec/``, see its ``ORIGIN.md``) that
OpenFGA's CEL environment can express is run as cel-go's conformance runner does: parse; type-check
against the declared variables unless ``disable_check``; plan; evaluate with the bindings; compare
the value (CEL equality plus type, NaN equal to NaN, and ``-0.0`` told from ``0.0``) or require an
evaluation error (cel-spec leaves error wording to the implementation). ``typed_result`` tests also
compare the deduced type. The others are skipped, each with the reason of its group
(:func:`skip_reason`); ``EXPECTED`` pins the per-file counts that ``docs/conditions.md`` quotes, so a
change in what applies is a visible change.

``python -m tests.unit.model.test_cel_conformance`` prints the per-file table.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from permsvc.model.cel.checker import CelTypeError, check
from permsvc.model.cel.interpreter import plan
from permsvc.model.cel.parser import CelSyntaxError, parse
from permsvc.model.cel.runtime import cel_equals
from permsvc.model.cel.types import (
    BOOL,
    BYTES,
    DOUBLE,
    DURATION,
    DYN,
    INT,
    NULL,
    STRING,
    TIMESTAMP,
    UINT,
    CelType,
    list_of,
    map_of,
)
from permsvc.model.cel.values import CelEvalError, Duration, Timestamp, TypeValue, UInt
from tests.unit.model.cel_spec import Message, SimpleTest, load_file

VECTORS = Path(__file__).resolve().parents[2] / "fixtures" / "cel-spec"
FILES = sorted(VECTORS.glob("*.textproto"))

# file -> (tests, applicable): the figures docs/conditions.md reports.
EXPECTED: dict[str, tuple[int, int]] = {
    "basic": (43, 43),
    "comparisons": (406, 334),
    "conversions": (109, 109),
    "fp_math": (30, 30),
    "integer_math": (64, 64),
    "lists": (39, 39),
    "logic": (30, 30),
    "macros": (44, 44),
    "macros2": (46, 0),
    "parse": (219, 193),
    "plumbing": (5, 5),
    "string": (51, 51),
    "timestamps": (78, 78),
    "type_deduction": (47, 15),
}

# Where cel-go, and so OpenFGA, gives another value than the vector: permsvc agrees with OpenFGA
# (the differential run checks the same expressions against it), so the test expects cel-go's.
CEL_GO_VALUES: dict[str, tuple[Any, str]] = {
    "timestamps/duration_converters/get_milliseconds": (
        123321,
        (
            "cel-go's duration.getMilliseconds() is the whole duration in milliseconds, not the "
            "millisecond part"
        ),
    ),
}

_PROTO_NAMES = re.compile(
    r"google\.protobuf\.(?!Timestamp\b|Duration\b)|TestAllTypes|NestedTestAllTypes|cel\.expr|"
    r"\bproto[23]\b|GlobalEnum|NestedEnum"
)
_TWO_VAR = re.compile(
    r"\.(?:all|exists|existsOne|exists_one|transformList|transformMap|transformMapEntry)\(\s*"
    r"[A-Za-z_]\w*\s*,\s*[A-Za-z_]\w*\s*,"
)
_OPTIONAL = re.compile(r"\boptional\.|\?\.|\[\?|\{\?|\.orValue\(|\.hasValue\(|\.value\(\)")

_WELL_KNOWN_ANY = {
    "type.googleapis.com/google.protobuf.Timestamp": Timestamp,
    "type.googleapis.com/google.protobuf.Duration": Duration,
}


class _NotExpressible(Exception):
    """A value or type of the test that has no counterpart in OpenFGA's environment."""


# ---------------------------------------------------------------------------------------------
# Which tests apply


def skip_reason(test: SimpleTest) -> str | None:
    """Why a test cannot be expressed in OpenFGA's CEL environment, or None when it applies."""
    if test.container or _PROTO_NAMES.search(test.expr):
        return "protobuf messages: OpenFGA declares no message types"
    if _TWO_VAR.search(test.expr):
        return "two-variable comprehensions (cel-go ext.TwoVarComprehensions): not in OpenFGA"
    if _OPTIONAL.search(test.expr):
        return "optional types (cel.OptionalTypes): not in OpenFGA"
    if test.disable_macros:
        return "macros disabled: OpenFGA always enables the standard macros"
    for decl in test.type_env:
        if "function" in decl:
            return "custom function declarations: an OpenFGA condition cannot declare functions"
        try:
            _decl_type(decl["ident"][0]["type"][0])
        except _NotExpressible as exc:
            return f"variable of a type OpenFGA cannot declare: {exc}"
    try:
        for binding in test.bindings.values():
            _value(binding["value"][0])
        if test.value is not None:
            _value(test.value)
        if test.typed_result is not None:
            if "result" in test.typed_result:
                _value(test.typed_result["result"][0])
            _decl_type(test.typed_result["deduced_type"][0])
    except _NotExpressible as exc:
        return f"protobuf messages: {exc}"
    if test.matcher not in ("value", "eval_error", "typed_result"):
        return f"{test.matcher} matcher: OpenFGA evaluates without unknowns"
    return None


_PRIMITIVES = {
    "BOOL": BOOL, "INT64": INT, "UINT64": UINT, "DOUBLE": DOUBLE, "STRING": STRING, "BYTES": BYTES,
}  # fmt: skip
_WELL_KNOWN = {"TIMESTAMP": TIMESTAMP, "DURATION": DURATION}


def _decl_type(t: Message) -> CelType:
    """``cel.expr.Type`` -> permsvc's checker type."""
    if "primitive" in t:
        return _PRIMITIVES[t["primitive"][0]]
    if "well_known" in t:
        name = t["well_known"][0]
        if name not in _WELL_KNOWN:
            raise _NotExpressible(f"well-known type {name}")
        return _WELL_KNOWN[name]
    if "list_type" in t:
        return list_of(_decl_type(t["list_type"][0]["elem_type"][0]))
    if "map_type" in t:
        entry = t["map_type"][0]
        return map_of(_decl_type(entry["key_type"][0]), _decl_type(entry["value_type"][0]))
    if "dyn" in t:
        return DYN
    if "null" in t:
        return NULL
    if "type" in t:
        inner = t["type"][0]
        return ("type", _decl_type(inner)) if inner else ("type",)
    if "message_type" in t:
        name = t["message_type"][0].decode()
        if name in ("google.protobuf.Timestamp", "google.protobuf.Duration"):
            return TIMESTAMP if name.endswith("Timestamp") else DURATION
        raise _NotExpressible(f"message type {name}")
    kinds = ", ".join(sorted(t))
    raise _NotExpressible(f"type {kinds}")


def _value(v: Message) -> Any:
    """``cel.expr.Value`` -> permsvc's runtime value."""
    if "null_value" in v:
        return None
    if "bool_value" in v:
        return v["bool_value"][0] == "true"
    if "int64_value" in v:
        return int(v["int64_value"][0])
    if "uint64_value" in v:
        return UInt(v["uint64_value"][0])
    if "double_value" in v:
        return float(v["double_value"][0])
    if "string_value" in v:
        return v["string_value"][0].decode("utf-8")
    if "bytes_value" in v:
        return v["bytes_value"][0]
    if "list_value" in v:
        return tuple(_value(x) for x in v["list_value"][0].get("values", []))
    if "map_value" in v:
        return {
            _value(e["key"][0]): _value(e["value"][0]) for e in v["map_value"][0].get("entries", [])
        }
    if "type_value" in v:
        return TypeValue(v["type_value"][0].decode())
    if "object_value" in v:
        (type_url, body), *_ = v["object_value"][0].items()
        cls = _WELL_KNOWN_ANY.get(type_url)
        if cls is None:
            raise _NotExpressible(type_url.rsplit("/", 1)[-1])
        fields = body[0]
        nanos = int(fields.get("seconds", [0])[0]) * 10**9 + int(fields.get("nanos", [0])[0])
        return cls(nanos)
    if "enum_value" in v:
        raise _NotExpressible("enum value")
    return None  # an empty Value: the default, null


# ---------------------------------------------------------------------------------------------
# Running a test


def _same(expected: Any, actual: Any) -> bool:
    """Equal values of the same CEL type (conformance compares values, not just CEL equality)."""
    if type(expected) is not type(actual):
        if isinstance(expected, tuple) and isinstance(actual, (list, tuple)):
            return len(expected) == len(actual) and all(map(_same, expected, actual))
        return False
    if type(expected) is float:
        if math.isnan(expected):
            return math.isnan(actual)
        return expected == actual and math.copysign(1, expected) == math.copysign(1, actual)
    if isinstance(expected, tuple):
        return len(expected) == len(actual) and all(map(_same, expected, actual))
    if isinstance(expected, dict):
        if len(expected) != len(actual):
            return False
        for key, value in expected.items():
            match = [k for k in actual if type(k) is type(key) and cel_equals(k, key)]
            if len(match) != 1 or not _same(value, actual[match[0]]):
                return False
        return True
    return bool(expected == actual)


def run(test: SimpleTest, cel_go_value: Any = None) -> None:
    """Run one applicable test; fails with what differs."""
    declared = {
        decl["name"][0].decode(): _decl_type(decl["ident"][0]["type"][0]) for decl in test.type_env
    }
    tree = parse(test.expr)
    deduced = None if test.disable_check else check(tree, declared)
    if test.typed_result is not None:
        expected_type = _decl_type(test.typed_result["deduced_type"][0])
        assert deduced == expected_type, f"deduced {deduced}, expected {expected_type}"
    if test.check_only:
        return
    bindings = {name: _value(b["value"][0]) for name, b in test.bindings.items()}
    try:
        program = plan(tree, frozenset(declared) | frozenset(bindings))
        value, _ = program.run(dict(bindings), 10**9)
    except CelEvalError as exc:
        if test.matcher == "eval_error":
            return
        raise AssertionError(f"evaluation error {exc}") from exc
    if test.matcher == "eval_error":
        raise AssertionError(f"expected an evaluation error, got {value!r}")
    if cel_go_value is not None:
        expected = cel_go_value
    elif test.typed_result is not None:
        expected = _value(test.typed_result["result"][0])
    else:
        expected = True if test.value is None else _value(test.value)
    assert _same(expected, value), f"expected {expected!r}, got {value!r}"


def _cases() -> list[Any]:
    params = []
    for path in FILES:
        _, tests = load_file(path)
        for test in tests:
            reason = skip_reason(test)
            marks = [pytest.mark.skip(reason=reason)] if reason else []
            test_id = f"{path.stem}/{test.section}/{test.name}"
            cel_go_value = CEL_GO_VALUES.get(test_id, (None, ""))[0]
            params.append(pytest.param(test, cel_go_value, id=test_id, marks=marks))
    return params


@pytest.mark.parametrize(("test", "cel_go_value"), _cases())
def test_cel_spec_vector(test: SimpleTest, cel_go_value: Any) -> None:
    try:
        run(test, cel_go_value)
    except (CelSyntaxError, CelTypeError) as exc:
        pytest.fail(f"{test.expr!r}: {type(exc).__name__}: {exc.message}")


def report() -> dict[str, tuple[int, int, Counter[str]]]:
    """file -> (tests, applicable, Counter of skip reasons)."""
    out = {}
    for path in FILES:
        _, tests = load_file(path)
        reasons = Counter(r for t in tests if (r := skip_reason(t)))
        out[path.stem] = (len(tests), len(tests) - sum(reasons.values()), reasons)
    return out


def test_applicable_counts_are_the_documented_ones() -> None:
    counts = {name: (total, applicable) for name, (total, applicable, _) in report().items()}
    assert counts == EXPECTED


if __name__ == "__main__":
    for name, (total, applicable, reasons) in report().items():
        print(f"| {name} | {total} | {applicable} | {total - applicable} |")
        for reason, n in reasons.most_common():
            print(f"    {n:4d}  {reason}")
