"""diff_models: added/removed/changed types, relations, restrictions and conditions; what is breaking."""

from __future__ import annotations

import pytest

from permsvc.model.compile import parse_dsl
from permsvc.model.diff import RelationChange, diff_models, format_rewrite

BASE = """model
  schema 1.1
type user
type group
  relations
    define member: [user]
type document
  relations
    define owner: [user, group#member]
    define viewer: [user, user:*] or owner
    define limited: [user with small]
condition small(x: int) {
  x < 10
}
"""


def _diff(new: str) -> object:
    return diff_models(parse_dsl(BASE), parse_dsl(new))


def test_identical_models_have_an_empty_diff() -> None:
    diff = diff_models(parse_dsl(BASE), parse_dsl(BASE))
    assert diff.empty and not diff.breaking


@pytest.mark.parametrize(
    ("edit", "field", "expected", "breaking"),
    [
        pytest.param(
            ("type group\n  relations\n    define member: [user]\n", ""),
            "removed_types",
            ("group",),
            True,
            id="type_removed",
        ),
        pytest.param(
            ("    define limited: [user with small]\n", ""),
            "removed_relations",
            ("document#limited",),
            True,
            id="relation_removed",
        ),
        pytest.param(
            ("type user\n", "type user\ntype team\n"),
            "added_types",
            ("team",),
            False,
            id="type_added",
        ),
        pytest.param(
            (
                "    define owner: [user, group#member]\n",
                "    define owner: [user, group#member]\n    define editor: [user]\n",
            ),
            "added_relations",
            ("document#editor",),
            False,
            id="relation_added",
        ),
        pytest.param(
            ("  x < 10\n", "  x < 20\n"),
            "changed_conditions",
            ("small",),
            True,
            id="condition_changed",
        ),
    ],
)
def test_one_change(
    edit: tuple[str, str], field: str, expected: tuple[str, ...], breaking: bool
) -> None:
    diff = _diff(BASE.replace(*edit))
    assert getattr(diff, field) == expected
    assert diff.breaking is breaking  # type: ignore[attr-defined]


def test_restriction_removed_and_rewrite_changed() -> None:
    new = BASE.replace("define owner: [user, group#member]", "define owner: [user]").replace(
        "define viewer: [user, user:*] or owner",
        "define viewer: [user, user:*] or (owner but not limited)",
    )
    diff = diff_models(parse_dsl(BASE), parse_dsl(new))
    assert diff.changed_relations == (
        RelationChange(
            object_type="document", relation="owner", removed_restrictions=("group#member",)
        ),
        RelationChange(
            object_type="document",
            relation="viewer",
            old_rewrite="[...] or owner",
            new_rewrite="[...] or (owner but not limited)",
        ),
    )
    assert diff.breaking


def test_rewrite_only_change_is_not_breaking() -> None:
    diff = _diff(
        BASE.replace(
            "define viewer: [user, user:*] or owner", "define viewer: [user, user:*] and owner"
        )
    )
    assert not diff.breaking and diff.changed_relations[0].new_rewrite == "[...] and owner"


def test_format_rewrite_of_tuple_to_userset() -> None:
    model = parse_dsl(
        "model\n  schema 1.1\ntype user\ntype folder\n  relations\n    define viewer: [user]\n"
        "type doc\n  relations\n    define parent: [folder]\n    define viewer: viewer from parent\n"
    )
    doc = model.type("doc")
    assert doc is not None
    assert format_rewrite(doc.relations["viewer"].rewrite) == "viewer from parent"
