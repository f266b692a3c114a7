"""DSL -> schema compilation: positions, modular models and fga.mod manifests."""

from __future__ import annotations

import pytest

from permsvc.model.compile import compile_dsl, compile_modular, dsl_to_json, parse_mod_file
from permsvc.model.errors import DslSyntaxError, ModelError
from permsvc.model.schema import SourcePos, TupleToUserset, Union


def test_positions_point_at_each_symbol() -> None:
    loaded = compile_dsl(
        "model\n  schema 1.1\ntype user\ntype doc\n  relations\n    define parent: [doc]\n"
        "    define viewer: [user with c] or viewer from parent\n"
        "condition c(x: int) {\n  x < 1\n}\n",
        "m.fga",
    )
    loc = loaded.locations
    assert loc[("type", "doc")] == SourcePos(4, 6, "m.fga")
    assert loc[("relation", "doc", "viewer")] == SourcePos(7, 12, "m.fga")
    assert loc[("restriction", "doc", "viewer", "user with c")] == SourcePos(7, 21, "m.fga")
    assert loc[("restriction_condition", "doc", "viewer", "user with c")] == SourcePos(
        7, 31, "m.fga"
    )
    assert loc[("ttu", "doc", "viewer", "parent", "viewer")] == SourcePos(7, 37, "m.fga")
    assert loc[("tupleset", "doc", "viewer", "parent")] == SourcePos(7, 49, "m.fga")
    assert loc[("condition", "c")] == SourcePos(8, 11, "m.fga")
    assert loc[("param", "c", "x")] == SourcePos(8, 13, "m.fga")
    viewer = loaded.model.type("doc").relations["viewer"]  # type: ignore[union-attr]
    assert viewer.pos == SourcePos(7, 12, "m.fga")
    assert isinstance(viewer.rewrite, Union)
    assert viewer.rewrite.children[1] == TupleToUserset("parent", "viewer")


def test_parentheses_stay_nested_as_in_openfga() -> None:
    data = dsl_to_json(
        "model\n  schema 1.1\ntype user\ntype d\n  relations\n    define a: [user]\n"
        "    define b: a or (a or a)\n"
    )
    assert data["type_definitions"][1]["relations"]["b"] == {
        "union": {
            "child": [
                {"computedUserset": {"relation": "a"}},
                {
                    "union": {
                        "child": [
                            {"computedUserset": {"relation": "a"}},
                            {"computedUserset": {"relation": "a"}},
                        ]
                    }
                },
            ]
        }
    }


CORE = "module core\n\ntype user\n\ntype org\n  relations\n    define member: [user]\n"


@pytest.mark.parametrize(
    ("second", "message", "where"),
    [
        pytest.param(
            "module b\n\ntype user\n", "duplicate type definition user", (3, 6), id="duplicate_type"
        ),
        pytest.param(
            "module b\n\nextend type team\n  relations\n    define x: [user]\n",
            "extended type team does not exist",
            (3, 13),
            id="extend_undefined_type",
        ),
        pytest.param(
            "module b\n\nextend type org\n  relations\n    define member: [user]\n",
            "relation member already exists on type org",
            (5, 12),
            id="extension_redefines_relation",
        ),
        pytest.param(
            "module b\n\nextend type org\n  relations\n    define a: [user]\n\n"
            "extend type org\n  relations\n    define b: [user]\n",
            "'org' is already extended in this file",
            (7, 13),
            id="extended_twice_in_one_file",
        ),
        pytest.param(
            "model\n  schema 1.1\ntype team\n",
            "is not a module file",
            (1, 1),
            id="not_a_module_file",
        ),
        pytest.param(
            "module b\n\ntype t\n  relations\n    define a: [user with c]\n"
            "condition c(x: int) {\n  x < 1\n}\n",
            "duplicate condition c",
            (6, 11),
            id="duplicate_condition",
        ),
    ],
)
def test_modular_errors_are_located_in_their_file(
    second: str, message: str, where: tuple[int, int]
) -> None:
    first = CORE + "    define a: [user with c]\ncondition c(x: int) {\n  x < 1\n}\n"
    with pytest.raises(DslSyntaxError) as info:
        compile_modular({"core.fga": first, "team/b.fga": second})
    issue = next(i for i in info.value.issues if message in i.message)
    assert (issue.file, issue.line, issue.column) == ("team/b.fga", *where)


def test_extension_relations_carry_their_module() -> None:
    model = compile_modular(
        {
            "core.fga": CORE,
            "b.fga": "module b\n\nextend type org\n  relations\n    define admin: [user]\n",
        }
    ).model
    org = model.type("org")
    assert org is not None and (org.module, org.source_file) == ("core", "core.fga")
    assert (org.relations["member"].module, org.relations["admin"].module) == ("", "b")
    assert org.relations["admin"].source_file == "b.fga"
    assert model.schema_version == "1.2"


@pytest.mark.parametrize(
    ("text", "module", "contents"),
    [
        pytest.param(
            "schema: '1.2'\nmodule: acme\ncontents:\n  - core.fga\n  - team1/project.fga\n",
            "acme",
            ["core.fga", "team1/project.fga"],
            id="block_list",
        ),
        pytest.param(
            '# manifest\nschema: "1.2"\ncontents: [core.fga, "wiki.fga"]  # all\n',
            "",
            ["core.fga", "wiki.fga"],
            id="flow_list_and_comments",
        ),
    ],
)
def test_mod_file(text: str, module: str, contents: list[str]) -> None:
    assert parse_mod_file(text) == (module, contents)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "module: acme\ncontents:\n  - core.fga\n", "missing schema field", id="missing_schema"
        ),
        pytest.param(
            "schema: true\ncontents:\n  - core.fga\n",
            "unexpected schema type, expected string got boolean value true",
            id="schema_not_a_string",
        ),
        pytest.param(
            "schema: '1.1'\ncontents:\n  - core.fga\n",
            "fga.mod is only supported in version '1.2'",
            id="schema_1_1",
        ),
        pytest.param(
            "schema: '1.2'\nmodule: true\ncontents:\n  - core.fga\n",
            "unexpected module type, expected string got boolean value true",
            id="module_not_a_string",
        ),
        pytest.param("schema: '1.2'\n", "missing contents field", id="missing_contents"),
        pytest.param(
            "schema: '1.2'\ncontents: true\n",
            "unexpected contents type, expected list of strings got boolean value true",
            id="contents_not_a_list",
        ),
        pytest.param(
            "schema: '1.2'\ncontents:\n  - true\n  - 1\n",
            "unexpected contents item type, expected string got number value 1",
            id="contents_items_not_strings",
        ),
        pytest.param(
            "schema: '1.2'\ncontents:\n  - core.txt\n",
            "contents items should use fga file extension, got core.txt",
            id="contents_item_not_fga",
        ),
    ],
)
def test_mod_file_errors(text: str, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        parse_mod_file(text)
