"""OpenFGA's conformance suites evaluated on the in-memory index: an IndexedDatastore over the
memory backend (tuples written through it, so every check reads the index at the write's revision).
Same pass criterion as ``tests/conformance``: every assertion of every test."""

from __future__ import annotations

from typing import Any

import pytest

from permsvc.store.index import IndexedDatastore
from permsvc.store.memory import MemoryDatastore
from tests.conformance.runner import load_suite, run_test
from tests.conftest import OPENFGA_SUITES

_SUITES = {
    "consolidated": OPENFGA_SUITES / "consolidated_1_1_tests.yaml",
    "abac": OPENFGA_SUITES / "abac_tests.yaml",
}


def _cases() -> list[Any]:
    return [
        pytest.param(test, id=f"{suite}-{test['name']}")
        for suite, path in _SUITES.items()
        for test in load_suite(path)
    ]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("test", _cases())
async def test_conformance_on_the_index(test: dict[str, Any]) -> None:
    indexed = IndexedDatastore(MemoryDatastore(), poll_s=3600)
    await indexed.start()
    try:
        results = await run_test(indexed, test, "stored")
        if any(stage.get("tuples") for stage in test["stages"]):
            assert indexed.indexed_tuples() > 0, "the tuples were written through the index"
    finally:
        await indexed.aclose()
    failed = [r for r in results if not r.passed]
    assert not failed, "\n".join(f"{r.where}: {r.problem}" for r in failed)
