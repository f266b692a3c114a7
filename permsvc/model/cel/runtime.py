"""CEL's standard functions and operators over runtime values (see :mod:`permsvc.model.cel.values`).

Each function takes already-evaluated arguments and returns a value or raises
:class:`~permsvc.model.cel.values.CelEvalError`. Semantics follow cel-go: 64-bit integer
overflow, division and modulus by zero are errors; integer division truncates toward zero;
heterogeneous numeric equality compares values; regular expressions are RE2.

The end of the module is the function library: one :func:`~permsvc.model.cel.library.define`
entry per function gives its signatures (what the checker accepts), its implementation here and
its run-time cost. To add a function, write it here and define it there; nothing else changes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from permsvc.model.cel.library import (
    LIBRARY,
    concat_cost,
    contains_cost,
    conversion_cost,
    define,
    equality_cost,
    membership_cost,
    ordering_cost,
    regex_cost,
    suffix_cost,
)
from permsvc.model.cel.types import (
    BOOL,
    BYTES,
    DOUBLE,
    DURATION,
    DYN,
    INT,
    IPADDRESS,
    STRING,
    TIMESTAMP,
    UINT,
    A,
    B,
    list_of,
    map_of,
)
from permsvc.model.cel.values import (
    INT64_MAX,
    INT64_MIN,
    MAX_TIMESTAMP_SECONDS,
    MIN_TIMESTAMP_SECONDS,
    NANOS_PER_SECOND,
    UINT64_MAX,
    CelEvalError,
    Duration,
    IPAddress,
    Timestamp,
    TypeValue,
    UInt,
    civil_from_unix_seconds,
    format_go_duration,
    format_rfc3339,
    go_parse_addr_error,
    go_quote,
    parse_go_duration,
    parse_rfc3339_with_offset,
    type_name,
)

__all__ = ("LIBRARY", "cel_equals", "compile_regex", "format_go_float", "map_get", "size_of")

_NUMBER_TYPES = (int, UInt, float)


def _no_overload(name: str, *args: Any) -> CelEvalError:
    """cel-go's runtime error for arguments no overload takes (only reachable through ``dyn``):
    its text names neither the function nor the types."""
    return CelEvalError("no such overload")


def _int(value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise CelEvalError("integer overflow")
    return value


def _uint(value: int) -> UInt:
    if not 0 <= value <= UINT64_MAX:
        raise CelEvalError("unsigned integer overflow")
    return UInt(value)


def _timestamp(nanos: int, offset: int = 0) -> Timestamp:
    if (
        not MIN_TIMESTAMP_SECONDS * NANOS_PER_SECOND
        <= nanos
        < (MAX_TIMESTAMP_SECONDS + 1) * NANOS_PER_SECOND
    ):
        raise CelEvalError("timestamp overflow")
    return Timestamp(nanos, offset)


def _duration(nanos: int) -> Duration:
    if not INT64_MIN <= nanos <= INT64_MAX:
        raise CelEvalError("integer overflow")
    return Duration(nanos)


def _is_number(value: Any) -> bool:
    t = type(value)
    return t is int or t is UInt or t is float


def cel_equals(a: Any, b: Any) -> bool:
    """CEL runtime equality: numeric values compare across int/uint/double; other types must match."""
    ta, tb = type(a), type(b)
    if ta in _NUMBER_TYPES and tb in _NUMBER_TYPES:
        if ta is not tb and (ta is float or tb is float):
            return float(a) == float(b)  # cel-go compares an int with a double as doubles
        return bool(a == b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(cel_equals(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        if len(a) != len(b):
            return False
        for key, value in a.items():
            found, other = map_get(b, key)
            if not found or not cel_equals(value, other):
                return False
        return True
    if ta is not tb:
        return False
    return bool(a == b)


def map_get(m: dict[Any, Any], key: Any) -> tuple[bool, Any]:
    """Look ``key`` up in a CEL map: numeric keys match across int/uint/double, others by type."""
    if type(key) is str:
        if key in m:
            return True, m[key]
        return False, None
    if type(key) in _NUMBER_TYPES:
        for k, v in m.items():
            if type(k) in _NUMBER_TYPES and k == key:
                return True, v
        return False, None
    for k, v in m.items():
        if type(k) is type(key) and k == key:
            return True, v
    return False, None


def _compare(name: str, a: Any, b: Any) -> int | None:
    """-1/0/1, or None when either side is NaN."""
    ta, tb = type(a), type(b)
    if ta in _NUMBER_TYPES and tb in _NUMBER_TYPES:
        if (ta is float and math.isnan(a)) or (tb is float and math.isnan(b)):
            return None
        if ta is not tb and (ta is float or tb is float):
            a, b = float(a), float(b)  # cel-go: an int beside a double compares as a double
        order: int = (a > b) - (a < b)
        return order
    if ta is not tb or ta not in (bool, str, bytes, Timestamp, Duration):
        raise _no_overload(name, a, b)
    if ta is Timestamp or ta is Duration:
        a, b = a.nanos, b.nanos
    order = (a > b) - (a < b)
    return order


def _less(a: Any, b: Any) -> bool:
    c = _compare("_<_", a, b)
    return c is not None and c < 0


def _less_eq(a: Any, b: Any) -> bool:
    c = _compare("_<=_", a, b)
    return c is not None and c <= 0


def _greater(a: Any, b: Any) -> bool:
    c = _compare("_>_", a, b)
    return c is not None and c > 0


def _greater_eq(a: Any, b: Any) -> bool:
    c = _compare("_>=_", a, b)
    return c is not None and c >= 0


def _add(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return _int(a + b)
    if ta is UInt and tb is UInt:
        return _uint(a + b)
    if ta is float and tb is float:
        return a + b
    if (ta is str and tb is str) or (ta is bytes and tb is bytes):
        return a + b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return (*a, *b)
    if ta is Timestamp and tb is Duration:
        return _timestamp(a.nanos + b.nanos, a.offset)
    if ta is Duration and tb is Timestamp:
        return _timestamp(a.nanos + b.nanos, b.offset)
    if ta is Duration and tb is Duration:
        return _duration(a.nanos + b.nanos)
    raise _no_overload("_+_", a, b)


def _subtract(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return _int(a - b)
    if ta is UInt and tb is UInt:
        return _uint(a - b)
    if ta is float and tb is float:
        return a - b
    if ta is Timestamp and tb is Timestamp:
        return _duration(a.nanos - b.nanos)
    if ta is Timestamp and tb is Duration:
        return _timestamp(a.nanos - b.nanos, a.offset)
    if ta is Duration and tb is Duration:
        return _duration(a.nanos - b.nanos)
    raise _no_overload("_-_", a, b)


def _multiply(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return _int(a * b)
    if ta is UInt and tb is UInt:
        return _uint(a * b)
    if ta is float and tb is float:
        return a * b
    raise _no_overload("_*_", a, b)


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _divide(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if (ta is int and tb is int) or (ta is UInt and tb is UInt):
        if b == 0:
            raise CelEvalError("division by zero")
        q = _trunc_div(a, b)
        return _int(q) if ta is int else UInt(q)
    if ta is float and tb is float:
        if b == 0.0:
            if a == 0.0 or math.isnan(a):
                return math.nan
            return math.copysign(math.inf, a) * math.copysign(1.0, b)
        return a / b
    raise _no_overload("_/_", a, b)


def _modulo(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if (ta is int and tb is int) or (ta is UInt and tb is UInt):
        if b == 0:
            raise CelEvalError("modulus by zero")
        if ta is int and a == INT64_MIN and b == -1:
            raise CelEvalError("integer overflow")
        r = a - b * _trunc_div(a, b)
        return r if ta is int else UInt(r)
    raise _no_overload("_%_", a, b)


def _negate(a: Any) -> Any:
    if type(a) is int:
        return _int(-a)
    if type(a) is float:
        return -a
    raise _no_overload("-_", a)


def _not(a: Any) -> bool:
    if type(a) is bool:
        return not a
    raise _no_overload("!_", a)


def _index(container: Any, key: Any) -> Any:
    if isinstance(container, (list, tuple)):
        tk = type(key)
        if tk is float:
            if not key.is_integer():
                raise CelEvalError(f"unsupported index value {key}")
            key = int(key)
        elif tk is not int and tk is not UInt:
            raise _no_overload("_[_]", container, key)
        if not 0 <= key < len(container):
            raise CelEvalError(f"index out of bounds: {key}")
        return container[key]
    if isinstance(container, dict):
        found, value = map_get(container, key)
        if not found:
            raise CelEvalError(f"no such key: {key}")
        return value
    raise _no_overload("_[_]", container, key)


def _in(element: Any, container: Any) -> bool:
    if isinstance(container, (list, tuple)):
        return any(cel_equals(element, item) for item in container)
    if isinstance(container, dict):
        return map_get(container, element)[0]
    raise _no_overload("@in", element, container)


def size_of(value: Any) -> int:
    """CEL ``size``: code points of a string, bytes of bytes, entries of a list or map."""
    if isinstance(value, (str, bytes, list, tuple, dict)):
        return len(value)
    raise _no_overload("size", value)


def _str_method(name: str, fn: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def method(s: Any, arg: Any) -> bool:
        if type(s) is not str or type(arg) is not str:
            raise _no_overload(name, s, arg)
        return fn(s, arg)

    return method


_REGEX_CACHE: dict[str, Any] = {}
_REGEX_CACHE_LIMIT = 1024
_REGEX_CACHE_MAX_PATTERN = 512  # longer patterns (from a request) are compiled, never cached


def compile_regex(pattern: str) -> Any:
    """Compile an RE2 pattern (cached). Raises CelEvalError when the pattern is invalid.

    RE2 (``google-re2``), as cel-go uses Go's RE2-syntax ``regexp``: linear-time matching, so a
    pattern taken from the request context cannot cause catastrophic backtracking. Imported here,
    not at module load, because only ``matches`` needs it.
    """
    import re2

    compiled = _REGEX_CACHE.get(pattern)
    if compiled is None:
        options = re2.Options()
        options.log_errors = False
        try:
            compiled = re2.compile(pattern, options)
        except re2.error as exc:
            detail = (
                exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
            )
            raise CelEvalError(f"invalid regular expression '{pattern}': {detail}") from None
        if len(pattern) <= _REGEX_CACHE_MAX_PATTERN:
            if len(_REGEX_CACHE) >= _REGEX_CACHE_LIMIT:
                _REGEX_CACHE.clear()
            _REGEX_CACHE[pattern] = compiled
    return compiled


def _matches(s: Any, pattern: Any) -> bool:
    if type(s) is not str or type(pattern) is not str:
        raise _no_overload("matches", s, pattern)
    return compile_regex(pattern).search(s) is not None


_GO_INT_CHARS = frozenset("0123456789")


def _parse_go_int(text: str, *, unsigned: bool) -> int:
    digits = text[1:] if text[:1] in ("+", "-") and not unsigned else text
    if not digits or not set(digits) <= _GO_INT_CHARS:
        raise CelEvalError(
            f"type conversion error from 'string' to '{'uint' if unsigned else 'int'}'"
        )
    return int(text, 10)


def _to_int(value: Any) -> int:
    t = type(value)
    if t is int:
        return int(value)
    if t is UInt:
        return _int(int(value))
    if t is float:
        if math.isnan(value) or not -(2.0**63) < value < 2.0**63:  # cel-go: MinInt64 excluded
            raise CelEvalError("integer overflow")
        return int(value)
    if t is str:
        return _int(_parse_go_int(value, unsigned=False))
    if t is Timestamp:
        return int(value.nanos // NANOS_PER_SECOND)
    raise _no_overload("int", value)


def _to_uint(value: Any) -> UInt:
    t = type(value)
    if t is UInt:
        same: UInt = value  # the type test above narrows it
        return same
    if t is int:
        if value < 0:
            raise CelEvalError("unsigned integer overflow")
        return UInt(value)
    if t is float:
        if math.isnan(value) or not 0 <= value < 2.0**64:
            raise CelEvalError("unsigned integer overflow")
        return UInt(int(value))
    if t is str:
        return _uint(_parse_go_int(value, unsigned=True))
    raise _no_overload("uint", value)


def _to_double(value: Any) -> float:
    t = type(value)
    if t is float:
        same: float = value  # the type test above narrows it
        return same
    if t is int or t is UInt:
        return float(value)
    if t is str:
        # Go's strconv.ParseFloat: no surrounding space; out-of-range values are errors, while
        # "Inf"/"Infinity"/"NaN" (any case) are accepted.
        error = CelEvalError("type conversion error from 'string' to 'double'")
        if not value or value != value.strip():
            raise error
        try:
            result = float(value)
        except ValueError:
            raise error from None
        if math.isinf(result) and value.lstrip("+-").lower() not in ("inf", "infinity"):
            raise error
        return result
    raise _no_overload("double", value)


def format_go_float(value: float) -> str:
    """Format like Go's ``%g`` with the shortest precision (what cel-go's ``string(double)`` does)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0.0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign = "-" if value < 0 else ""
    digits, exponent = _shortest_digits(repr(abs(value)))
    if exponent < -4 or exponent >= 6:
        head = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{head}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if exponent >= len(digits) - 1:
        return sign + digits + "0" * (exponent - len(digits) + 1)
    if exponent >= 0:
        return f"{sign}{digits[: exponent + 1]}.{digits[exponent + 1 :]}"
    return f"{sign}0.{'0' * (-exponent - 1)}{digits}"


