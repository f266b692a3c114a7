"""Conformance suite fixtures and the pass-count summary printed at the end of the session."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.backends import BACKENDS, POSTGRES_BACKENDS
from tests.conformance.summary import COUNTS, EXPLAIN_COUNTS

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

@pytest.fixture(
    params=[
        pytest.param(name, marks=[pytest.mark.postgres] if name in POSTGRES_BACKENDS else [], id=name)
        for name in BACKENDS
    ]
)
async def datastore(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    async with BACKENDS[request.param]() as store:
        yield store


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if EXPLAIN_COUNTS:
        terminalreporter.section("Explanations verified")
        for backend, (w, steps, d, settled, refused) in sorted(EXPLAIN_COUNTS.items()):
            terminalreporter.write_line(
                f"{backend:<8} witnesses {w} ({steps} steps)  denials {d} (+{settled} settled nodes) "
                f"agree with Check  refused by both {refused}"
            )
    if not COUNTS:
        return
    terminalreporter.section("OpenFGA conformance")
    for (suite, mode, backend), (tp, tn, ap, an) in sorted(COUNTS.items()):
        terminalreporter.write_line(
            f"{suite:<13} {mode:<10} {backend:<8} tests {tp}/{tn}  assertions {ap}/{an}"
        )
