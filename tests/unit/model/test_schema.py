"""The model's shared walks and keys: schema.leaves, RelationReference.user_key, PROTO_TYPE_NAMES."""

from __future__ import annotations

from permsvc.model.compile import parse_dsl
from permsvc.model.schema import (
    CONDITION_TYPE_NAMES,
    PROTO_TYPE_NAMES,
    ComputedUserset,
    Difference,
    Intersection,
    RelationReference,
    This,
    TupleToUserset,
    Union,
    leaves,
)

MODEL = """model
  schema 1.1
type user
type folder
  relations
    define viewer: [user]
type doc
  relations
    define parent: [folder]
    define blocked: [user]
    define editor: [user]
    define viewer: ([user] or editor) and (viewer from parent but not blocked)
"""


def test_leaves_walks_every_operator_left_to_right_including_the_subtracted_side() -> None:
    doc = parse_dsl(MODEL).type("doc")
    assert doc is not None
    assert list(leaves(doc.relations["viewer"].rewrite)) == [
        This(),
        ComputedUserset("editor"),
        TupleToUserset("parent", "viewer"),
        ComputedUserset("blocked"),
    ]


def test_leaves_of_a_leaf_is_the_leaf_itself() -> None:
    assert list(leaves(ComputedUserset("editor"))) == [ComputedUserset("editor")]
    nested = Union((Intersection((This(),)), Difference(This(), ComputedUserset("x"))))
    assert list(leaves(nested)) == [This(), This(), ComputedUserset("x")]


def test_user_key_is_the_restriction_without_its_condition() -> None:
    assert RelationReference(type="user").user_key == "user"
    assert RelationReference(type="user", wildcard=True).user_key == "user:*"
    assert RelationReference(type="group", relation="member").user_key == "group#member"
    ref = RelationReference(type="group", relation="member", condition="c")
    assert ref.user_key == "group#member"
    assert str(ref) == "group#member with c"


def test_proto_type_names_number_every_condition_parameter_type() -> None:
    assert PROTO_TYPE_NAMES[0] == "TYPE_NAME_UNSPECIFIED"
    assert set(CONDITION_TYPE_NAMES.values()) == set(PROTO_TYPE_NAMES[1:])
    assert PROTO_TYPE_NAMES.index("TYPE_NAME_IPADDRESS") == 11
