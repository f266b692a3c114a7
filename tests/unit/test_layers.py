"""Import-direction rules of STYLE.md 5.2, enforced mechanically by walking every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "permsvc"

# package -> permsvc packages it must never import
_FORBIDDEN: dict[str, tuple[str, ...]] = {
    "core": ("model", "store", "engine", "commands", "auth", "claims", "api", "cli"),
    "model": ("store", "engine", "commands", "auth", "claims", "api", "cli"),
    "store": ("engine", "commands", "auth", "claims", "api", "cli"),
    "engine": (
        "commands",
        "auth",
        "claims",
        "api",
        "cli",
        "store.memory",
        "store.sqlite",
        "store.postgres",
        "store.index",
    ),
    "commands": ("api", "cli", "store.memory", "store.sqlite", "store.postgres", "store.index"),
    "auth": ("model", "store", "engine", "commands", "api", "cli", "claims"),
}

# third-party library -> the only permsvc packages allowed to import it
_CONFINED: dict[str, tuple[str, ...]] = {
    "litestar": ("api",),
    "asyncpg": ("store.postgres", "store.index", "store.factory"),
    "jwt": ("auth",),
    "uvicorn": ("cli", "api"),
    "opentelemetry": ("api.tracing",),
}


def _modules() -> list[tuple[str, list[str]]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        module = ".".join(rel.parts)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported: list[str] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.extend(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.append(node.module)
        out.append((module, imported))
    return out


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_layers_import_downward_only() -> None:
    violations = []
    for module, imported in _modules():
        for layer, forbidden in _FORBIDDEN.items():
            if not _within(module, layer):
                continue
            for name in imported:
                if not name.startswith("permsvc."):
                    continue
                target = name.removeprefix("permsvc.")
                violations += [f"{module} imports {name}" for f in forbidden if _within(target, f)]
    assert not violations, "\n".join(violations)


@pytest.mark.parametrize("library", sorted(_CONFINED))
def test_third_party_library_confined(library: str) -> None:
    allowed = _CONFINED[library]
    violations = [
        f"{module} imports {name}"
        for module, imported in _modules()
        for name in imported
        if _within(name, library) and not any(_within(module, a) for a in allowed)
    ]
    assert not violations, "\n".join(violations)


def test_tests_do_not_import_the_benchmarks() -> None:
    """The benchmarks test themselves (bench/test_bench.py); the test suite needs nothing from them."""
    tests = Path(__file__).resolve().parents[1]
    importers = []
    for path in sorted(tests.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            if any(n == "bench" or n.startswith("bench.") for n in names):
                importers.append(str(path.relative_to(tests)))
    assert not importers
