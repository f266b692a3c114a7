"""``permsvc migrate``: applies pending migrations to the configured database, once."""

from __future__ import annotations

from pathlib import Path

import pytest

from permsvc.cli.main import main
from permsvc.store.migrations import load_migrations

VERSIONS = tuple(m.version for m in load_migrations("sqlite"))


def test_migrate_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PERMSVC_DATABASE_URL", raising=False)
    monkeypatch.delenv("PERMSVC_DATA_DIR", raising=False)
    applied = ", ".join(f"{v:04d}" for v in VERSIONS)
    assert main(["migrate"]) == 0
    assert (
        f"sqlite .permsvc/permsvc.db: applied {applied}; schema version {VERSIONS[-1]}"
        in capsys.readouterr().out
    )
    assert main(["migrate"]) == 0
    assert f"schema version {VERSIONS[-1]} is current" in capsys.readouterr().out
    assert main(["migrate", "--data-dir", "elsewhere"]) == 0
    assert (tmp_path / "elsewhere" / "permsvc.db").exists()
    monkeypatch.setenv("PERMSVC_DATABASE_URL", "sqlite:///env.db")
    assert main(["migrate"]) == 0
    assert (tmp_path / "env.db").exists()
    assert main(["migrate", "--database-url", "mysql://x"]) == 1
    assert "unsupported database URL scheme 'mysql'" in capsys.readouterr().err
