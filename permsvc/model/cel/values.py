"""CEL runtime values that Python has no exact native type for.

CEL ``int`` is Python ``int``, ``double`` is ``float``, ``string`` is ``str``, ``bytes`` is
``bytes``, ``bool`` is ``bool``, ``null`` is ``None``, lists are ``tuple``/``list`` and maps are
``dict``. The rest are defined here: :class:`UInt` (so ``1u`` and ``1`` stay distinct types),
:class:`Timestamp` and :class:`Duration` (integer nanoseconds, as Go's ``time`` package keeps them,
so no precision is lost to ``datetime``'s microseconds) and OpenFGA's :class:`IPAddress`.

The string formats are Go's, because OpenFGA parses context values with Go: durations with
``time.ParseDuration`` and timestamps with ``time.Parse(time.RFC3339, ...)``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

__all__ = (
    "CelEvalError",
    "Duration",
    "IPAddress",
    "Timestamp",
    "TypeValue",
    "UInt",
    "format_rfc3339",
    "parse_cidr",
    "parse_go_duration",
    "parse_rfc3339",
    "parse_rfc3339_with_offset",
    "type_name",
)

NANOS_PER_SECOND = 1_000_000_000
# CEL's timestamp range: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z (Unix seconds).
MIN_TIMESTAMP_SECONDS = -62135596800
MAX_TIMESTAMP_SECONDS = 253402300799
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1


class CelEvalError(Exception):
    """A CEL evaluation error value (``no such overload``, ``division by zero``, ...).

    CEL's ``&&``, ``||`` and the comprehension macros absorb these when the other operand decides
    the result, so they are raised and caught inside the interpreter, never shown raw to clients.
    """


class UInt(int):
    """A CEL ``uint`` (0 .. 2**64-1). Distinct from ``int`` so overloads and ``type()`` see it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"{int(self)}u"


# The value classes below are equal (and hash alike) when of the same class with equal compared
# fields, and never equal to a value of another type.


@dataclass(slots=True, unsafe_hash=True, repr=False)
class Duration:
    """A signed span of time in nanoseconds (CEL ``google.protobuf.Duration``)."""

    nanos: int

    def __repr__(self) -> str:
        return f"Duration({format_go_duration(self.nanos)})"


@dataclass(slots=True, unsafe_hash=True, repr=False)
class Timestamp:
    """An instant as nanoseconds since the Unix epoch (CEL ``google.protobuf.Timestamp``).

    ``offset`` is the UTC offset in seconds the value was written with (``+02:00`` -> 7200). Like
    a Go ``time.Time`` it only shows in ``string(ts)`` (and survives ``ts + duration``); equality,
    ordering and the ``get*`` accessors without a time zone argument use the instant (UTC).
    """

    nanos: int
    offset: int = field(default=0, compare=False)

    def __repr__(self) -> str:
        return f"Timestamp({format_rfc3339(self.nanos, self.offset)})"


@dataclass(slots=True, unsafe_hash=True, repr=False)
class TypeValue:
    """A CEL type as a value (``type(x)``, ``int``, ``string``): compared by name."""

    name: str

    def __repr__(self) -> str:
        return self.name


