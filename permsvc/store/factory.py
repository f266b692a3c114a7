"""Builds the configured datastore from a URL: the one place that maps configuration to a backend.

==============================================  =========================================================
URL                                             backend
==============================================  =========================================================
``None`` / ``""``                               SQLite file ``<data_dir>/permsvc.db`` (the zero-setup default)
``sqlite:///relative/path.db``                  SQLite file, relative to the working directory
``sqlite:////absolute/path.db``                 SQLite file, absolute path
``postgres://...`` / ``postgresql://...``       PostgreSQL (asyncpg pool)
``memory:``                                     in-process, not durable (tests, demos)
==============================================  =========================================================
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from permsvc.store.errors import StoreError

if TYPE_CHECKING:
    from permsvc.store.protocol import Datastore

__all__ = (
    "DEFAULT_DATA_DIR",
    "DEFAULT_SQLITE_FILE",
    "InvalidDatabaseUrlError",
    "MigrationReport",
    "default_data_dir",
    "default_statement_cache_size",
    "migrate_database",
    "open_datastore",
    "sqlite_path",
)

DEFAULT_DATA_DIR = Path(".permsvc")
"""Where the default SQLite file lives when neither ``data_dir`` nor ``PERMSVC_DATA_DIR`` is set."""

DEFAULT_SQLITE_FILE = "permsvc.db"


class InvalidDatabaseUrlError(StoreError):
    """The database URL names no supported backend."""


def default_data_dir() -> Path:
    """``PERMSVC_DATA_DIR`` if set, else ``./.permsvc``."""
    return Path(os.environ.get("PERMSVC_DATA_DIR") or DEFAULT_DATA_DIR)


def sqlite_path(url: str | None, *, data_dir: Path) -> Path | None:
    """The SQLite file ``url`` designates, or ``None`` when it designates another backend."""
    if not url:
        return data_dir / DEFAULT_SQLITE_FILE
    if url.startswith("sqlite://"):
        rest = url[len("sqlite://") :]
        if not rest.startswith("/") or len(rest) < 2:
            raise InvalidDatabaseUrlError(
                f"invalid SQLite URL '{url}': use sqlite:///relative/file.db or sqlite:////absolute/file.db"
            )
        return Path(rest[1:])
    return None


def default_statement_cache_size() -> int:
    """``PERMSVC_DATABASE_STATEMENT_CACHE_SIZE`` if set (0 behind a transaction-pooling
    PgBouncer), else asyncpg's default."""
    from permsvc.settings import DEFAULT_STATEMENT_CACHE_SIZE

    raw = os.environ.get("PERMSVC_DATABASE_STATEMENT_CACHE_SIZE", "").strip()
    if not raw:
        return DEFAULT_STATEMENT_CACHE_SIZE
    try:
        size = int(raw)
    except ValueError:
        size = -1
    if size < 0:
        raise InvalidDatabaseUrlError(
            f"PERMSVC_DATABASE_STATEMENT_CACHE_SIZE must be a whole number >= 0, got {raw!r}"
        )
    return size


async def open_datastore(
    url: str | None,
    *,
    data_dir: Path | None = None,
    migrate: bool = True,
    statement_cache_size: int | None = None,
) -> Datastore:
    """Open the datastore ``url`` names (see the module table), applying pending migrations unless
    ``migrate`` is false (then an outdated schema raises ``StorageUnavailableError``).

    ``statement_cache_size`` (PostgreSQL; default :func:`default_statement_cache_size`): prepared
    statements kept per connection, 0 behind a transaction-pooling PgBouncer.

    The caller owns the result and must ``await datastore.aclose()``.

    Raises:
        InvalidDatabaseUrlError: unsupported URL scheme.
        StorageUnavailableError: the database cannot be reached or its schema is not current.
    """
    data_dir = default_data_dir() if data_dir is None else data_dir
    path = sqlite_path(url, data_dir=data_dir)
    if path is not None:
        from permsvc.store.sqlite import SqliteDatastore

        return await SqliteDatastore.open(path, migrate=migrate)
    assert url is not None
    if url.startswith(("postgres://", "postgresql://")):
        from permsvc.store.postgres import PostgresDatastore

        cache = (
            default_statement_cache_size() if statement_cache_size is None else statement_cache_size
        )
        return await PostgresDatastore.open(url, migrate=migrate, statement_cache_size=cache)
    if url == "memory:":
        from permsvc.store.memory import MemoryDatastore

        return MemoryDatastore()
    scheme = url.split(":", 1)[0] if ":" in url else url
    raise InvalidDatabaseUrlError(
        f"unsupported database URL scheme '{scheme}': use postgresql://..., sqlite:///path or memory:"
    )


class MigrationReport(msgspec.Struct, frozen=True, kw_only=True):
    """What :func:`migrate_database` did."""

    backend: str
    """``"postgres"``, ``"sqlite"`` or ``"memory"``."""
    target: str
    """The database, for humans (the SQLite path, or the PostgreSQL URL without its password)."""
    applied: tuple[int, ...]
    """Versions this call applied (empty when the schema was already current)."""
    version: int
    """The schema version now in place."""


async def migrate_database(url: str | None, *, data_dir: Path | None = None) -> MigrationReport:
    """Apply pending migrations to the database ``url`` names (``permsvc migrate``).

    Safe to run concurrently with other migrators and with ``permsvc serve`` start-ups: each
    migration is applied once (see the backends' ``migrate`` modules).
    """
    data_dir = default_data_dir() if data_dir is None else data_dir
    path = sqlite_path(url, data_dir=data_dir)
    if path is not None:
        from permsvc.store.sqlite.migrate import migrate_path

        applied, version = migrate_path(path)
        return MigrationReport(
            backend="sqlite", target=str(path), applied=tuple(applied), version=version
        )
    assert url is not None
    if url.startswith(("postgres://", "postgresql://")):
        from permsvc.store.postgres.migrate import migrate_url

        applied, version = await migrate_url(url)
        return MigrationReport(
            backend="postgres", target=_redact(url), applied=tuple(applied), version=version
        )
    if url == "memory:":
        return MigrationReport(backend="memory", target="memory:", applied=(), version=0)
    await open_datastore(url, data_dir=data_dir, migrate=False)
    raise AssertionError("unreachable: open_datastore rejects unknown URLs")


def _redact(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
