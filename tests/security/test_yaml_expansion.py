"""A YAML body cannot stand for more values than permsvc will walk.

YAML aliases let a few hundred bytes expand to millions of values (measured: a 9^7 alias bomb
took 6.7 s of a request to refuse as a claim spec; one more level is nine times that, and
memory). Every route that takes a YAML body (found in the permission table by its media types)
gets an alias bomb and a recursive alias, and must refuse both with a 400 naming the expansion;
a document that uses a few aliases still loads. No module but ``permsvc.core.yaml_text`` may call
the YAML loader directly, so no reader of YAML (server or CLI) can skip the bound.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from permsvc.api.security.table import ROUTE_RULES, YAML_TYPES, rule_key
from permsvc.core.yaml_text import MAX_YAML_VALUES, YamlExpansionError, load_yaml
from tests.security.kit import ROOT, World

PACKAGE = Path(__file__).resolve().parents[2] / "permsvc"


def alias_bomb(levels: int = 7, width: int = 9) -> str:
    lines = [f"l0: &l0 [{', '.join(['x'] * width)}]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines) + f"\nclaim: x\nrelations: *l{levels - 1}\n"


RECURSIVE = "claim: &a [x, *a]\nrelations: [document#viewer]\n"


def test_the_loader_bounds_expansion() -> None:
    assert len(alias_bomb()) < 1000
    for text in (alias_bomb(), RECURSIVE):
        with pytest.raises(YamlExpansionError):
            load_yaml(text)
    few = "base: &b [document#viewer]\nrelations: *b\nagain: *b\n"
    assert load_yaml(few)["again"] == ["document#viewer"]
    assert MAX_YAML_VALUES >= 10_000


def test_no_module_calls_the_yaml_loader_directly() -> None:
    direct = re.compile(r"yaml\.(safe_load|load|unsafe_load|full_load)(_all)?\(")
    callers = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "yaml_text.py" and direct.search(path.read_text(encoding="utf-8"))
    ]
    assert not callers, f"load YAML through permsvc.core.yaml_text.load_yaml: {callers}"


async def test_every_yaml_route_refuses_an_alias_bomb(world: World) -> None:
    routes = [
        (method, path)
        for method, path in world.route_table()
        if set(YAML_TYPES) & set(ROUTE_RULES[rule_key(method, path)].media)
    ]
    assert routes, "no route takes YAML any more: drop this test"
    for method, path in routes:
        url, _ = world.sample(method, path)
        for text in (alias_bomb(), RECURSIVE):
            response = await world.client.request(
                method,
                url,
                content=text.encode(),
                headers={**ROOT, "Content-Type": "application/yaml"},
            )
            assert response.status_code == 400, (method, path, response.text[:300])
            assert "expands to more than" in response.json()["message"], response.text[:300]