@dataclass(slots=True, unsafe_hash=True, repr=False)
class IPAddress:
    """OpenFGA's ``ipaddress`` condition type (Go ``netip.Addr``, IPv4-mapped IPv6 unmapped)."""

    addr: ipaddress.IPv4Address | ipaddress.IPv6Address

    @classmethod
    def parse(cls, text: str) -> IPAddress:
        """Parse like Go's ``netip.ParseAddr``: dotted IPv4 without leading zeros, or IPv6 with an
        optional ``%zone``.

        Raises:
            ValueError: not a well-formed address.
        """
        if not text or text != text.strip():
            raise ValueError(f"ParseAddr({text!r}): unable to parse IP")
        addr = ipaddress.ip_address(text)
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            # OpenFGA unmaps: "::ffff:10.0.0.1" is the IPv4 address 10.0.0.1 (equal, in 10/8).
            return cls(addr.ipv4_mapped)
        return cls(addr)

    def in_cidr(self, cidr: str) -> bool:
        """Whether this address lies in ``cidr``; an IPv4-mapped IPv6 prefix counts as IPv4.

        Raises:
            CelEvalError: ``cidr`` is not a well-formed CIDR string.
        """
        network = parse_cidr(cidr)
        addr = self.addr
        if isinstance(addr, ipaddress.IPv6Address) and addr.scope_id:
            return False
        mapped = network.network_address.ipv4_mapped if network.version == 6 else None
        if mapped is not None and network.prefixlen >= 96:
            # An IPv4-mapped prefix (::ffff:10.0.0.0/104) is the IPv4 prefix 10.0.0.0/8.
            network = ipaddress.IPv4Network((mapped, network.prefixlen - 96), strict=False)
        if addr.version != network.version:
            return False
        return addr in network

    def __str__(self) -> str:
        return str(self.addr)

    def __repr__(self) -> str:
        return f"IPAddress({self.addr})"


_CIDR_RE = re.compile(r"^([^/]+)/([0-9]{1,3})$")


def parse_cidr(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """Parse a CIDR like Go's ``netip.ParsePrefix`` (host bits may be set; no zones).

    Raises:
        CelEvalError: malformed CIDR string.
    """
    if len(cidr) > 64:  # longer than any IPv6 CIDR; also keeps the cache small
        raise CelEvalError(f"'{cidr}' is a malformed CIDR string")
    return _parse_cidr(cidr)


@lru_cache(maxsize=1024)
def _parse_cidr(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    m = _CIDR_RE.match(cidr)
    if m is None or "%" in cidr or (len(m.group(2)) > 1 and m.group(2).startswith("0")):
        raise CelEvalError(f"'{cidr}' is a malformed CIDR string")
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise CelEvalError(f"'{cidr}' is a malformed CIDR string") from None


_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": NANOS_PER_SECOND,
    "m": 60 * NANOS_PER_SECOND,
    "h": 3600 * NANOS_PER_SECOND,
}
_DURATION_PART_RE = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]+)")


def parse_go_duration(text: str) -> int:
    """Parse a Go duration string (``"1h30m"``, ``"-1.5s"``, ``"300ms"``, ``"0"``) to nanoseconds.

    Mirrors ``time.ParseDuration``: a sequence of decimal numbers with units, an optional leading
    sign, the bare ``"0"``, and a result that must fit in an int64 of nanoseconds.

    Raises:
        ValueError: not a valid duration string.
    """
    orig = text
    neg = False
    if text and text[0] in "+-":
        neg = text[0] == "-"
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise ValueError(f'time: invalid duration "{orig}"')
    total = 0
    pos = 0
    while pos < len(text):
        m = _DURATION_PART_RE.match(text, pos)
        if m is None:
            raise ValueError(f'time: invalid duration "{orig}"')
        whole, frac, unit = m.group(1), m.group(2), m.group(3)
        if not whole and not frac:
            raise ValueError(f'time: invalid duration "{orig}"')
        scale = _DURATION_UNITS.get(unit)
        if scale is None:
            raise ValueError(f'time: unknown unit "{unit}" in duration "{orig}"')
        value = int(whole or "0") * scale
        if frac:
            value += int(frac) * scale // (10 ** len(frac))
        total += value
        if total > 2**63:
            raise ValueError(f'time: invalid duration "{orig}"')
        pos = m.end()
    if neg:
        total = -total
    if not INT64_MIN <= total <= INT64_MAX:
        raise ValueError(f'time: invalid duration "{orig}"')
    return total


