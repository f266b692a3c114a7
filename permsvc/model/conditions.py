"""OpenFGA relationship conditions (ABAC): compile and evaluate CEL condition expressions.

A condition such as::

    condition non_expired_grant(current_time: timestamp, grant_time: timestamp, grant_duration: duration) {
      current_time < grant_time + grant_duration
    }

is compiled once (:func:`compile_condition`, cached because the engine evaluates conditions on hot
paths) and evaluated per tuple with :meth:`CompiledCondition.evaluate`. Behaviour follows OpenFGA's
``internal/condition`` package:

- **Compile.** Parameter types are decoded (``TYPE_NAME_*``; ``map``/``list`` take exactly one
  generic type), the expression is parsed and type-checked against them, and it must have type
  ``bool``. Failures raise :class:`ConditionCompileError` with OpenFGA's wording
  (``failed to compile expression on condition 'c' - ERROR: c:1:3: found no matching overload
  ...``).
- **Context.** Values arrive as JSON values and are converted to the declared types the way
  OpenFGA converts ``structpb`` values: numbers are float64 first, so ``int``/``uint`` accept only
  integral numbers (or numeric strings) and clamp to the int64 range; ``timestamp`` is an RFC 3339
  string, ``duration`` a Go duration string (``"1h30m"``), ``ipaddress`` an address string; ``any``
  passes the JSON value through (numbers as ``double``). Context keys that are not parameters are
  ignored. A value that does not convert raises :class:`ConditionEvaluationError`.
- **Missing parameters.** The expression is evaluated partially: ``missing_parameters`` lists the
  declared parameters absent from the context, and ``allowed`` is true only if the expression is
  true regardless of them. The engine decides what a missing parameter means (Check fails with
  :func:`missing_parameters_error`, ``validation_error`` 2000).
- **Cost.** Evaluation is cancelled once cel-go's runtime cost passes ``max_cost`` (OpenFGA's
  default and floor: 100), so no expression/context pair can make the server do unbounded work.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Mapping
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any

import msgspec

from permsvc.core.errors import PermsvcError
from permsvc.model.cel.checker import CelTypeError, check, format_type
from permsvc.model.cel.interpreter import UNKNOWN, CostLimitExceededError, Program, plan
from permsvc.model.cel.parser import CelSyntaxError, parse
from permsvc.model.cel.types import (
    ANY,
    BOOL,
    DOUBLE,
    DURATION,
    INT,
    IPADDRESS,
    STRING,
    TIMESTAMP,
    UINT,
    CelType,
    list_of,
    map_of,
)
from permsvc.model.cel.values import (
    INT64_MAX,
    INT64_MIN,
    CelEvalError,
    Duration,
    IPAddress,
    Timestamp,
    UInt,
    parse_go_duration,
    parse_rfc3339_with_offset,
)
from permsvc.model.errors import ModelError, ModelIssue
from permsvc.model.schema import Condition, ConditionParam

__all__ = (
    "DEFAULT_MAX_EVALUATION_COST",
    "MAX_EXPRESSION_BYTES",
    "CompiledCondition",
    "ConditionCompileError",
    "ConditionEvaluationError",
    "ConditionResult",
    "compile_condition",
    "merge_context",
    "missing_parameters_error",
    "validate_condition_params",
)

DEFAULT_MAX_EVALUATION_COST = 100
"""OpenFGA's ``maxConditionEvaluationCost`` default, which is also the lowest value it accepts."""

MAX_EXPRESSION_BYTES = 512
"""OpenFGA's limit on a condition expression (``Condition.expression`` max_bytes)."""

_COMPILE_CACHE_SIZE = 4096


class ConditionCompileError(ModelError):
    """A condition's parameters or expression are invalid; ``issues`` lists every problem.

    Attributes:
        condition: the condition's name.
    """

    condition: str

    def __init__(self, condition: str, problems: list[str]) -> None:
        self.condition = condition
        super().__init__([ModelIssue(message=p, rule="condition") for p in problems])


