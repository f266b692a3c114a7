"""The shell sessions of the documentation run, verbatim, as a reader would run them.

A session is a ```` ```sh ```` block in ``docs/*.md`` whose first line is ``# session: <name>``.
Each runs under ``bash -euo pipefail`` in a fresh working directory that looks like the
repository root after the README's set-up: ``schema/`` and ``integrations/`` are there, the
virtual environment's ``bin`` is first on ``PATH`` (as after ``source .venv/bin/activate``), and
nothing else exists: no data directory, no store, no key. A fresh ``permsvc serve`` answers on
the documented ``localhost:8080`` (the test rewrites the port to a free one) with its data in
``./.permsvc``, the default, so the session's ``permsvc`` commands share its database.

A comment line starting with ``# {``, ``# [`` or ``# >`` is output the command before it must
print: stdout must equal those lines, in order (``# > `` is stripped; ``…`` matches any text,
for ids and timestamps). A session that prints something else, or fails, fails its test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.live import live_server
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.timeout(180)

DOCS = REPO_ROOT / "docs"
HEADER = re.compile(r"# session: (?P<name>[\w .-]+)\n")
_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.DOTALL | re.MULTILINE)
_EXPECTED = re.compile(r"^# (?:> ?(?P<text>.*)|(?P<json>[{\[].*))$")


def sessions() -> list[tuple[str, str, str]]:
    """(page, session name, script) for every session of the docs, in page order."""
    out = []
    for page in sorted(DOCS.rglob("*.md")):
        for block in _BLOCK.findall(page.read_text(encoding="utf-8")):
            header = HEADER.match(block)
            if header:
                out.append((str(page.relative_to(DOCS)), header["name"], block))
    return out


def expected_output(script: str) -> list[str]:
    out = []
    for line in script.splitlines()[1:]:
        match = _EXPECTED.match(line)
        if match:
            out.append(match["text"] if match["text"] is not None else match["json"])
    return out


def matches(expected: str, actual: str) -> bool:
    pattern = ".*?".join(re.escape(part) for part in expected.split("…"))
    return re.fullmatch(pattern, actual) is not None


def test_the_docs_have_sessions() -> None:
    names = [name for _, name, _ in sessions()]
    assert len(names) == len(set(names)), "session names are unique"
    assert len(names) >= 5


@pytest.mark.skipif(
    shutil.which("curl") is None and os.environ.get("CI") != "true",
    reason="needs curl (apt-get install curl)",
)
@pytest.mark.parametrize(
    ("page", "name", "script"), [pytest.param(*s, id=s[1]) for s in sessions()]
)
def test_session_runs_verbatim(page: str, name: str, script: str, tmp_path: Path) -> None:
    work = tmp_path / "permsvc"
    work.mkdir()
    for shipped in ("schema", "integrations"):
        (work / shipped).symlink_to(REPO_ROOT / shipped, target_is_directory=True)
    venv_bin = Path(sys.executable).parent
    env = {"PATH": f"{venv_bin}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    with live_server(tmp_path / "server", env={"PERMSVC_DATA_DIR": str(work / ".permsvc")}) as live:
        done = subprocess.run(
            [
                "bash",
                "-euo",
                "pipefail",
                "-c",
                script.replace("localhost:8080", live.url.removeprefix("http://")),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=work,
            env=env,
            check=False,
        )
    context = f"{page} / {name}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert done.returncode == 0, context
    got = done.stdout.rstrip("\n").splitlines()
    want = expected_output(script)
    assert len(got) == len(want), context
    for expected, actual in zip(want, got, strict=True):
        assert matches(expected, actual), f"expected {expected!r}\n     got {actual!r}\n{context}"


@pytest.mark.parametrize(
    ("expected", "actual", "ok"),
    [
        ('{"allowed":true}', '{"allowed":true}', True),
        ('{"allowed":true}', '{"allowed":false}', False),
        ('{"id":"…","name":"demo"}', '{"id":"01JD4","name":"demo"}', True),
        ("created … key", "created the key", True),
        ("a.b", "axb", False),
    ],
)
def test_expected_lines_match_with_ellipsis_only(expected: str, actual: str, ok: bool) -> None:
    assert matches(expected, actual) is ok


def test_expected_output_lines_are_the_marked_comments() -> None:
    script = '# session: x\ncurl x\n# {"a":1}\n# plain comment\n# > text out\n#> no\n'
    assert expected_output(script) == ['{"a":1}', "text out"]