def format_go_duration(nanos: int) -> str:
    """Format nanoseconds the way CEL's ``string(duration)`` does: seconds with a trailing ``s``."""
    sign = "-" if nanos < 0 else ""
    whole, frac = divmod(abs(nanos), NANOS_PER_SECOND)
    if frac == 0:
        return f"{sign}{whole}s"
    return f"{sign}{whole}.{frac:09d}".rstrip("0") + "s"


_RFC3339_RE = re.compile(
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:[.,]([0-9]+))?(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))$"
)
_DAYS_BEFORE_MONTH = (0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_from_civil(year: int, month: int, day: int) -> int:
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_rfc3339(text: str) -> int:
    """Parse an RFC 3339 timestamp like Go's ``time.Parse(time.RFC3339, s)``; returns Unix nanos.

    Raises:
        ValueError: not an RFC 3339 timestamp (or an impossible date/time).
    """
    return parse_rfc3339_with_offset(text)[0]


def parse_rfc3339_with_offset(text: str) -> tuple[int, int]:
    """Parse an RFC 3339 timestamp like Go's ``time.Parse(time.RFC3339, s)``.

    Returns (Unix nanoseconds, UTC offset in seconds). Fractional seconds of any length are
    accepted (digits past nanoseconds are dropped) as Go accepts them; ``T`` and ``Z`` must be
    upper case; the offset is ``Z`` or ``±hh:mm`` with hh up to 24.

    Raises:
        ValueError: not an RFC 3339 timestamp (or an impossible date/time).
    """
    m = _RFC3339_RE.match(text)
    if m is None:
        raise ValueError(f'cannot parse "{text}" as RFC 3339')
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    if not 1 <= month <= 12:
        raise ValueError(f'parsing time "{text}": month out of range')
    dim = (
        29
        if month == 2 and _is_leap(year)
        else (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    )
    if not 1 <= day <= dim or hour > 23 or minute > 59 or second > 59:
        raise ValueError(f'parsing time "{text}": day, hour, minute or second out of range')
    frac = (m.group(7) or "")[:9]
    nanos = int(frac.ljust(9, "0")) if frac else 0
    offset = 0
    if m.group(8) is None:
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 24 or om > 59:
            raise ValueError(f'parsing time "{text}": time zone offset out of range')
        offset = (oh * 3600 + om * 60) * (-1 if m.group(9) == "-" else 1)
    seconds = (
        _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset
    )
    return seconds * NANOS_PER_SECOND + nanos, offset


def civil_from_unix_seconds(seconds: int) -> tuple[int, int, int, int, int, int, int, int]:
    """Unix seconds -> (year, month, day, hour, minute, second, day_of_week (0=Sunday), day_of_year (0-based))."""
    days, rem = divmod(seconds, 86400)
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = y + (month <= 2)
    hour, rem = divmod(rem, 3600)
    minute, second = divmod(rem, 60)
    dow = (days + 4) % 7
    yday = _DAYS_BEFORE_MONTH[month] + d - 1 + (1 if month > 2 and _is_leap(year) else 0)
    return year, month, d, hour, minute, second, dow, yday


def format_rfc3339(nanos: int, offset: int = 0) -> str:
    """Format Unix nanoseconds as RFC 3339 at the given UTC offset (seconds), with minimal
    fractional digits, like Go's ``time.RFC3339Nano``: ``Z`` for UTC, else ``±hh:mm``."""
    seconds, frac = divmod(nanos, NANOS_PER_SECOND)
    year, month, day, hour, minute, second, _, _ = civil_from_unix_seconds(seconds + offset)
    base = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    if frac:
        base += f".{frac:09d}".rstrip("0")
    if offset == 0:
        return base + "Z"
    sign = "+" if offset > 0 else "-"
    hours, minutes = divmod(abs(offset) // 60, 60)
    return f"{base}{sign}{hours:02d}:{minutes:02d}"


def type_name(value: Any) -> str:
    """CEL's name for the runtime type of ``value`` (as used in error messages)."""
    if value is None:
        return "null_type"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, UInt):
        return "uint"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes):
        return "bytes"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, Timestamp):
        return "google.protobuf.Timestamp"
    if isinstance(value, Duration):
        return "google.protobuf.Duration"
    if isinstance(value, IPAddress):
        return "IPAddress"
    if isinstance(value, TypeValue):
        return "type"
    return type(value).__name__


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote``: double quotes, C escapes, non-printable characters as ``\\u``."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
               "\v": "\\v"}  # fmt: skip