class ConditionEvaluationError(PermsvcError):
    """A condition could not be evaluated (bad context value, runtime error, cost limit, missing
    parameters). OpenFGA reports all of these as ``validation_error`` (2000).

    Attributes:
        condition: the condition's name.
        parameter: the offending context parameter, when there is one.
    """

    def __init__(self, condition: str, detail: str, *, parameter: str = "") -> None:
        super().__init__(detail)
        self.condition = condition
        self.parameter = parameter


class ConditionResult(msgspec.Struct, frozen=True):
    """The outcome of one evaluation.

    ``allowed`` is the condition's value; with missing parameters it is true only if the
    expression is true whatever their values. ``missing_parameters`` is sorted.
    """

    allowed: bool
    missing_parameters: tuple[str, ...] = ()


def merge_context(
    persisted: Mapping[str, Any] | None, request: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The context a tuple's condition sees: the request context overlaid with the tuple's
    persisted context. A key present in both takes the persisted value (OpenFGA: persisted wins)."""
    merged = dict(request or {})
    if persisted:
        merged.update(persisted)
    return merged


def missing_parameters_error(
    condition: str, tuple_key: str, missing: tuple[str, ...] | list[str]
) -> ConditionEvaluationError:
    """The error Check raises when a tuple's condition lacks parameters, worded as OpenFGA does:
    ``failed to evaluate relationship condition: 'c' - tuple 'doc:1#r@user:1' is missing context
    parameters '[x y]'``."""
    names = " ".join(missing)
    return ConditionEvaluationError(
        condition,
        f"failed to evaluate relationship condition: '{condition}' - tuple '{tuple_key}' "
        f"is missing context parameters '[{names}]'",
        parameter=missing[0] if missing else "",
    )


# ---------------------------------------------------------------------------------------------
# Parameter types


class _ParamType(msgspec.Struct, frozen=True):
    """A decoded parameter type: its CEL type and how to convert a JSON context value to it."""

    cel_type: CelType
    convert: Callable[[Any], Any]


class _ConversionError(Exception):
    pass


_GENERIC_COUNTS = {
    "TYPE_NAME_ANY": 0,
    "TYPE_NAME_BOOL": 0,
    "TYPE_NAME_STRING": 0,
    "TYPE_NAME_INT": 0,
    "TYPE_NAME_UINT": 0,
    "TYPE_NAME_DOUBLE": 0,
    "TYPE_NAME_DURATION": 0,
    "TYPE_NAME_TIMESTAMP": 0,
    "TYPE_NAME_IPADDRESS": 0,
    "TYPE_NAME_MAP": 1,
    "TYPE_NAME_LIST": 1,
}


def _decode_param_type(param: ConditionParam) -> _ParamType:
    """Raises _ConversionError with OpenFGA's wording when the type is unknown or malformed."""
    name = param.type_name
    expected = _GENERIC_COUNTS.get(name)
    if expected is None:
        raise _ConversionError(f"unknown condition parameter type `{name}`")
    if len(param.generic_types) != expected:
        raise _ConversionError(
            f"condition parameter type `{name}` requires {expected} generic types; "
            f"found {len(param.generic_types)}"
        )
    if name == "TYPE_NAME_MAP":
        inner = _decode_param_type(param.generic_types[0])
        return _ParamType(map_of(STRING, inner.cel_type), _map_converter(inner.convert))
    if name == "TYPE_NAME_LIST":
        inner = _decode_param_type(param.generic_types[0])
        return _ParamType(list_of(inner.cel_type), _list_converter(inner.convert))
    return _SCALAR_TYPES[name]


def _go_type(value: Any) -> str:
    """Go's ``%T`` of the value OpenFGA would have decoded from the same JSON."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    if isinstance(value, (list, tuple)):
        return "[]interface {}"
    return type(value).__name__


def _go_reflect_type(value: Any) -> str:
    """Go's ``%s`` of ``reflect.TypeOf(value)``, which OpenFGA prints for primitive mismatches."""
    return "%!s(<nil>)" if value is None else _go_type(value)


def _go_value(value: Any) -> str:
    """Go's ``%v`` of a decoded JSON value (enough for error messages)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _big_float_text(Fraction(value)) if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(_go_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{_go_value(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def _big_float_text(value: Fraction) -> str:
    """Go ``big.Float.String()`` (``Text('g', 10)``) of a finite value."""
    if value == 0:
        return "0"
    dec = Decimal(value.numerator) / Decimal(value.denominator)
    text = f"{dec:.10g}"
    mantissa, sep, exp = text.partition("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    if not sep:
        return mantissa
    sign = exp[0] if exp[0] in "+-" else "+"
    digits = exp.lstrip("+-")
    return f"{mantissa}e{sign}{int(digits):02d}"


_DECIMAL_RE = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_INF_RE = re.compile(r"^[+-]?(?:inf|Inf|INF)$")


def _round_to_bits(value: Fraction, bits: int) -> Fraction:
    """Round to ``bits`` significant binary digits, half to even (big.Float's default mode)."""
    if value == 0:
        return value
    sign = -1 if value < 0 else 1
    a = abs(value)
    exp = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** exp > a:
        exp -= 1
    scale = Fraction(2) ** (bits - 1 - exp)
    scaled = a * scale
    rounded = round(scaled)  # Fraction.__round__ is half-to-even
    return sign * Fraction(rounded) / scale


def _json_number(value: Any, target: str) -> Fraction:
    """A JSON number or numeric string as the exact value OpenFGA's ``big.Float`` would hold."""
    if isinstance(value, bool) or value is None:
        raise _ConversionError(
            f"expected type value '{target}', but found '{_go_reflect_type(value)}'"
        )
    if isinstance(value, (int, float)):
        try:
            f = float(value)
        except OverflowError:
            raise _ConversionError(
                f"number cannot be represented as a float64: {_go_value(value)}"
            ) from None
        if not math.isfinite(f):
            raise _ConversionError(f"number cannot be represented as a float64: {f}")
        return Fraction(f)
    if isinstance(value, str):
        if _INF_RE.match(value):
            raise _ConversionError(f"number cannot be represented as a float64: {value}")
        if not _DECIMAL_RE.match(value):
            raise _ConversionError(
                f"expected a {target} value, but found invalid string value '{value}'"
            )
        return _round_to_bits(Fraction(value), 64)
    raise _ConversionError(f"expected type value '{target}', but found '{_go_reflect_type(value)}'")


def _clamp_int64(value: Fraction) -> int:
    return max(INT64_MIN, min(INT64_MAX, int(value)))


def _convert_int(value: Any) -> int:
    if type(value) is int and INT64_MIN <= value <= INT64_MAX and abs(value) <= 2**53:
        return value
    number = _json_number(value, "int64")
    if number.denominator != 1:
        raise _ConversionError(
            f"expected an int value, but found numeric value '{_big_float_text(number)}'"
        )
    return _clamp_int64(number)


def _convert_uint(value: Any) -> UInt:
    number = _json_number(value, "uint64")
    if number.denominator != 1:
        raise _ConversionError(
            f"expected a uint value, but found numeric value '{_big_float_text(number)}'"
        )
    clamped = _clamp_int64(number)
    if clamped < 0:
        raise _ConversionError(
            f"expected a uint value, but found int64 value '{_big_float_text(number)}'"
        )
    return UInt(clamped)


def _convert_double(value: Any) -> float:
    if type(value) is float and math.isfinite(value):
        return value
    if isinstance(value, str):
        number = _json_number(value, "float64")
        f = _fraction_to_float(number)
        if f is None or Fraction(f) != number:
            raise _ConversionError(
                f"number cannot be represented as a float64: {_big_float_text(number)}"
            )
        return f
    return float(_json_number(value, "float64"))


def _fraction_to_float(value: Fraction) -> float | None:
    try:
        f = float(value)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def _convert_bool(value: Any) -> bool:
    if type(value) is bool:
        return value
    raise _ConversionError(f"expected type value 'bool', but found '{_go_reflect_type(value)}'")


def _convert_string(value: Any) -> str:
    if type(value) is str:
        return value
    raise _ConversionError(f"expected type value 'string', but found '{_go_reflect_type(value)}'")


# Context values repeat across tuples and requests (persisted grant times, the caller's address),
# and parsing dominates evaluation, so the parsed values of strings are cached (they are immutable).
# Only short strings are cached, so a caller cannot pin large strings in memory.
_PARSE_CACHE_SIZE = 4096
_PARSE_CACHE_MAX_LENGTH = 64


def _short_string_cache(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    cached = lru_cache(maxsize=_PARSE_CACHE_SIZE)(parse)

    def lookup(text: str) -> Any:
        return cached(text) if len(text) <= _PARSE_CACHE_MAX_LENGTH else parse(text)

    return lookup


_cached_duration = _short_string_cache(parse_go_duration)
_cached_timestamp = _short_string_cache(parse_rfc3339_with_offset)
_cached_ipaddress = _short_string_cache(IPAddress.parse)


def _convert_duration(value: Any) -> Duration:
    if not isinstance(value, str):
        raise _ConversionError(
            f"expected a duration string, but found: {_go_type(value)} '{_go_value(value)}'"
        )
    try:
        return Duration(_cached_duration(value))
    except ValueError:
        raise _ConversionError(f"expected a valid duration string, but found: '{value}'") from None


def _convert_timestamp(value: Any) -> Timestamp:
    if not isinstance(value, str):
        raise _ConversionError(
            "expected RFC 3339 formatted timestamp string, but found: "
            f"{_go_type(value)} '{_go_value(value)}'"
        )
    try:
        return Timestamp(*_cached_timestamp(value))
    except ValueError:
        raise _ConversionError(
            f"expected RFC 3339 formatted timestamp string, but found '{value}'"
        ) from None


def _convert_ipaddress(value: Any) -> IPAddress:
    if isinstance(value, IPAddress):
        return value
    if not isinstance(value, str):
        raise _ConversionError(
            f"expected an ipaddress string, but found: {_go_type(value)} '{_go_value(value)}'"
        )
    try:
        parsed: IPAddress = _cached_ipaddress(value)
        return parsed
    except ValueError:
        raise _ConversionError(f"expected a well-formed IP address, but found: '{value}'") from None


def _convert_any(value: Any) -> Any:
    """JSON -> CEL value as cel-go sees a ``structpb`` value: every number is a double."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        f = float(value)
        if not math.isfinite(f):
            raise _ConversionError(f"number cannot be represented as a float64: {f}")
        return f
    if isinstance(value, Mapping):
        return {str(k): _convert_any(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(_convert_any(v) for v in value)
    raise _ConversionError(f"unsupported context value of type '{_go_type(value)}'")


def _map_converter(inner: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def convert(value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise _ConversionError(f"map requires a map, found: {_go_type(value)}")
        converted: dict[str, Any] = {}
        for key, item in value.items():
            try:
                converted[str(key)] = inner(item)
            except _ConversionError as exc:
                raise _ConversionError(f"found an invalid value for key '{key}': {exc}") from None
        return converted

    return convert


def _list_converter(inner: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def convert(value: Any) -> tuple[Any, ...]:
        if not isinstance(value, (list, tuple)):
            raise _ConversionError(f"list requires a list, found: {_go_type(value)}")
        converted = []
        for index, item in enumerate(value):
            try:
                converted.append(inner(item))
            except _ConversionError as exc:
                raise _ConversionError(
                    f"found an invalid list item at index `{index}`: {exc}"
                ) from None
        return tuple(converted)

    return convert


_SCALAR_TYPES: dict[str, _ParamType] = {
    "TYPE_NAME_ANY": _ParamType(ANY, _convert_any),
    "TYPE_NAME_BOOL": _ParamType(BOOL, _convert_bool),
    "TYPE_NAME_STRING": _ParamType(STRING, _convert_string),
    "TYPE_NAME_INT": _ParamType(INT, _convert_int),
    "TYPE_NAME_UINT": _ParamType(UINT, _convert_uint),
    "TYPE_NAME_DOUBLE": _ParamType(DOUBLE, _convert_double),
    "TYPE_NAME_DURATION": _ParamType(DURATION, _convert_duration),
    "TYPE_NAME_TIMESTAMP": _ParamType(TIMESTAMP, _convert_timestamp),
    "TYPE_NAME_IPADDRESS": _ParamType(IPADDRESS, _convert_ipaddress),
}


# ---------------------------------------------------------------------------------------------
# Compilation


class CompiledCondition:
    """A condition whose parameters are decoded and whose expression is checked and planned.

    Immutable and safe to share between concurrent evaluations.
    """

    __slots__ = ("_converters", "_program", "expression", "name", "parameter_names")

    def __init__(
        self,
        name: str,
        expression: str,
        param_types: dict[str, _ParamType],
        program: Program,
    ) -> None:
        self.name = name
        self.expression = expression
        self.parameter_names: tuple[str, ...] = tuple(sorted(param_types))
        self._converters = tuple((p, param_types[p].convert) for p in self.parameter_names)
        self._program = program

    def __repr__(self) -> str:
        return f"CompiledCondition({self.name!r})"

    def convert_context(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """Convert the context values of declared parameters to their CEL types.

        Raises:
            ConditionEvaluationError: a value does not convert to its parameter's type, or the
                condition has no parameters but the context is non-empty (as OpenFGA).
        """
        if not context:
            return {}
        if not self._converters:
            raise self._param_error("", "no parameters defined for the condition")
        converted: dict[str, Any] = {}
        for name, convert in self._converters:
            if name not in context:
                continue
            try:
                converted[name] = convert(context[name])
            except _ConversionError as exc:
                raise self._param_error(
                    name, f"failed to convert context parameter '{name}': {exc}"
                ) from None
        return converted

    def _param_error(self, parameter: str, cause: str) -> ConditionEvaluationError:
        return ConditionEvaluationError(
            self.name,
            "failed to evaluate relationship condition: parameter type error on condition "
            f"'{self.name}' - {cause}",
            parameter=parameter,
        )

    def evaluate(
        self, context: Mapping[str, Any], *, max_cost: int = DEFAULT_MAX_EVALUATION_COST
    ) -> ConditionResult:
        """Evaluate against a (merged) JSON context; see the module docstring for semantics.

        Raises:
            ConditionEvaluationError: a context value does not convert, the expression fails at
                runtime (e.g. a malformed CIDR, integer overflow) with all parameters present, or
                the evaluation cost exceeds ``max_cost``.
        """
        variables = self.convert_context(context)
        missing = tuple(p for p in self.parameter_names if p not in variables)
        try:
            value, _ = self._program.run(variables, max_cost)
        except CostLimitExceededError as exc:
            raise self._eval_error(str(exc)) from None
        except CelEvalError as exc:
            # An error that does not depend on a missing parameter (those make the value
            # unknown instead) is the answer even when parameters are missing, as in OpenFGA.
            raise self._eval_error(str(exc)) from None
        except RecursionError:
            raise self._eval_error("the expression is nested too deeply to evaluate") from None
        if value is UNKNOWN:
            return ConditionResult(False, missing)
        if type(value) is not bool:
            raise self._eval_error(f"expected a bool result, got {value!r}")
        return ConditionResult(value, missing)

    def _eval_error(self, cause: str) -> ConditionEvaluationError:
        return ConditionEvaluationError(
            self.name,
            f"failed to evaluate relationship condition: '{self.name}' - "
            f"failed to evaluate condition expression: {cause}",
        )


def _param_key(parameters: Mapping[str, ConditionParam]) -> tuple[tuple[str, ConditionParam], ...]:
    return tuple(sorted(parameters.items()))


def compile_condition(condition: Condition) -> CompiledCondition:
    """Compile (or fetch from the cache) a condition.

    The cache is keyed by (name, expression, parameters), so a model rewrite that changes a
    condition gets a fresh compilation while identical conditions across model versions share one.

    Raises:
        ConditionCompileError: every problem found (unknown or malformed parameter types, syntax
            and type errors, non-bool result), worded as OpenFGA words them.
    """
    return _compile_cached(condition.name, condition.expression, _param_key(condition.parameters))


def validate_condition_params(condition: Condition) -> list[str]:
    """All problems with a condition, as messages (empty when it compiles). For model validation."""
    try:
        compile_condition(condition)
    except ConditionCompileError as exc:
        return [issue.message for issue in exc.issues]
    return []


@lru_cache(maxsize=_COMPILE_CACHE_SIZE)
def _compile_cached(
    name: str, expression: str, params: tuple[tuple[str, ConditionParam], ...]
) -> CompiledCondition:
    problems: list[str] = []
    size = len(expression.encode("utf-8"))
    if size > MAX_EXPRESSION_BYTES:
        problems.append(
            f"invalid Condition.Expression of condition '{name}': value length must be at most "
            f"{MAX_EXPRESSION_BYTES} bytes (it is {size})"
        )
    param_types: dict[str, _ParamType] = {}
    for param_name, param in params:
        try:
            param_types[param_name] = _decode_param_type(param)
        except _ConversionError as exc:
            problems.append(
                f"failed to compile expression on condition '{name}' - failed to decode "
                f"parameter type for parameter '{param_name}': {exc}"
            )
    if problems:
        raise ConditionCompileError(name, problems)
    prefix = f"failed to compile expression on condition '{name}' - "
    _ensure_stack_headroom()
    try:
        tree = parse(expression)
        output = check(tree, {p: t.cel_type for p, t in param_types.items()})
        program = plan(tree, frozenset(param_types))
    except RecursionError:
        raise ConditionCompileError(
            name, [f"{prefix}the expression is nested too deeply to compile"]
        ) from None
    except CelSyntaxError as exc:
        raise ConditionCompileError(
            name, [prefix + _format_cel_error(name, expression, exc.offset, exc.message)]
        ) from None
    except CelTypeError as exc:
        shown = "\n".join(
            _format_cel_error(name, expression, offset, message) for offset, message in exc.issues
        )
        raise ConditionCompileError(name, [prefix + shown]) from None
    except CelEvalError as exc:
        raise ConditionCompileError(
            name, [f"{prefix}condition expression construction: {exc}"]
        ) from None
    if output != BOOL:
        shown = format_type(output, any_name="google.protobuf.Any")
        raise ConditionCompileError(
            name, [f"{prefix}expected a bool condition expression output, but got '{shown}'"]
        )
    return CompiledCondition(name, expression, param_types, program)


_RECURSION_LIMIT = 5000
"""Python frames the CEL parser, checker, planner and interpreter may need: the parser admits
250 levels of nesting (cel-go's limit) and an expression of 512 bytes nests at most about as
deep, at up to five frames a level, plus the caller's own stack (a check deep in a model)."""


def _ensure_stack_headroom() -> None:
    if sys.getrecursionlimit() < _RECURSION_LIMIT:
        sys.setrecursionlimit(_RECURSION_LIMIT)


def _format_cel_error(name: str, expression: str, offset: int, message: str) -> str:
    """cel-go's issue format: ``ERROR: name:line:col: message`` plus the line and a caret."""
    line_start = expression.rfind("\n", 0, offset) + 1
    line_no = expression.count("\n", 0, offset) + 1
    column = offset - line_start + 1
    line_end = expression.find("\n", offset)
    source_line = expression[line_start : line_end if line_end != -1 else len(expression)]
    caret = "." * (column - 1) + "^"
    return f"ERROR: {name}:{line_no}:{column}: {message}\n | {source_line}\n | {caret}"
