"""Pass counts of the conformance run, shared by the tests and the session summary hook."""

from __future__ import annotations

from collections import defaultdict

COUNTS: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
"""(suite, mode, backend) -> [tests passed, tests run, assertions passed, assertions run]."""
