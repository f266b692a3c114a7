"""open_datastore / migrate_database URL handling and the backend registry (``permsvc migrate``:
tests/cli/test_migrate_cli.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from permsvc.store.errors import StorageUnavailableError
from permsvc.store.factory import (
    BACKENDS,
    InvalidDatabaseUrlError,
    backend_for,
    migrate_database,
    open_datastore,
)
from permsvc.store.memory import MemoryDatastore
from permsvc.store.migrations import load_migrations
from permsvc.store.postgres import PostgresDatastore
from permsvc.store.sqlite import SqliteDatastore
from tests.pg import session_database_url

VERSIONS = tuple(m.version for m in load_migrations("sqlite"))


@pytest.mark.parametrize(
    ("url", "relative"),
    [
        pytest.param(None, "data/permsvc.db", id="default_file_in_data_dir"),
        pytest.param("", "data/permsvc.db", id="empty_url_is_default"),
        pytest.param("sqlite:///other/x.db", "other/x.db", id="relative_sqlite_url"),
    ],
)
async def test_sqlite_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str | None, relative: str
) -> None:
    monkeypatch.chdir(tmp_path)
    datastore = await open_datastore(url, data_dir=Path("data"))
    try:
        assert isinstance(datastore, SqliteDatastore)
        assert (tmp_path / relative).exists()
        assert await datastore.is_ready()
    finally:
        await datastore.aclose()


async def test_absolute_sqlite_url_and_env_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    datastore = await open_datastore(f"sqlite:///{tmp_path / 'abs.db'}")
    await datastore.aclose()
    assert (tmp_path / "abs.db").exists()
    monkeypatch.setenv("PERMSVC_DATA_DIR", str(tmp_path / "envdir"))
    datastore = await open_datastore(None)
    await datastore.aclose()
    assert (tmp_path / "envdir" / "permsvc.db").exists()


async def test_memory_url() -> None:
    datastore = await open_datastore("memory:", data_dir=Path("."))
    assert isinstance(datastore, MemoryDatastore)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("mysql://localhost/x", id="unknown_scheme"),
        pytest.param("sqlite://relative.db", id="sqlite_without_third_slash"),
        pytest.param("nonsense", id="no_scheme"),
    ],
)
async def test_unsupported_urls(tmp_path: Path, url: str) -> None:
    with pytest.raises(InvalidDatabaseUrlError):
        await open_datastore(url, data_dir=tmp_path)


async def test_unmigrated_sqlite_is_refused_without_migrate(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "empty.db").close()
    with pytest.raises(StorageUnavailableError, match="permsvc migrate"):
        await open_datastore(f"sqlite:///{tmp_path / 'empty.db'}", migrate=False)
    report = await migrate_database(f"sqlite:///{tmp_path / 'empty.db'}")
    assert (report.backend, report.applied, report.version) == ("sqlite", VERSIONS, VERSIONS[-1])
    datastore = await open_datastore(f"sqlite:///{tmp_path / 'empty.db'}", migrate=False)
    await datastore.aclose()


@pytest.mark.postgres
async def test_postgres_url() -> None:
    datastore = await open_datastore(session_database_url(), migrate=False)
    try:
        assert isinstance(datastore, PostgresDatastore)
        assert await datastore.is_ready()
    finally:
        await datastore.aclose()


async def test_unreachable_postgres() -> None:
    with pytest.raises(StorageUnavailableError, match="cannot connect"):
        await open_datastore("postgresql://postgres@127.0.0.1:1/x")


def test_every_scheme_names_a_registered_backend() -> None:
    assert {scheme: backend.name for scheme, backend in BACKENDS.items()} == {
        "sqlite": "sqlite",
        "postgres": "postgres",
        "postgresql": "postgres",
        "memory": "memory",
    }
    assert backend_for(None)[0].name == backend_for("")[0].name == "sqlite"


async def test_a_memory_url_with_more_is_refused() -> None:
    with pytest.raises(InvalidDatabaseUrlError, match="use memory:"):
        await open_datastore("memory:other", data_dir=Path("."))