def go_parse_addr_error(text: str) -> str:
    """The error Go's ``netip.ParseAddr`` gives for ``text`` (which OpenFGA's ``ipaddress()``
    reports verbatim), for a string :meth:`IPAddress.parse` refused."""
    msg, at = _go_addr_problem(text.encode("utf-8"))
    shown = f"ParseAddr({go_quote(text)}): {msg}"
    if at:
        shown += f" (at {go_quote(at.decode('utf-8', 'replace'))})"
    return shown


def _go_addr_problem(s: bytes) -> tuple[str, bytes]:
    for byte in s:
        if byte == ord("."):
            return _go_ipv4_problem(s)
        if byte == ord(":"):
            return _go_ipv6_problem(s)
        if byte == ord("%"):
            return "missing IPv6 address", b""
    return "unable to parse IP", b""


def _go_ipv4_problem(s: bytes) -> tuple[str, bytes]:
    val = pos = dig_len = 0
    for i, c in enumerate(s):
        if 0x30 <= c <= 0x39:
            if dig_len == 1 and val == 0:
                return "IPv4 field has octet with leading zero", b""
            val = val * 10 + c - 0x30
            dig_len += 1
            if val > 255:
                return "IPv4 field has value >255", b""
        elif c == ord("."):
            if i == 0 or i == len(s) - 1 or s[i - 1] == ord("."):
                return "IPv4 field must have at least one digit", s[i:]
            if pos == 3:
                return "IPv4 address too long", b""
            pos += 1
            val = dig_len = 0
        else:
            return "unexpected character", s[i:]
    if pos < 3:
        return "IPv4 address too short", b""
    return "unable to parse IP", b""


def _go_ipv6_problem(s: bytes) -> tuple[str, bytes]:
    zone_at = s.find(b"%")
    if zone_at != -1:
        if zone_at == len(s) - 1:
            return "zone must be a non-empty string", b""
        s = s[:zone_at]
    ellipsis = -1
    if s[:2] == b"::":
        ellipsis = 0
        s = s[2:]
        if not s:
            return "unable to parse IP", b""
    i = 0
    while i < 16:
        off = 0
        acc = 0
        while off < len(s):
            c = chr(s[off])
            if c not in "0123456789abcdefABCDEF":
                break
            acc = (acc << 4) + int(c, 16)
            if off > 3:
                return "each group must have 4 or less digits", s
            if acc > 0xFFFF:
                return "IPv6 field has value >=2^16", s
            off += 1
        if off == 0:
            return "each colon-separated field must have at least one digit", s
        if off < len(s) and s[off] == ord("."):
            if ellipsis < 0 and i != 12:
                return "embedded IPv4 address must replace the final 2 fields of the address", s
            if i + 4 > 16:
                return "too many hex fields to fit an embedded IPv4 at the end of the address", s
            return _go_ipv4_problem(s)  # Go reports the embedded address's own problem
        i += 2
        s = s[off:]
        if not s:
            break
        if s[0] != ord(":"):
            return "unexpected character, want colon", s
        if len(s) == 1:
            return "colon must be followed by more characters", s
        s = s[1:]
        if s[0] == ord(":"):
            if ellipsis >= 0:
                return "multiple :: in address", s
            ellipsis = i
            s = s[1:]
            if not s:
                break
    if s:
        return "trailing garbage after address", s
    if i < 16 and ellipsis < 0:
        return "address string too short", b""
    if i >= 16 and ellipsis >= 0:
        return "the :: must expand to at least one field of zeros", b""
    return "unable to parse IP", b""