def _shortest_digits(text: str) -> tuple[str, int]:
    """Python's shortest repr -> (significant digits, decimal exponent of the first digit)."""
    mantissa, _, exp_text = text.partition("e")
    exponent = int(exp_text) if exp_text else 0
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    leading_zeros = len(whole + frac) - len((whole + frac).lstrip("0"))
    exponent += len(whole) - 1 - leading_zeros
    digits = digits.rstrip("0") or "0"
    return digits, exponent


def _to_string(value: Any) -> str:
    t = type(value)
    if t is str:
        same: str = value  # the type test above narrows it
        return same
    if t is bool:
        return "true" if value else "false"
    if t is int or t is UInt:
        return str(int(value))
    if t is float:
        return format_go_float(value)
    if t is bytes:
        try:
            return str(value.decode("utf-8"))
        except UnicodeDecodeError:
            raise CelEvalError("invalid UTF-8 in bytes, cannot convert to string") from None
    if t is Timestamp:
        return format_rfc3339(value.nanos, value.offset)
    if t is Duration:
        return format_go_duration(value.nanos)
    raise _no_overload("string", value)


def _to_bytes(value: Any) -> bytes:
    if type(value) is bytes:
        return value
    if type(value) is str:
        return value.encode("utf-8")
    raise _no_overload("bytes", value)


