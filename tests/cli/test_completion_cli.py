"""``permsvc completion bash|zsh|fish``: each script parses in its shell and completes subcommands
and options from the words typed so far (driven through the shell's completion entry points)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from permsvc.cli.main import build_parser, main
from permsvc.cli.remote.completion import command_table

pytestmark = pytest.mark.timeout(60)


def _script(shell: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["completion", shell]) == 0
    path = tmp_path / f"permsvc.{shell}"
    path.write_text(capsys.readouterr().out)
    return path


def _shell(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed (.ci/run installs it)")
        pytest.skip(f"{name} is not installed")
    return found


def _run(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_table_covers_every_command() -> None:
    table = command_table(build_parser())
    for path in (
        "store create",
        "store list",
        "store get",
        "store delete",
        "model write",
        "model get",
        "model list",
        "model diff",
        "model validate",
        "tuple write",
        "tuple delete",
        "tuple read",
        "tuple import",
        "tuple export",
        "check",
        "list-objects",
        "list-users",
        "claims preview",
        "key create",
        "key list",
        "key revoke",
        "audit list",
        "completion",
        "serve",
        "migrate",
    ):
        assert path in table, path
    assert "--resume-from" in table["tuple import"][1]
    assert "--url" in table["check"][1] and "--database-url" in table["check"][1]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (["permsvc", "st"], ["store"]),
        (["permsvc", "tuple", "imp"], ["import"]),
        (["permsvc", "tuple", "import", "--res"], ["--resume-from"]),
        (["permsvc", "--json", "key", "re"], ["revoke"]),
        (["permsvc", "model", "w"], ["write"]),
    ],
)
def test_bash(
    typed: list[str], expected: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bash = _shell("bash")
    script = _script("bash", tmp_path, capsys)
    _run(bash, "-n", str(script))
    words = " ".join(f"'{w}'" for w in typed)
    out = _run(
        bash,
        "-c",
        f"source '{script}'; COMP_WORDS=({words}); COMP_CWORD={len(typed) - 1}; "
        "_permsvc; printf '%s\\n' \"${COMPREPLY[@]}\"; complete -p permsvc",
    )
    lines = out.splitlines()
    assert lines[:-1] == expected
    assert lines[-1] == "complete -o default -F _permsvc permsvc"


def test_zsh(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zsh = _shell("zsh")
    script = _script("zsh", tmp_path, capsys)
    _run(zsh, "-n", str(script))
    # compadd/_files/compdef stand-ins record what the completion function offers.
    out = _run(
        zsh,
        "-c",
        "compdef() { print compdef $@ }; compadd() { shift; print -l -- $@ }; _files() { print FILES };"
        f"source '{script}'; words=(permsvc tuple imp); CURRENT=3; _permsvc;"
        "print -r -- SEP; words=(permsvc tuple import --re); CURRENT=4; _permsvc;"
        "print -r -- SEP; words=(permsvc tuple import t); CURRENT=4; _permsvc",
    )
    first, second, third = out.split("SEP\n")
    assert first.splitlines()[0] == "compdef _permsvc permsvc"
    assert {"import", "export", "read", "write", "delete"} <= set(first.splitlines())
    assert "FILES" not in first  # a command group takes no file
    assert "--resume-from" in second.splitlines() and "FILES" not in second
    assert "FILES" in third.splitlines()  # import takes a file


def test_fish(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fish = _shell("fish")
    script = _script("fish", tmp_path, capsys)
    _run(fish, "-n", str(script))
    out = _run(
        fish,
        "-c",
        f"source '{script}'; complete -C 'permsvc tuple imp'; echo ---;"
        "complete -C 'permsvc tuple import --res'; echo ---; complete -C 'permsvc sto'",
    )
    offered = [part.split() for part in out.split("---\n")]
    assert offered == [["import"], ["--resume-from"], ["store"]]
