"""ULID generation (https://github.com/ulid/spec): 48-bit millisecond time + 80 random bits.

The OpenFGA SDKs require store and model ids to match ``^[0-7][0-9A-HJKMNP-TV-Z]{25}$``; a ULID's
first character is always 0-7 until the year 10889. Ids made within one millisecond by one process
are monotonic (the random part is incremented), so ordering by id is ordering by creation.
"""

from __future__ import annotations

import os
import re
import threading
import time

__all__ = ("ULID_PATTERN", "is_ulid", "new_ulid", "ulid_time_ms")

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ULID_PATTERN = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")

_lock = threading.Lock()
_last_ms = -1
_last_rand = 0


def _encode(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))


def new_ulid(now_ms: int | None = None) -> str:
    """A new ULID string (26 chars, Crockford base32, monotonic within a process)."""
    global _last_ms, _last_rand
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    with _lock:
        if ms <= _last_ms:
            ms = _last_ms
            _last_rand = (_last_rand + 1) & ((1 << 80) - 1)
        else:
            _last_ms = ms
            _last_rand = int.from_bytes(os.urandom(10), "big") >> 1  # headroom for increments
        rand = _last_rand
    return _encode(ms, 10) + _encode(rand, 16)


def is_ulid(value: str) -> bool:
    return bool(ULID_PATTERN.match(value))


def ulid_time_ms(value: str) -> int:
    """The millisecond timestamp encoded in a ULID."""
    ms = 0
    for ch in value[:10]:
        ms = ms * 32 + _ALPHABET.index(ch)
    return ms
