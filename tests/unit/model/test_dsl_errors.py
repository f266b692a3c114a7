"""Syntax errors: every case of tests/golden/dsl_errors.yaml reports exactly its located errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from permsvc.model.compile import parse_dsl
from permsvc.model.errors import DslSyntaxError

CASES = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "golden" / "dsl_errors.yaml").read_text()
)


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in CASES])
def test_syntax_errors_are_located(case: dict) -> None:
    with pytest.raises(DslSyntaxError) as info:
        parse_dsl(case["dsl"], "model.fga")
    got = [(i.line, i.column, i.message) for i in info.value.issues]
    expected = case["expected_errors"]
    assert len(got) == len(expected), got
    for (line, column, message), want in zip(got, expected, strict=True):
        assert (line, column) == (want["line"], want["column"]), got
        assert want["msg"] in message
    assert all(i.file == "model.fga" for i in info.value.issues)
