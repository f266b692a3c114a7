"""permsvc.model.tuple_validation: OpenFGA's ValidateTupleForWrite rules and messages."""

from __future__ import annotations

import pytest

from permsvc.core.refs import TupleCondition, TupleKey, parse_tuple
from permsvc.engine.plan import ModelPlan
from permsvc.model.compile import parse_dsl
from permsvc.model.tuple_validation import TupleValidationError, tuple_fits_model, validate_tuple
from permsvc.model.typesystem import TypeSystem

MODEL = TypeSystem.new(
    parse_dsl("""
model
  schema 1.1
type user
type group
  relations
    define member: [user, group#member]
type folder
  relations
    define viewer: [user]
type document
  relations
    define parent: [folder]
    define viewer: [user, user:*, group#member, user with in_office] or viewer from parent
    define temp: [user with in_office]
    define computed: viewer
condition in_office(ip: ipaddress) {
  ip.in_cidr("10.0.0.0/8")
}
""")
)


def _key(text: str, condition: str = "", context: dict[str, object] | None = None) -> TupleKey:
    key = parse_tuple(text)
    if condition:
        return TupleKey(
            object=key.object,
            relation=key.relation,
            user=key.user,
            condition=TupleCondition(name=condition, context=context),
        )
    return key


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(_key("document:1#viewer@user:anne"), id="object_user"),
        pytest.param(_key("document:1#viewer@user:*"), id="wildcard"),
        pytest.param(_key("document:1#viewer@group:eng#member"), id="userset"),
        pytest.param(_key("document:1#parent@folder:x"), id="tupleset"),
        pytest.param(_key("document:1#viewer@user:anne", "in_office"), id="optional_condition"),
        pytest.param(
            _key("document:1#temp@user:anne", "in_office", {"ip": "10.1.2.3"}),
            id="required_condition",
        ),
    ],
)
def test_valid_tuples(key: TupleKey) -> None:
    validate_tuple(MODEL, key)
    assert tuple_fits_model(MODEL, key)
    assert ModelPlan(MODEL).fits(key)


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        pytest.param(
            _key("document:1#viewer@robot:x"), "type 'robot' not found", id="unknown_user_type"
        ),
        pytest.param(
            _key("nope:1#viewer@user:x"), "type 'nope' not found", id="unknown_object_type"
        ),
        pytest.param(
            _key("document:1#nope@user:x"),
            "relation 'document#nope' not found",
            id="unknown_relation",
        ),
        pytest.param(
            _key("document:1#viewer@group:x#nope"),
            "relation 'group#nope' not found",
            id="unknown_userset",
        ),
        pytest.param(
            _key("document:1#viewer@folder:x"),
            "type 'folder' is not an allowed type restriction for 'document#viewer'",
            id="type_not_allowed",
        ),
        pytest.param(
            _key("document:1#viewer@folder:*"),
            "the typed wildcard 'folder:*' is not an allowed type restriction for 'document#viewer'",
            id="wildcard_not_allowed",
        ),
        pytest.param(
            _key("document:1#viewer@document:2#viewer"),
            "'document#viewer' is not an allowed type restriction for 'document#viewer'",
            id="userset_not_allowed",
        ),
        pytest.param(
            _key("document:1#computed@user:anne"),
            "type 'user' is not an allowed type restriction for 'document#computed'",
            id="computed_relation",
        ),
        pytest.param(
            _key("document:1#parent@folder:*"),
            "unexpected wildcard relationship with tupleset relation 'document#parent'",
            id="wildcard_in_tupleset",
        ),
        pytest.param(
            _key("document:1#temp@user:anne"),
            "condition is missing",
            id="required_condition_missing",
        ),
        pytest.param(
            _key("document:1#viewer@user:anne", "nope"),
            "undefined condition",
            id="undefined_condition",
        ),
        pytest.param(
            _key("document:1#viewer@group:x#member", "in_office"),
            "invalid condition for type restriction",
            id="condition_not_on_that_restriction",
        ),
        pytest.param(
            _key("document:1#temp@user:anne", "in_office", {"port": 1}),
            "found invalid context parameter: port",
            id="unknown_context_parameter",
        ),
        # A persisted context must convert to the parameter types (OpenFGA casts it on write);
        # the expected reasons are the ones `fga model test` (OpenFGA's own engine) gives.
        pytest.param(
            _key("document:1#temp@user:anne", "in_office", {"ip": "nope"}),
            "parameter type error on condition 'in_office' - failed to convert context parameter "
            "'ip': expected a well-formed IP address, but found: 'nope'",
            id="context_value_does_not_parse",
        ),
        pytest.param(
            _key("document:1#temp@user:anne", "in_office", {"ip": 42}),
            "parameter type error on condition 'in_office' - failed to convert context parameter "
            "'ip': expected an ipaddress string, but found: float64 '42'",
            id="context_value_of_wrong_type",
        ),
        pytest.param(
            _key("document:1#temp@user:anne", "in_office", {"port": 1, "ip": "nope"}),
            "parameter type error on condition 'in_office' - failed to convert context parameter "
            "'ip': expected a well-formed IP address, but found: 'nope'",
            id="type_error_before_unknown_parameter",
        ),
    ],
)
def test_invalid_tuples(key: TupleKey, reason: str) -> None:
    with pytest.raises(TupleValidationError) as info:
        validate_tuple(MODEL, key)
    assert (
        str(info.value)
        == f"Invalid tuple '{key.object}#{key.relation}@{key.user}'. Reason: {reason}"
    )
    assert info.value.reason == reason
    assert not tuple_fits_model(MODEL, key)
