"""The CLI and the server agree on the database.

Every command that opens the database (``serve``, ``migrate``, ``check``, every ``admin``
command) takes the one option definition of ``permsvc.cli.database``; ``--database-url`` wins
over ``PERMSVC_DATABASE_URL``, which wins over the SQLite file in the data dir, exactly as
``Settings.from_env`` resolves it for ``serve``. Every ``admin`` command says on stderr which
database it used, without the password, and warns when it fell back to the default SQLite file.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from permsvc.cli.main import build_parser, main
from permsvc.store.factory import open_datastore
from permsvc.store.protocol import ApiKeyStore
from tests.pg import session_database_url

ADMIN_COMMANDS = {
    "bootstrap": [],
    "create-key": ["--scope", "check"],
    "list-keys": [],
    "revoke-key": ["nokeyhere1"],
}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    user = parts.username or "postgres"
    host = parts.hostname or "127.0.0.1"
    netloc = f"{user}:{password}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _subparser(parser: argparse.ArgumentParser, *path: str) -> argparse.ArgumentParser:
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def _option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action:
    return next(a for a in parser._actions if flag in a.option_strings)


DATABASE_COMMANDS = [("serve",), ("migrate",), ("check",), *(("admin", c) for c in ADMIN_COMMANDS)]


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=["_".join(c) for c in DATABASE_COMMANDS])
@pytest.mark.parametrize("flag", ["--database-url", "--data-dir"])
def test_every_database_command_shares_one_option_definition(
    command: tuple[str, ...], flag: str
) -> None:
    parser = build_parser()
    serve = _option(_subparser(parser, "serve"), flag)
    mine = _option(_subparser(parser, *command), flag)
    assert (mine.dest, mine.help, mine.default, mine.type) == (
        serve.dest,
        serve.help,
        serve.default,
        serve.type,
    )


@pytest.mark.parametrize("command", sorted(ADMIN_COMMANDS))
@pytest.mark.parametrize("how", ["option", "environment"])
def test_admin_commands_say_which_sqlite_database(
    command: str,
    how: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path}/named.db"
    args = ["admin", command, *ADMIN_COMMANDS[command]]
    if how == "option":
        args += ["--database-url", url]
    else:
        monkeypatch.setenv("PERMSVC_DATABASE_URL", url)
    _, _, err = _run(capsys, *args)
    assert f"database: sqlite:///{tmp_path}/named.db" in err
    assert "the default" not in err
    assert not (tmp_path / ".permsvc").exists(), "the default SQLite file was created anyway"


@pytest.mark.parametrize("command", sorted(ADMIN_COMMANDS))
def test_the_default_database_is_named_with_a_warning(
    command: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PERMSVC_DATABASE_URL", raising=False)
    monkeypatch.delenv("PERMSVC_DATA_DIR", raising=False)
    _, _, err = _run(capsys, "admin", command, *ADMIN_COMMANDS[command])
    assert f"database: sqlite:///{tmp_path}/.permsvc/permsvc.db (the default" in err
    assert "PERMSVC_DATABASE_URL" in err


def test_the_option_wins_over_the_environment_as_for_serve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERMSVC_DATABASE_URL", f"sqlite:///{tmp_path}/env.db")
    code, _, err = _run(
        capsys,
        "admin",
        "create-key",
        "--scope",
        "check",
        "--database-url",
        f"sqlite:///{tmp_path}/opt.db",
    )
    assert code == 0 and f"{tmp_path}/opt.db" in err and "env.db" not in err
    assert (tmp_path / "opt.db").exists() and not (tmp_path / "env.db").exists()


@pytest.mark.postgres
@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_key_created_for_a_postgres_server_lands_in_postgres(
    how: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reported bug: ``create-key`` wrote into the local SQLite file while the server ran on
    PostgreSQL. Named either way, the key is in PostgreSQL, the output names it without the
    password, and no SQLite file appears."""
    monkeypatch.chdir(tmp_path)
    url = _with_password(session_database_url(), "hunter2-secret")  # trust auth ignores it
    args = ["admin", "create-key", "--scope", "check", "--name", f"pg-{how}"]
    if how == "option":
        args += ["--database-url", url]
    else:
        monkeypatch.setenv("PERMSVC_DATABASE_URL", url)
    code, out, err = _run(capsys, *args)
    assert code == 0, err
    key_id = out.strip().split("_")[1]
    assert "hunter2-secret" not in err + out
    parts = urlsplit(session_database_url())
    assert f"database: postgresql://{parts.username or 'postgres'}@{parts.hostname}" in err
    assert not (tmp_path / ".permsvc").exists()

    async def stored() -> list[str]:
        datastore = await open_datastore(session_database_url(), migrate=False)
        try:
            assert isinstance(datastore, ApiKeyStore)
            return [k.id for k in await datastore.list_api_keys()]
        finally:
            await datastore.aclose()

    assert key_id in asyncio.run(stored())
    code, out, err = _run(capsys, "admin", "list-keys", "--database-url", url)
    assert code == 0 and key_id in out and "hunter2-secret" not in out + err


def test_admin_refuses_memory_which_keeps_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(
        capsys, "admin", "create-key", "--scope", "check", "--database-url", "memory:"
    )
    assert code == 1 and out == "" and "keeps nothing" in err


@pytest.mark.parametrize("url", ["sqlite://relative.db", "mysql://x/y", "sqlite:/"])
def test_a_bad_url_is_refused_before_anything_is_written(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, "admin", "create-key", "--scope", "check", "--database-url", url)
    assert code == 1 and out == "" and "permsvc: error:" in err
    assert list(tmp_path.iterdir()) == []
