"""Semantic validation: located errors for tests/golden/semantic_errors.yaml, and the JSON path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from permsvc.model.compile import compile_dsl, parse_dsl
from permsvc.model.errors import ModelValidationError
from permsvc.model.json import model_from_json, model_to_json
from permsvc.model.typesystem import TypeSystem
from permsvc.model.validation import (
    MAX_TYPES,
    _entrypoint_fixpoint,
    _Validator,
    collect_issues,
    validate_model,
)
from tests.conftest import OPENFGA_SUITES

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
CASES = yaml.safe_load((GOLDEN / "semantic_errors.yaml").read_text())


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in CASES])
def test_semantic_errors_are_located(case: dict) -> None:
    loaded = compile_dsl(case["dsl"], "model.fga")
    with pytest.raises(ModelValidationError) as info:
        validate_model(loaded.model, locations=loaded.locations)
    got = [(i.line, i.column, i.message) for i in info.value.issues]
    expected = case["expected_errors"]
    assert len(got) == len(expected), got
    for (line, column, message), want in zip(got, expected, strict=True):
        assert (line, column) == (want["line"], want["column"]), got
        assert want["msg"] in message


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in CASES])
def test_same_errors_from_json_name_the_relation(case: dict) -> None:
    model = model_from_json(model_to_json(parse_dsl(case["dsl"])))
    issues = collect_issues(model)
    assert len(issues) == len(case["expected_errors"])
    assert all(i.line == 0 and i.message for i in issues)
    for issue in issues:
        if issue.relation:
            subject = f"{issue.object_type}#{issue.relation}"
            assert issue.message.startswith(f"{subject}: ") or f"'{subject}'" in issue.message


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, id=p.parent.name) for p in sorted((GOLDEN / "dsl").glob("*/model.fga"))],
)
def test_golden_models_are_valid(path: Path) -> None:
    TypeSystem.validated(parse_dsl(path.read_text(), str(path)))


def test_type_limit() -> None:
    dsl = "model\n  schema 1.1\n" + "".join(f"type t{i}\n" for i in range(MAX_TYPES + 1))
    with pytest.raises(ModelValidationError, match=f"defines {MAX_TYPES + 1} types"):
        validate_model(parse_dsl(dsl))
    validate_model(
        parse_dsl("model\n  schema 1.1\n" + "".join(f"type t{i}\n" for i in range(MAX_TYPES)))
    )


def test_json_only_rules() -> None:
    model = model_from_json(
        {
            "schema_version": "1.1",
            "type_definitions": [
                {"type": "user"},
                {
                    "type": "doc",
                    "relations": {"a": {"this": {}}, "b": {"computedUserset": {"relation": "a"}}},
                    "metadata": {
                        "relations": {"b": {"directly_related_user_types": [{"type": "user"}]}}
                    },
                },
            ],
            "conditions": {
                "k": {
                    "name": "other",
                    "expression": "x < 1",
                    "parameters": {"x": {"type_name": "TYPE_NAME_MAP"}},
                }
            },
        }
    )
    messages = [i.message for i in collect_issues(model)]
    assert (
        "'doc#a' is directly assignable but lists no types: add at least one type restriction "
        "(directly_related_user_types)" in messages
    )
    assert any(m.startswith("'doc#b' lists directly related types") for m in messages)
    assert any("condition key 'k' does not match condition name 'other'" in m for m in messages)
    assert any("'map' needs exactly one element type" in m for m in messages)


def _chain(n: int, last: str) -> str:
    rels = "".join(f"    define r{i}: r{i + 1}\n" for i in range(n)) + f"    define r{n}: {last}\n"
    return "model\n  schema 1.1\ntype user\ntype doc\n  relations\n" + rels


def test_long_valid_chain_is_accepted() -> None:
    assert collect_issues(parse_dsl(_chain(3000, "[user]"))) == []


def test_long_chain_without_entrypoint_reports_every_relation() -> None:
    issues = collect_issues(parse_dsl(_chain(3000, "[doc#r0]")))
    assert len(issues) == 3001
    assert {i.rule for i in issues} == {"no-entrypoint"}


def _well_formed(dsl: str) -> bool:
    """Reachability is only analysed when every reference resolves."""
    rules = {i.rule for i in collect_issues(parse_dsl(dsl))}
    return not rules & {"undefined-relation", "undefined-type", "duplicate-type"}


_REACHABILITY_CASES = [
    *((c["name"], c["dsl"]) for c in CASES),
    *((p.parent.name, p.read_text()) for p in sorted((GOLDEN / "dsl").glob("*/model.fga"))),
    *((c["name"], c["dsl"]) for c in yaml.safe_load((GOLDEN / "valid_models.yaml").read_text())),
]


@pytest.mark.parametrize(
    "dsl", [pytest.param(dsl, id=name) for name, dsl in _REACHABILITY_CASES if _well_formed(dsl)]
)
def test_fixpoint_fallback_agrees_with_openfga_walk(dsl: str) -> None:
    model = parse_dsl(dsl)
    validator = _Validator(model, {})
    rels = {td.name: td.relations for td in model.type_definitions}
    fixpoint = _entrypoint_fixpoint(rels)
    for td in model.type_definitions:
        for name, rd in td.relations.items():
            assert (
                validator.entrypoints(rels, td.name, name, rd.rewrite, {})[0]
                == fixpoint[(td.name, name)]
            )


_SUITES = [OPENFGA_SUITES / name for name in ("consolidated_1_1_tests.yaml", "abac_tests.yaml")]


@pytest.mark.parametrize(
    "dsl",
    [
        pytest.param(stage["model"], id=f"{test['name']}_{i}")
        for suite in _SUITES
        if suite.is_file()
        for test in yaml.safe_load(suite.read_text())["tests"]
        for i, stage in enumerate(test["stages"])
    ],
)
def test_openfga_conformance_models_are_valid(dsl: str) -> None:
    loaded = compile_dsl(dsl)
    validate_model(loaded.model, locations=loaded.locations)
