"""Claim spec loading: restricted names and namespaces, relation keys, budgets, variants."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from permsvc.claims.errors import ClaimSpecError
from permsvc.claims.spec import (
    DEFAULT_BUDGET_BYTES,
    claim_name_problem,
    load_claim_spec,
    parse_claim_spec,
    parse_claim_text,
)
from tests.conftest import REPO_ROOT

CLAIM = "https://permsvc.example.com/perms"


def _spec(**overrides: Any) -> dict[str, Any]:
    return {"claim": CLAIM, "relations": ["project#viewer"], **overrides}


def test_example_spec_loads() -> None:
    spec = load_claim_spec(REPO_ROOT / "schema" / "claims.yaml")
    assert spec.claim == CLAIM
    assert spec.relations == ("organization#admin", "project#editor", "project#viewer")
    assert spec.budget_bytes == DEFAULT_BUDGET_BYTES
    billing = spec.variant_for("https://billing.example.com")
    assert (billing.relations, billing.budget_bytes, billing.claim) == (
        ("organization#admin",),
        512,
        CLAIM,
    )
    assert spec.variant_for("https://other.example.com").relations == spec.relations
    assert spec.variant_for(None).relations == spec.relations


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        pytest.param("permissions", "restricted claim names", id="permissions_restricted"),
        pytest.param("roles", "restricted claim names", id="roles_restricted"),
        pytest.param("groups", "restricted claim names", id="groups_restricted"),
        pytest.param("authorization_details", "restricted claim names", id="rar_restricted"),
        pytest.param("x5t#S256", "restricted claim names", id="x5t_restricted"),
        pytest.param(
            "https://tenant.auth0.com/perms", "Auth0 domain (auth0.com)", id="auth0_subdomain"
        ),
        pytest.param("https://auth0.com/perms", "Auth0 domain (auth0.com)", id="auth0_apex"),
        pytest.param("https://x.webtask.io/p", "webtask.io", id="webtask_io"),
        pytest.param("http://webtask.run/p", "webtask.run", id="webtask_run"),
        pytest.param("urn:auth0:perms", "reserved by Auth0", id="urn_auth0"),
        pytest.param("perms", "not namespaced", id="bare_name"),
        pytest.param("ftp://permsvc.example.com/p", "not namespaced", id="non_http_scheme"),
        pytest.param("https://permsvc.example.com/p?x=1", "query or a fragment", id="query"),
        pytest.param("https://" + "a" * 260 + ".com/p", "characters long", id="too_long"),
    ],
)
def test_claim_name_rejected(name: str, fragment: str) -> None:
    problem = claim_name_problem(name)
    assert problem is not None and fragment in problem
    with pytest.raises(ClaimSpecError) as info:
        parse_claim_spec(_spec(claim=name))
    assert info.value.problems[0][0] == "claim"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("https://permsvc.example.com/perms", id="https_path"),
        pytest.param("http://authz.example/p", id="http_short"),
        pytest.param("https://notauth0.com/p", id="lookalike_domain_allowed"),
    ],
)
def test_claim_name_accepted(name: str) -> None:
    assert claim_name_problem(name) is None


@pytest.mark.parametrize(
    ("doc", "path", "fragment"),
    [
        pytest.param(_spec(relations=[]), "relations", "non-empty list", id="no_relations"),
        pytest.param(
            _spec(relations=["project"]),
            "relations[0]",
            "is not 'type#relation'",
            id="missing_hash",
        ),
        pytest.param(
            _spec(relations=["project#"]),
            "relations[0]",
            "is not 'type#relation'",
            id="empty_relation",
        ),
        pytest.param(
            _spec(relations=["project#viewer", "project#viewer"]),
            "relations[1]",
            "listed twice",
            id="duplicate",
        ),
        pytest.param(
            _spec(relations=[3]),
            "relations[0]",
            "must be a 'type#relation' string",
            id="not_string",
        ),
        pytest.param(
            _spec(budget_bytes=64), "budget_bytes", "between 128 and 8192", id="budget_small"
        ),
        pytest.param(
            _spec(budget_bytes=100_000), "budget_bytes", "between 128 and 8192", id="budget_large"
        ),
        pytest.param(
            _spec(budget_bytes="2k"), "budget_bytes", "integer number of bytes", id="budget_string"
        ),
        pytest.param(
            _spec(version=2), "version", "unsupported spec version 2", id="future_version"
        ),
        pytest.param(_spec(extra=1), "extra", "unknown field", id="unknown_field"),
        pytest.param(
            _spec(subject_type="user:x"), "subject_type", "type name", id="bad_subject_type"
        ),
        pytest.param(
            _spec(audiences=["x"]), "audiences", "mapping from API identifier", id="audiences_list"
        ),
        pytest.param(
            _spec(audiences={"https://api": {"relations": ["a#b"], "claim": "roles"}}),
            "audiences.https://api.claim",
            "restricted",
            id="variant_restricted_claim",
        ),
        pytest.param(
            _spec(audiences={"https://api": {"relation": ["a#b"]}}),
            "audiences.https://api.relation",
            "unknown field",
            id="variant_unknown_field",
        ),
        pytest.param(
            _spec(budget_bytes=128, relations=[f"type{i}#relation{i}" for i in range(12)]),
            "budget_bytes",
            "cannot hold even the overflow marker",
            id="budget_below_envelope",
        ),
    ],
)
def test_invalid_spec_names_field(doc: dict[str, Any], path: str, fragment: str) -> None:
    with pytest.raises(ClaimSpecError) as info:
        parse_claim_spec(doc)
    paths = [p for p, _ in info.value.problems]
    assert path in paths, info.value.problems
    message = dict(info.value.problems)[path]
    assert fragment in message
    assert fragment in str(info.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ClaimSpecError) as info:
        parse_claim_spec({"claim": "roles", "relations": ["x"], "budget_bytes": 1})
    assert [p for p, _ in info.value.problems] == ["claim", "budget_bytes", "relations[0]"]


def test_yaml_syntax_error_has_position(tmp_path: Path) -> None:
    path = tmp_path / "claims.yaml"
    path.write_text("claim: [unclosed\nrelations: x\n")
    with pytest.raises(ClaimSpecError) as info:
        load_claim_spec(path)
    assert "not valid YAML at line" in str(info.value) and str(path) in str(info.value)


def test_json_file_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "claims.json"
    path.write_text(json.dumps({"claim": CLAIM, "relations": ["doc#viewer"], "budget_bytes": 1024}))
    assert load_claim_spec(path).budget_bytes == 1024
    with pytest.raises(ClaimSpecError, match="cannot read the file"):
        load_claim_spec(tmp_path / "absent.yaml")
    with pytest.raises(ClaimSpecError, match="not valid JSON"):
        parse_claim_text("{", json_only=True)


def test_document_round_trip() -> None:
    spec = load_claim_spec(REPO_ROOT / "schema" / "claims.yaml")
    assert parse_claim_spec(spec.to_document()) == spec
    assert spec.all_relations() == ("organization#admin", "project#editor", "project#viewer")
