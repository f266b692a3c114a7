"""``permsvc model validate`` / ``permsvc model transform``: exit codes, output formats, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from permsvc.cli.main import main

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden"

VALID_DSL = "model\n  schema 1.1\n\ntype user\n\ntype doc\n  relations\n    define viewer: [user]\n"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def model_file(tmp_path: Path):  # type: ignore[no-untyped-def]
    def write(text: str | bytes, name: str = "model.fga") -> Path:
        path = tmp_path / name
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return path

    return write


def test_validate_valid_model(capsys: pytest.CaptureFixture[str], model_file) -> None:  # type: ignore[no-untyped-def]
    path = model_file(VALID_DSL)
    code, out, err = _run(capsys, "model", "validate", str(path))
    assert code == 0
    assert "valid" in out
    assert err == ""


def test_validate_reports_every_syntax_error_located(
    capsys: pytest.CaptureFixture[str], model_file
) -> None:  # type: ignore[no-untyped-def]
    path = model_file(
        "model\n  schema 1.1\ntype user\ntype doc\n  relations\n    define a: [user] or\n    define b [user]\n"
    )
    code, out, err = _run(capsys, "model", "validate", str(path))
    assert code == 1
    assert out == ""
    assert err.splitlines() == [
        f"{path}:6:24: expected a relation name or '(', found end of line",
        f"{path}:7:14: expected ':' after the relation name 'b' (write 'define b: ...'), found '['",
    ]


def test_validate_reports_semantic_errors_located(
    capsys: pytest.CaptureFixture[str], model_file
) -> None:  # type: ignore[no-untyped-def]
    path = model_file(
        "model\n  schema 1.1\ntype user\ntype doc\n  relations\n    define a: [user, team]\n    define b: c\n"
    )
    code, _out, err = _run(capsys, "model", "validate", str(path))
    assert code == 1
    lines = err.splitlines()
    assert lines[0].startswith(f"{path}:6:22: type 'team'")
    assert lines[1].startswith(f"{path}:7:15: relation 'c' is not defined on type 'doc'")
    assert len(lines) == 2


def test_validate_json_names_type_and_relation(
    capsys: pytest.CaptureFixture[str], model_file
) -> None:  # type: ignore[no-untyped-def]
    data = {
        "schema_version": "1.1",
        "type_definitions": [
            {"type": "doc", "relations": {"a": {"computedUserset": {"relation": "zz"}}}}
        ],
    }
    path = model_file(json.dumps(data), "model.json")
    code, _out, err = _run(capsys, "model", "validate", str(path))
    assert code == 1
    assert (
        err.strip()
        == f"{path}: doc#a: relation 'zz' is not defined on type 'doc' (used in the definition of 'a')"
    )


def test_validate_malformed_json_is_located(capsys: pytest.CaptureFixture[str], model_file) -> None:  # type: ignore[no-untyped-def]
    path = model_file('{"schema_version": "1.1",\n  "type_definitions": [}', "model.json")
    code, _out, err = _run(capsys, "model", "validate", str(path))
    assert code == 1
    assert err.startswith(f"{path}:2:24: invalid JSON")


def test_validate_modular_model(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = _run(
        capsys, "model", "validate", str(REPO / "schema" / "modular" / "fga.mod")
    )
    assert code == 0
    assert "schema 1.2" in out


def test_validate_modular_errors_name_the_module_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "fga.mod").write_text("schema: '1.2'\ncontents:\n  - a.fga\n  - b.fga\n")
    (tmp_path / "a.fga").write_text("module a\n\ntype user\n")
    (tmp_path / "b.fga").write_text(
        "module b\n\ntype user\n\nextend type team\n  relations\n    define x: [user]\n"
        "\ntype org\n\nextend type org\n  relations\n    define y: [user]\n"
    )
    code, _out, err = _run(capsys, "model", "validate", str(tmp_path / "fga.mod"))
    assert code == 1
    b = tmp_path / "b.fga"
    assert err.splitlines() == [
        f"{b}:3:6: duplicate type definition user (already defined in a.fga)",
        f"{b}:5:13: extended type team does not exist: no module defines 'type team'",
        (
            f"{b}:11:13: type org is defined in this file, so it cannot be extended here: add the relations to its "
            "definition"
        ),
    ]


def test_fga_mod_problems_are_reported(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "fga.mod").write_text("schema: '1.1'\ncontents:\n  - core.txt\n")
    code, _out, err = _run(capsys, "model", "validate", str(tmp_path / "fga.mod"))
    assert code == 1
    assert "fga.mod is only supported in version '1.2'" in err
    assert "contents items should use fga file extension, got core.txt" in err


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(bytes(range(256)), "not UTF-8 text", id="binary"),
        pytest.param(
            b"model\n  schema 1.1\n" + b"#" * (300 * 1024),
            "the limit is 262144 bytes",
            id="too_large",
        ),
    ],
)
def test_hostile_files_give_one_clear_line(
    capsys: pytest.CaptureFixture[str],
    model_file,
    content: bytes,  # type: ignore[no-untyped-def]
    fragment: str,
) -> None:
    path = model_file(content)
    code, _out, err = _run(capsys, "model", "validate", str(path))
    assert code == 1
    assert fragment in err
    assert "Traceback" not in err


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _out, err = _run(capsys, "model", "validate", str(tmp_path / "absent.fga"))
    assert code == 1
    assert err.strip() == f"{tmp_path / 'absent.fga'}: cannot read file: No such file or directory"


def test_transform_dsl_to_pretty_sorted_json(capsys: pytest.CaptureFixture[str]) -> None:
    source = GOLDEN / "dsl" / "github" / "model.fga"
    code, out, _err = _run(capsys, "model", "transform", str(source))
    assert code == 0
    expected = json.loads((GOLDEN / "dsl" / "github" / "expected.json").read_text())
    assert json.loads(out) == expected
    assert out == json.dumps(expected, indent=2, sort_keys=True) + "\n"


def test_transform_json_to_dsl_and_back(capsys: pytest.CaptureFixture[str], model_file) -> None:  # type: ignore[no-untyped-def]
    code, out, _err = _run(capsys, "model", "transform", str(model_file(VALID_DSL)))
    assert code == 0
    json_path = model_file(out, "model.json")
    code, out, _err = _run(capsys, "model", "transform", str(json_path))
    assert code == 0
    assert out == VALID_DSL
    code, out, _err = _run(capsys, "model", "transform", str(json_path), "--to", "json")
    assert out == json_path.read_text()


def test_transform_modular_to_json_carries_modules(capsys: pytest.CaptureFixture[str]) -> None:
    source = GOLDEN / "modular" / "extend_types" / "fga.mod"
    code, out, _err = _run(capsys, "model", "transform", str(source))
    assert code == 0
    assert json.loads(out) == json.loads(
        (GOLDEN / "modular" / "extend_types" / "expected.json").read_text()
    )


def test_transform_does_not_apply_semantic_rules(
    capsys: pytest.CaptureFixture[str], model_file
) -> None:  # type: ignore[no-untyped-def]
    path = model_file("model\n  schema 1.1\ntype doc\n  relations\n    define a: b\n")
    code, out, _err = _run(capsys, "model", "transform", str(path), "--to", "dsl")
    assert code == 0
    assert "define a: b" in out


def test_transform_syntax_error(capsys: pytest.CaptureFixture[str], model_file) -> None:  # type: ignore[no-untyped-def]
    path = model_file("model\n  schema 1.1\ntype\n")
    code, out, err = _run(capsys, "model", "transform", str(path))
    assert code == 1
    assert out == ""
    assert err.startswith(f"{path}:3:5: expected a type name")


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["model", "--help"], id="model"),
        pytest.param(["model", "validate", "--help"], id="validate"),
        pytest.param(["model", "transform", "--help"], id="transform"),
    ],
)
def test_help(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    assert "usage: permsvc model" in capsys.readouterr().out


def test_model_without_subcommand_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = _run(capsys, "model")
    assert code == 2
    assert "validate" in err and "transform" in err


def test_unknown_target_format_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], model_file
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as info:
        main(["model", "transform", str(model_file(VALID_DSL)), "--to", "yaml"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_python_dash_m_entry_point(tmp_path: Path) -> None:
    path = tmp_path / "bad.fga"
    path.write_text("model\n  schema 1.1\ntype user\ntype doc\n  relations\n    define a: nope\n")
    done = subprocess.run(
        [sys.executable, "-m", "permsvc", "model", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert (
        done.stderr
        == f"{path}:6:15: relation 'nope' is not defined on type 'doc' (used in the definition of 'a')\n"
    )
