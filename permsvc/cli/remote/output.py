"""Human-readable tables and ``--json`` output of the remote commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ("emit_json", "print_table", "ulid_time")

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, empty: str = "") -> None:
    """Columns padded to their widest cell, a header row, two spaces between columns."""
    if not rows:
        if empty:
            print(empty, file=sys.stderr)
        return
    cells = [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    out = sys.stdout
    out.write(
        "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip() + "\n"
    )
    for row in cells:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def ulid_time(ulid: str) -> str:
    """The creation time a ULID carries (its first 10 characters), as RFC 3339 UTC; ``""``
    when the id is no ULID."""
    import datetime as dt

    try:
        ms = 0
        for char in ulid[:10].upper():
            ms = ms * 32 + _CROCKFORD.index(char)
        when = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    except (ValueError, OverflowError, OSError):
        return ""
    if len(ulid) != 26:
        return ""
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")
