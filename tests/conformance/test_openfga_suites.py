"""OpenFGA's own conformance suites (consolidated_1_1_tests.yaml, abac_tests.yaml), in both of
OpenFGA's modes (tuples stored; tuples sent as contextual tuples), against every backend.

One pytest item per (suite, test name, mode, backend). The session summary prints the pass
counts per suite, mode and backend (``tests/conformance/conftest.py``).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.runner import MODES, load_suite, run_test
from tests.conformance.summary import COUNTS
from tests.conftest import OPENFGA_SUITES

SUITES = {
    "consolidated": OPENFGA_SUITES / "consolidated_1_1_tests.yaml",
    "abac": OPENFGA_SUITES / "abac_tests.yaml",
}

pytestmark = pytest.mark.backends("memory", "sqlite", "postgres")
"""The database backends; the in-memory index runs these suites in tests/store/index/."""

SKIPPED: dict[tuple[str, str], str] = {}
"""(test name, mode) -> reason. Empty: every case runs in both modes (see the README section)."""


def _cases() -> list[Any]:
    out = []
    for suite, path in SUITES.items():
        for test in load_suite(path):
            for mode in MODES:
                marks = []
                reason = SKIPPED.get((test["name"], mode))
                if reason:
                    marks.append(pytest.mark.skip(reason=reason))
                out.append(
                    pytest.param(
                        suite, test, mode, id=f"{suite}-{test['name']}-{mode}", marks=marks
                    )
                )
    return out


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("suite", "test", "mode"), _cases())
async def test_conformance(
    datastore: Any, backend_name: str, suite: str, test: dict[str, Any], mode: str
) -> None:
    backend = backend_name
    results = await run_test(datastore, test, mode)
    failed = [r for r in results if not r.passed]
    counts = COUNTS[(suite, mode, backend)]
    counts[0] += not failed
    counts[1] += 1
    counts[2] += len(results) - len(failed)
    counts[3] += len(results)
    assert not failed, "\n".join(f"{r.where}: {r.problem}" for r in failed)