_GO_BOOLS = {
    "1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
    "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False,
}  # fmt: skip


def _to_bool(value: Any) -> bool:
    if type(value) is bool:
        return value
    if type(value) is str:
        if value in _GO_BOOLS:
            return _GO_BOOLS[value]
        raise CelEvalError("type conversion error from 'string' to 'bool'")
    raise _no_overload("bool", value)


def _to_timestamp(value: Any) -> Timestamp:
    t = type(value)
    if t is Timestamp:
        same: Timestamp = value  # the type test above narrows it
        return same
    if t is str:
        try:
            return _timestamp(*parse_rfc3339_with_offset(value))
        except ValueError:
            raise CelEvalError(f"invalid RFC 3339 timestamp {go_quote(value)}") from None
    if t is int:
        return _timestamp(value * NANOS_PER_SECOND)
    raise _no_overload("timestamp", value)


def _to_duration(value: Any) -> Duration:
    t = type(value)
    if t is Duration:
        same: Duration = value  # the type test above narrows it
        return same
    if t is str:
        try:
            return Duration(parse_go_duration(value))
        except ValueError:
            raise CelEvalError(
                "type conversion error from 'string' to 'google.protobuf.Duration'"
            ) from None
    raise _no_overload("duration", value)


def _to_ipaddress(value: Any) -> IPAddress:
    if type(value) is not str:
        raise _no_overload("ipaddress", value)
    try:
        return IPAddress.parse(value)
    except ValueError:
        raise CelEvalError(go_parse_addr_error(value)) from None


