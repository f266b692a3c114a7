"""The conformance suites' pass-count summary printed at the end of the session (their
``datastore`` is the one of ``tests/conftest.py``)."""

from __future__ import annotations

from typing import Any

from tests.conformance.summary import COUNTS, EXPLAIN_COUNTS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if EXPLAIN_COUNTS:
        terminalreporter.section("Explanations verified")
        for (corpus, backend), counts in sorted(EXPLAIN_COUNTS.items()):
            w, steps, d, settled, refused, revisions = counts
            terminalreporter.write_line(
                f"{corpus:<11} {backend:<8} witnesses {w} ({steps} steps, {revisions} tuple "
                f"revisions)  denials {d} (+{settled} settled nodes) agree with Check  "
                f"refused by both {refused}"
            )
    if not COUNTS:
        return
    terminalreporter.section("OpenFGA conformance")
    for (suite, mode, backend), (tp, tn, ap, an) in sorted(COUNTS.items()):
        terminalreporter.write_line(
            f"{suite:<13} {mode:<10} {backend:<8} tests {tp}/{tn}  assertions {ap}/{an}"
        )
