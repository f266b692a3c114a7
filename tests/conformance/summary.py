"""Pass counts of the conformance run, shared by the tests and the session summary hook."""

from __future__ import annotations

from collections import defaultdict

COUNTS: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
"""(suite, mode, backend) -> [tests passed, tests run, assertions passed, assertions run]."""

EXPLAIN_COUNTS: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])
"""(corpus, backend) -> [witnesses verified, witness steps verified, denials checked against Check, settled
denial nodes checked against Check, requests refused by both explain and Check, stored tuples whose write revision was verified]. The corpora: ``conformance`` (OpenFGA's suites),
``random`` (random data), ``samples`` (the store test files of the repository)."""
