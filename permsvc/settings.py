"""Settings and their defaults. Every tunable limit lives here (OpenFGA keeps its defaults together
in pkg/server/config/config.go; so do we).

Server settings are loaded from ``PERMSVC_*`` environment variables by :func:`Settings.from_env`.
"""

from __future__ import annotations

import msgspec

__all__ = (
    "DEFAULT_CHECK_DEADLINE_S",
    "DEFAULT_LIST_DEADLINE_S",
    "DEFAULT_LIST_MAX_RESULTS",
    "DEFAULT_MAX_CONCURRENT_DISPATCHES",
    "DEFAULT_MAX_CONTEXTUAL_TUPLES",
    "DEFAULT_MAX_DISPATCHES",
    "DEFAULT_MAX_RESOLUTION_DEPTH",
    "DEFAULT_MAX_TUPLES_PER_WRITE",
    "DEFAULT_MAX_BATCH_CHECK_ITEMS",
    "DEFAULT_MAX_MODEL_BYTES",
    "DEFAULT_MAX_TYPES_PER_MODEL",
    "EngineLimits",
)

DEFAULT_MAX_RESOLUTION_DEPTH = 25
"""Dispatch depth after which Check fails with ``authorization_model_resolution_too_complex``."""

DEFAULT_MAX_DISPATCHES = 100_000
"""Upper bound on sub-problems (dispatches) one request may evaluate before it is refused."""

DEFAULT_MAX_CONCURRENT_DISPATCHES = 32
"""Concurrent branches per request when reads go to a database (the in-memory index evaluates inline)."""

DEFAULT_CHECK_DEADLINE_S = 3.0
"""Wall-clock budget of one Check (and each item of a BatchCheck)."""

DEFAULT_LIST_DEADLINE_S = 10.0
"""Wall-clock budget of one ListObjects / ListUsers page."""

DEFAULT_LIST_MAX_RESULTS = 1000
"""Page size of ListObjects / ListUsers; more results are reached with the continuation token."""

DEFAULT_MAX_CONTEXTUAL_TUPLES = 100
DEFAULT_MAX_TUPLES_PER_WRITE = 100
DEFAULT_MAX_BATCH_CHECK_ITEMS = 50
DEFAULT_MAX_TYPES_PER_MODEL = 100
DEFAULT_MAX_MODEL_BYTES = 256 * 1024


class EngineLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Per-request work bounds of the engine. Exceeding one is a precise error, never a hang."""

    max_resolution_depth: int = DEFAULT_MAX_RESOLUTION_DEPTH
    max_dispatches: int = DEFAULT_MAX_DISPATCHES
    max_concurrent_dispatches: int = DEFAULT_MAX_CONCURRENT_DISPATCHES
    check_deadline_s: float = DEFAULT_CHECK_DEADLINE_S
    list_deadline_s: float = DEFAULT_LIST_DEADLINE_S
    list_max_results: int = DEFAULT_LIST_MAX_RESULTS
