"""Builds the configured datastore from a URL: the one place that maps configuration to a backend.

A backend is one entry of :data:`BACKENDS` (URL scheme -> how to open and migrate it): adding one
is adding its package under ``store/`` and its entry here.

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
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from permsvc.store.errors import StoreError

if TYPE_CHECKING:
    from permsvc.store.protocol import Datastore

__all__ = (
    "BACKENDS",
    "DEFAULT_DATA_DIR",
    "DEFAULT_SQLITE_FILE",
    "Backend",
    "InvalidDatabaseUrlError",
    "MigrationReport",
    "backend_for",
    "default_data_dir",
    "default_statement_cache_size",
    "describe_database",
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
    if url.startswith("sqlite:"):
        rest = url[len("sqlite://") :] if url.startswith("sqlite://") else ""
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


class Backend(msgspec.Struct, frozen=True, kw_only=True):
    """One storage backend as the factory knows it: how to open it and how to migrate it."""

    name: str
    """``"postgres"``, ``"sqlite"`` or ``"memory"`` (:attr:`MigrationReport.backend`)."""
    open: Callable[[str, Path, bool], Awaitable[Datastore]]
    """``(url, data_dir, migrate)``: the opened datastore."""
    migrate: Callable[[str, Path], Awaitable[MigrationReport]]
    """``(url, data_dir)``: apply pending migrations."""


async def _open_sqlite(url: str, data_dir: Path, migrate: bool) -> Datastore:
    from permsvc.store.sqlite import SqliteDatastore

    return await SqliteDatastore.open(_sqlite_file(url, data_dir), migrate=migrate)


async def _migrate_sqlite(url: str, data_dir: Path) -> MigrationReport:
    from permsvc.store.sqlite.migrate import migrate_path

    path = _sqlite_file(url, data_dir)
    applied, version = migrate_path(path)
    return MigrationReport(
        backend="sqlite", target=str(path), applied=tuple(applied), version=version
    )


async def _open_postgres(
    url: str,
    data_dir: Path | None = None,
    migrate: bool = True,
    *,
    statement_cache_size: int | None = None,
    read_urls: Sequence[str] = (),
) -> Datastore:
    """``statement_cache_size`` None: :func:`default_statement_cache_size` (the environment);
    ``read_urls``: read replicas (:mod:`permsvc.store.postgres.replicas`)."""
    from permsvc.store.postgres import PostgresDatastore

    cache = default_statement_cache_size() if statement_cache_size is None else statement_cache_size
    if read_urls:
        from permsvc.store.postgres.replicas import ReplicatedDatastore

        return await ReplicatedDatastore.open_replicated(
            url, read_urls, migrate=migrate, statement_cache_size=cache
        )
    return await PostgresDatastore.open(url, migrate=migrate, statement_cache_size=cache)


async def _migrate_postgres(url: str, data_dir: Path) -> MigrationReport:
    from permsvc.store.postgres.migrate import migrate_url

    applied, version = await migrate_url(url)
    return MigrationReport(
        backend="postgres", target=_redact(url), applied=tuple(applied), version=version
    )


async def _open_memory(url: str, data_dir: Path, migrate: bool) -> Datastore:
    from permsvc.store.memory import MemoryDatastore

    _memory_url(url)
    return MemoryDatastore()


async def _migrate_memory(url: str, data_dir: Path) -> MigrationReport:
    _memory_url(url)
    return MigrationReport(backend="memory", target="memory:", applied=(), version=0)


_POSTGRES = Backend(name="postgres", open=_open_postgres, migrate=_migrate_postgres)

BACKENDS: dict[str, Backend] = {
    "sqlite": Backend(name="sqlite", open=_open_sqlite, migrate=_migrate_sqlite),
    "postgres": _POSTGRES,
    "postgresql": _POSTGRES,
    "memory": Backend(name="memory", open=_open_memory, migrate=_migrate_memory),
}
"""The backends by URL scheme: the one place a backend is registered (see the module table)."""


def backend_for(url: str | None) -> tuple[Backend, str]:
    """The backend ``url`` names and the URL to hand it (``None``/``""``: the default SQLite file).

    Raises:
        InvalidDatabaseUrlError: unsupported URL scheme.
    """
    if not url:
        return BACKENDS["sqlite"], ""
    scheme = url.split(":", 1)[0]
    backend = BACKENDS.get(scheme)
    if backend is None:
        raise InvalidDatabaseUrlError(
            f"unsupported database URL scheme '{scheme}': use postgresql://..., sqlite:///path or memory:"
        )
    return backend, url


async def open_datastore(
    url: str | None,
    *,
    data_dir: Path | None = None,
    migrate: bool = True,
    statement_cache_size: int | None = None,
    read_urls: Sequence[str] = (),
) -> Datastore:
    """Open the datastore ``url`` names (see the module table), applying pending migrations unless
    ``migrate`` is false (then an outdated schema raises ``StorageUnavailableError``).

    ``statement_cache_size`` (PostgreSQL; default :func:`default_statement_cache_size`): prepared
    statements kept per connection, 0 behind a transaction-pooling PgBouncer. ``read_urls``
    (PostgreSQL only): read replicas, see :mod:`permsvc.store.postgres.replicas`.

    The caller owns the result and must ``await datastore.aclose()``.

    Raises:
        InvalidDatabaseUrlError: unsupported URL scheme.
        StorageUnavailableError: the database cannot be reached or its schema is not current.
    """
    backend, url = backend_for(url)
    if read_urls and backend.name != "postgres":
        raise InvalidDatabaseUrlError("read replicas need a postgresql:// database URL")
    if backend.name == "postgres" and (statement_cache_size is not None or read_urls):
        return await _open_postgres(
            url, migrate=migrate, statement_cache_size=statement_cache_size, read_urls=read_urls
        )
    return await backend.open(url, default_data_dir() if data_dir is None else data_dir, migrate)


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
    backend, url = backend_for(url)
    return await backend.migrate(url, default_data_dir() if data_dir is None else data_dir)


def _sqlite_file(url: str, data_dir: Path) -> Path:
    path = sqlite_path(url, data_dir=data_dir)
    assert path is not None  # the registry hands this backend only "" and sqlite: URLs
    return path


def _memory_url(url: str) -> None:
    if url != "memory:":
        raise InvalidDatabaseUrlError(f"invalid memory URL '{url}': use memory:")


def describe_database(url: str | None, *, data_dir: Path | None = None) -> str:
    """The database ``url`` names, for people and logs: the SQLite file as an absolute
    ``sqlite:///`` URL, a PostgreSQL URL without its password, or ``memory:``."""
    data_dir = default_data_dir() if data_dir is None else data_dir
    path = sqlite_path(url, data_dir=data_dir)
    if path is not None:
        return f"sqlite:///{path.resolve()}"
    assert url is not None
    return _redact(url)


def _redact(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", "@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
