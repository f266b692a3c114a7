"""The repository is self-contained: no test or module reads a file from outside it.

A clone with nothing beside it must pass the test suite, so data a test needs is vendored under
``tests/`` (unchanged, origin and license noted beside it). This module scans every source file
under ``tests/`` and ``permsvc/`` for path constructions that leave the repository: a ``..``
path segment or a ``shared`` directory in a string, and ``.parent`` / ``.parents[n]`` chains that
climb above the repository root (from ``__file__``, or from a name bound to such a chain here or
in the module it was imported from). ``tests/conftest.py`` also refuses, at run time, any open
or directory listing of the sibling ``shared/`` folder (CI lays one beside the clone, so a read
there would pass CI and fail for everyone else).
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
from pathlib import Path

import pytest

from tests.conftest import OPENFGA_SUITES, REPO_ROOT, SIBLING_SHARED

SCANNED = ("tests", "permsvc")

_DOTDOT = re.compile(r"(^|[/\\])\.\.([/\\]|$)")
_DOTDOT_PIECE = re.compile(r"[/\\]\.\.(?!\.)|(?<!\.)\.\.[/\\]")
"""Inside an f-string a '..' piece counts only next to a separator (``f"{a}..{b}"`` is a JWE)."""
_SHARED = re.compile(r"(^|[/\\])shared([/\\]|$)")
ALLOW = "# outside-repo: " + "the guard"
"""Marks the one kind of line allowed to name the outside: the guards that refuse it."""


def _sources() -> list[Path]:
    """Every module under SCANNED but this one, whose strings are the scan's own probes (the
    run-time guard of tests/conftest.py still covers it)."""
    here = Path(__file__).resolve()
    return sorted(
        p for top in SCANNED for p in (REPO_ROOT / top).rglob("*.py") if p.resolve() != here
    )


def _docstrings(nodes: list[ast.AST]) -> set[int]:
    """ids of the string constants that are docstrings or bare string statements (prose)."""
    out: set[int] = set()
    for node in nodes:
        body = getattr(node, "body", None)
        if isinstance(body, list):
            for stmt in body:
                if (
                    isinstance(stmt, ast.Expr)
                    and isinstance(stmt.value, ast.Constant)
                    and isinstance(stmt.value.value, str)
                ):
                    out.add(id(stmt.value))
    return out


class _Climb:
    """Depth below the repository root of the directories that path expressions name.

    ``depth`` 0 is the repository root, 1 a top-level folder, and so on; a negative depth is
    outside the repository (and stays so, whatever is joined to it). ``None``: not a path this
    analysis follows.
    """

    def __init__(self, rel: Path, imported: dict[str, int]) -> None:
        self.file_depth = len(rel.parts)  # a file: its .parent is at file_depth - 1
        self.names: dict[str, int] = dict(imported)

    def depth(self, node: ast.AST) -> int | None:
        match node:
            case ast.Name(id="__file__"):
                return self.file_depth
            case ast.Name(id=name):
                return self.names.get(name)
            case ast.Call(func=ast.Attribute(value=inner, attr="resolve" | "absolute"), args=[]):
                return self.depth(inner)
            case ast.Call(func=ast.Name(id="Path" | "str"), args=[inner]):
                return self.depth(inner)
            case ast.Call(func=ast.Attribute(attr="dirname"), args=[inner]):
                base = self.depth(inner)
                return None if base is None else base - 1
            case ast.Attribute(value=inner, attr="parent"):
                base = self.depth(inner)
                return None if base is None else base - 1
            case ast.Subscript(
                value=ast.Attribute(value=inner, attr="parents"), slice=ast.Constant(value=int(n))
            ):
                base = self.depth(inner)
                return None if base is None else base - (n + 1)
            case ast.BinOp(op=ast.Div(), left=left, right=ast.Constant(value=str(segment))):
                base = self.depth(left)
                if base is None or base < 0:
                    return base  # once outside, a path stays outside: ROOT.parent / "x" is not ROOT
                return base + sum(
                    -1 if part == ".." else 1 for part in Path(segment).parts if part != "."
                )
        return None


def _allowed_lines(text: str) -> set[int]:
    return {n for n, line in enumerate(text.splitlines(), 1) if ALLOW in line}


def _module_bindings(
    rel: Path, nodes: list[ast.AST], imported: dict[str, int]
) -> tuple[dict[str, int], list[tuple[int, str]]]:
    """Names bound in a module to directories (with their depth), and the places where a path
    expression climbs above the repository root."""
    climb = _Climb(rel, imported)
    for node in nodes:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            depth = climb.depth(node.value)
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and depth is not None:
                    climb.names[target.id] = depth
    climbs: dict[int, str] = {}  # line -> the shortest expression there that climbs out
    for node in nodes:
        if isinstance(node, ast.Attribute | ast.Subscript | ast.BinOp | ast.Call):
            depth = climb.depth(node)
            if depth is not None and depth < 0:
                text = ast.unparse(node)
                if len(text) < len(climbs.get(node.lineno, text + " ")):
                    climbs[node.lineno] = text
    return climb.names, [
        (line, f"{text} climbs above the repository root") for line, text in climbs.items()
    ]


def _imported_dirs(nodes: list[ast.AST], cache: dict[Path, dict[str, int]]) -> dict[str, int]:
    """Directory names that a module imports from other modules of the repository."""
    out: dict[str, int] = {}
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            source = REPO_ROOT.joinpath(*node.module.split("."))
            source = source / "__init__.py" if source.is_dir() else source.with_suffix(".py")
            if not source.is_file():
                continue
            if source not in cache:
                cache[source] = {}  # breaks import cycles
                source_nodes = list(ast.walk(ast.parse(source.read_text(encoding="utf-8"))))
                rel = source.relative_to(REPO_ROOT)
                cache[source] = _module_bindings(
                    rel, source_nodes, _imported_dirs(source_nodes, cache)
                )[0]
            for alias in node.names:
                if alias.name in cache[source]:
                    out[alias.asname or alias.name] = cache[source][alias.name]
    return out


def _findings(rel: Path, text: str, cache: dict[Path, dict[str, int]]) -> list[str]:
    """What in the module at ``rel`` (relative to the repository root) reaches outside it."""
    nodes = list(ast.walk(ast.parse(text)))
    prose = _docstrings(nodes)
    pieces = {id(v) for node in nodes if isinstance(node, ast.JoinedStr) for v in node.values}
    found: list[tuple[int, str]] = []
    for node in nodes:
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            if (_DOTDOT_PIECE if id(node) in pieces else _DOTDOT).search(node.value):
                found.append((node.lineno, f"the string {node.value!r} has a '..' path segment"))
            if _SHARED.search(node.value):
                found.append((node.lineno, f"the string {node.value!r} names a 'shared' directory"))
    found.extend(_module_bindings(rel, nodes, _imported_dirs(nodes, cache))[1])
    allowed = _allowed_lines(text)
    return [f"{rel}:{line}: {what}" for line, what in found if line not in allowed]


def test_no_source_reaches_outside_the_repository() -> None:
    cache: dict[Path, dict[str, int]] = {}
    findings = [
        finding
        for path in _sources()
        for finding in _findings(
            path.relative_to(REPO_ROOT), path.read_text(encoding="utf-8"), cache
        )
    ]
    assert findings == [], "vendor the data under tests/ instead:\n" + "\n".join(findings)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            'DATA = "../shared/conformance/x.yaml"\n',
            ["'..' path segment", "'shared' directory"],
            id="dotdot_string",
        ),
        pytest.param(
            'import os\nP = os.path.join(os.getcwd(), "..", "x")\n',
            ["'..' path segment"],
            id="dotdot_segment",
        ),
        pytest.param(
            "from pathlib import Path\nROOT = Path(__file__).resolve().parents[3]\nX = ROOT.parent / 'x'\n",
            ["climbs above"],
            id="parent_of_root",
        ),
        pytest.param(
            "from pathlib import Path\nX = Path(__file__).parent.parent.parent.parent.parent\n",
            ["climbs above"],
            id="parent_chain",
        ),
        pytest.param(
            "from pathlib import Path\nX = Path(__file__).resolve().parents[4]\n",
            ["climbs above"],
            id="parents_index",
        ),
        pytest.param(
            "from tests.conftest import REPO_ROOT\nX = REPO_ROOT.parent / 'data'\n",
            ["climbs above"],
            id="imported_root",
        ),
        pytest.param(
            "from tests.conftest import SIBLING_SHARED\nX = SIBLING_SHARED / 'conformance'\n",
            ["climbs above"],
            id="imported_outside_name",
        ),
        pytest.param(
            "from tests.conftest import REPO_ROOT\nX = REPO_ROOT / 'tests' / '../..'\n",
            ["'..' path segment", "climbs above"],
            id="dotdot_join",
        ),
        pytest.param('X = f"{ROOT}/../data"\n', ["'..' path segment"], id="dotdot_in_fstring"),
        pytest.param('X = f"{header}..{iv}.{ciphertext}"\n', [], id="jwe_fstring_passes"),
        pytest.param('X = f"use postgresql://..., not {url}"\n', [], id="ellipsis_passes"),
        pytest.param(
            '"""Reads nothing from ../shared: prose only."""\nX = "preshared"\n',
            [],
            id="prose_and_words_pass",
        ),
        pytest.param(
            "from pathlib import Path\nX = Path(__file__).resolve().parents[3] / 'golden'\n",
            [],
            id="inside_passes",
        ),
        pytest.param(
            f"from tests.conftest import REPO_ROOT\nX = REPO_ROOT.parent  {ALLOW}\n",
            [],
            id="marked_guard_passes",
        ),
    ],
)
def test_the_scan_finds_what_leaves_the_repository(source: str, expected: list[str]) -> None:
    # Scanned as a module at tests/unit/model/, where most of the suite's data readers are.
    findings = _findings(Path("tests/unit/model/probe.py"), source, {})
    assert len(findings) == len(expected), findings
    for fragment in expected:
        assert any(fragment in finding for finding in findings), (fragment, findings)


def test_the_vendored_openfga_suites_are_unchanged() -> None:
    """The hashes in the README beside the suites are the upstream files' (origin noted there)."""
    readme = (OPENFGA_SUITES / "README.md").read_text()
    recorded = dict(re.findall(r"\| `([\w.]+\.yaml)`[^\n]*\| `([0-9a-f]{64})` \|", readme))
    assert set(recorded) == {"consolidated_1_1_tests.yaml", "abac_tests.yaml"}
    for name, digest in recorded.items():
        assert hashlib.sha256((OPENFGA_SUITES / name).read_bytes()).hexdigest() == digest, name
    assert (OPENFGA_SUITES / "LICENSE").read_text().lstrip().startswith("Apache License")


def test_reading_the_sibling_shared_folder_fails() -> None:
    """The run-time guard of tests/conftest.py: a read of ``<clone>/../shared`` is refused."""
    with pytest.raises(RuntimeError, match="outside the repository"):
        (SIBLING_SHARED / "conformance" / "abac_tests.yaml").read_bytes()
    with pytest.raises(RuntimeError, match="outside the repository"):
        list(SIBLING_SHARED.iterdir())
    with pytest.raises(RuntimeError, match="outside the repository"):
        open(os.path.join(REPO_ROOT, "tests", "..", "..", "shared", "x"))  # noqa: SIM115