def _in_cidr(ip: Any, cidr: Any) -> bool:
    if type(cidr) is not str:
        raise CelEvalError("a CIDR string is required for comparison")
    if type(ip) is not IPAddress:
        raise CelEvalError("an IPAddress parameter value is required for comparison")
    return ip.in_cidr(cidr)


def _local_seconds(ts: Timestamp, tz: str | None) -> int:
    seconds = ts.nanos // NANOS_PER_SECOND
    if not tz:  # None: UTC; "": Go's time.LoadLocation("") is UTC too
        return seconds
    if tz and tz[0] in "+-" and len(tz) == 6 and tz[3] == ":" and (tz[1:3] + tz[4:]).isdigit():
        offset = int(tz[1:3]) * 3600 + int(tz[4:]) * 60
        return seconds + (offset if tz[0] == "+" else -offset)
    if tz and (tz[0].isdigit()) and len(tz) == 5 and tz[2] == ":" and (tz[:2] + tz[3:]).isdigit():
        return seconds + int(tz[:2]) * 3600 + int(tz[3:]) * 60
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise CelEvalError(f"unknown time zone {tz}") from None
    # Python's datetime stops at years 1 and 9999 in local time too; a day inside the range has
    # the same offset there (no zone changes its rules at the ends of the calendar).
    probe = min(max(seconds, MIN_TIMESTAMP_SECONDS + 86400), MAX_TIMESTAMP_SECONDS - 86400)
    offset_delta = datetime.fromtimestamp(probe, UTC).astimezone(zone).utcoffset()
    return seconds + int(offset_delta.total_seconds()) if offset_delta is not None else seconds


def _time_getter(name: str) -> Callable[..., int]:
    def getter(value: Any, tz: Any = None) -> int:
        if type(value) is Duration:
            if tz is not None:
                raise _no_overload(name, value, tz)
            unit = {
                "getHours": 3600 * NANOS_PER_SECOND,
                "getMinutes": 60 * NANOS_PER_SECOND,
                "getSeconds": NANOS_PER_SECOND,
                "getMilliseconds": 1_000_000,
            }.get(name)
            if unit is None:
                raise _no_overload(name, value)
            return _trunc_div(value.nanos, unit)
        if type(value) is not Timestamp or (tz is not None and type(tz) is not str):
            raise _no_overload(name, value, *(() if tz is None else (tz,)))
        if name == "getMilliseconds":
            _local_seconds(value, tz)  # an unknown time zone is an error here too, as in cel-go
            return (value.nanos % NANOS_PER_SECOND) // 1_000_000
        year, month, day, hour, minute, second, dow, yday = civil_from_unix_seconds(
            _local_seconds(value, tz)
        )
        return {
            "getFullYear": year,
            "getMonth": month - 1,
            "getDayOfYear": yday,
            "getDayOfMonth": day - 1,
            "getDate": day,
            "getDayOfWeek": dow,
            "getHours": hour,
            "getMinutes": minute,
            "getSeconds": second,
        }[name]

    return getter


# ---------------------------------------------------------------------------------------------
# The library: one entry per function (signatures as the checker sees them, implementation, cost)

_NUMERIC = (INT, UINT, DOUBLE)
_COMPARABLE = (BOOL, INT, UINT, DOUBLE, STRING, BYTES, TIMESTAMP, DURATION)
_SIZED = (STRING, BYTES, list_of(A), map_of(A, B))

define("!_", [((BOOL,), BOOL)])(_not)
define("-_", [((INT,), INT), ((DOUBLE,), DOUBLE)])(_negate)
# Evaluated lazily by the interpreter (short-circuit, error absorption): no implementation.
define("_&&_", [((BOOL, BOOL), BOOL)])(None)
define("_||_", [((BOOL, BOOL), BOOL)])(None)
define("_?_:_", [((BOOL, A, A), A)])(None)
define("_==_", [((A, A), BOOL)], cost=equality_cost)(cel_equals)
define("_!=_", [((A, A), BOOL)], cost=equality_cost)(lambda a, b: not cel_equals(a, b))
define("_<_", [((t, t), BOOL) for t in _COMPARABLE], cost=ordering_cost)(_less)
define("_<=_", [((t, t), BOOL) for t in _COMPARABLE], cost=ordering_cost)(_less_eq)
define("_>_", [((t, t), BOOL) for t in _COMPARABLE], cost=ordering_cost)(_greater)
define("_>=_", [((t, t), BOOL) for t in _COMPARABLE], cost=ordering_cost)(_greater_eq)
define(
    "_+_",
    [
        *(((t, t), t) for t in (INT, UINT, DOUBLE, STRING, BYTES)),
        ((list_of(A), list_of(A)), list_of(A)),
        ((TIMESTAMP, DURATION), TIMESTAMP),
        ((DURATION, TIMESTAMP), TIMESTAMP),
        ((DURATION, DURATION), DURATION),
    ],
    cost=concat_cost,
)(_add)
define(
    "_-_",
    [
        *(((t, t), t) for t in _NUMERIC),
        ((TIMESTAMP, TIMESTAMP), DURATION),
        ((TIMESTAMP, DURATION), TIMESTAMP),
        ((DURATION, DURATION), DURATION),
    ],
)(_subtract)
define("_*_", [((t, t), t) for t in _NUMERIC])(_multiply)
define("_/_", [((t, t), t) for t in _NUMERIC])(_divide)
define("_%_", [((t, t), t) for t in (INT, UINT)])(_modulo)
define("_[_]", [((list_of(A), INT), A), ((map_of(A, B), A), B)])(_index)
define("@in", [((A, list_of(A)), BOOL), ((A, map_of(A, B)), BOOL)], cost=membership_cost)(_in)
define("size", [((t,), INT) for t in _SIZED], member=[((t,), INT) for t in _SIZED])(size_of)
define("contains", member=[((STRING, STRING), BOOL)], cost=contains_cost)(
    _str_method("contains", lambda s, sub: sub in s)
)
define("startsWith", member=[((STRING, STRING), BOOL)], cost=suffix_cost)(
    _str_method("startsWith", str.startswith)
)
define("endsWith", member=[((STRING, STRING), BOOL)], cost=suffix_cost)(
    _str_method("endsWith", str.endswith)
)
define(
    "matches",
    [((STRING, STRING), BOOL)],
    member=[((STRING, STRING), BOOL)],
    cost=regex_cost,
)(_matches)
define("int", [((t,), INT) for t in (INT, UINT, DOUBLE, STRING, TIMESTAMP)], foldable=True)(_to_int)
define("uint", [((t,), UINT) for t in (INT, UINT, DOUBLE, STRING)], foldable=True)(_to_uint)
define("double", [((t,), DOUBLE) for t in (INT, UINT, DOUBLE, STRING)], foldable=True)(_to_double)
define(
    "string",
    [((t,), STRING) for t in (INT, UINT, DOUBLE, STRING, BYTES, BOOL, TIMESTAMP, DURATION)],
    cost=conversion_cost(bytes),
    foldable=True,
)(_to_string)
define("bytes", [((t,), BYTES) for t in (STRING, BYTES)], cost=conversion_cost(str), foldable=True)(
    _to_bytes
)
define("bool", [((t,), BOOL) for t in (BOOL, STRING)], foldable=True)(_to_bool)
define("timestamp", [((t,), TIMESTAMP) for t in (STRING, TIMESTAMP, INT)], foldable=True)(
    _to_timestamp
)
define("duration", [((t,), DURATION) for t in (STRING, DURATION)], foldable=True)(_to_duration)
define("dyn", [((A,), DYN)], foldable=True)(lambda value: value)
define("type", [((A,), ("type", A))], foldable=True)(lambda value: TypeValue(type_name(value)))
define("ipaddress", [((STRING,), IPADDRESS)])(_to_ipaddress)
define("in_cidr", member=[((IPADDRESS, STRING), BOOL)])(_in_cidr)
for _getter in (
    "getFullYear", "getMonth", "getDayOfYear", "getDayOfMonth", "getDate", "getDayOfWeek",
    "getHours", "getMinutes", "getSeconds", "getMilliseconds",
):  # fmt: skip
    _on_durations = _getter in ("getHours", "getMinutes", "getSeconds", "getMilliseconds")
    define(
        _getter,
        member=[
            ((TIMESTAMP,), INT),
            ((TIMESTAMP, STRING), INT),
            *([((DURATION,), INT)] if _on_durations else []),
        ],
    )(_time_getter(_getter))
