"""``permsvc serve``: run the HTTP API under uvicorn (uvloop + httptools).

Configuration is twelve-factor: every option has a ``PERMSVC_*`` environment variable and an
option given on the command line wins. Options are handed to the server processes through the
environment, so ``--workers N`` starts N identical processes that each build the app from
:func:`permsvc.api.app.asgi_app_from_env`.

Before any worker starts, the supervisor validates the settings, opens the database once and
applies pending migrations (so N workers never race to migrate, and a bad database URL fails
fast with one clear line). SIGTERM / SIGINT stop accepting connections, let in-flight requests
finish for up to ``--graceful-shutdown`` seconds, then close the datastore.

Secure by default: with no credential configured (no PERMSVC_API_KEYS, no PERMSVC_OIDC_ISSUER,
no API key in the database) the server is open, every caller is admin, and it serves a loopback
address only (its start-up line says OPEN); binding any other address then refuses to start
unless --insecure-no-auth is given. Creating an API key closes the door.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from permsvc.cli.database import add_database_options
from permsvc.cli.subcommand import add_command
from permsvc.settings import Settings

__all__ = ("log_config", "register", "run")


def register(subparsers: Any) -> None:
    p = add_command(subparsers, "serve", help="run the OpenFGA-compatible HTTP API", doc=__doc__)
    p.add_argument("--host", help="interface to bind (PERMSVC_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="TCP port (PERMSVC_PORT, default 8080)")
    p.add_argument("--workers", type=int, help="server processes (PERMSVC_WORKERS, default 1)")
    add_database_options(p)
    p.add_argument(
        "--no-migrate",
        dest="migrate",
        action="store_const",
        const=False,
        help="do not apply pending migrations at start-up (PERMSVC_MIGRATE=false)",
    )
    p.add_argument(
        "--auth-method",
        choices=("none", "preshared"),
        help="caller authentication (PERMSVC_AUTH_METHOD; preshared when PERMSVC_API_KEYS is set)",
    )
    p.add_argument(
        "--api-keys", help="comma-separated preshared keys (PERMSVC_API_KEYS; prefer the variable)"
    )
    p.add_argument(
        "--insecure-no-auth",
        dest="insecure_no_auth",
        action="store_const",
        const=True,
        help="serve a non-loopback address even though no credential is configured (anyone reaching it is admin; PERMSVC_INSECURE_NO_AUTH=true)",
    )
    p.add_argument(
        "--max-body-bytes",
        type=int,
        help="largest request body (PERMSVC_MAX_BODY_BYTES, default 1 MiB)",
    )
    p.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        help="PERMSVC_LOG_LEVEL, default info",
    )
    p.add_argument(
        "--graceful-shutdown",
        dest="graceful_shutdown_s",
        type=float,
        help="seconds in-flight requests may finish after SIGTERM (PERMSVC_GRACEFUL_SHUTDOWN_S, default 10)",
    )
    p.set_defaults(func=run)


_OPTIONS = (
    "host",
    "port",
    "workers",
    "database_url",
    "data_dir",
    "migrate",
    "auth_method",
    "api_keys",
    "max_body_bytes",
    "log_level",
    "graceful_shutdown_s",
    "insecure_no_auth",
)


def log_config(level: str) -> dict[str, Any]:
    """Structured JSON logs on stderr for permsvc and uvicorn alike (uvicorn's access log is off:
    permsvc writes its own, with request ids)."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "permsvc.api.ops.JsonFormatter"}},
        "handlers": {"stderr": handler},
        "loggers": {
            "permsvc": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
        },
    }


async def _migrate(settings: Settings) -> bool:
    """Open the database once (applying migrations); whether it holds any API key."""
    from permsvc.api.security.door import key_store_in
    from permsvc.store.factory import open_datastore

    datastore = await open_datastore(
        settings.database_url or None,
        data_dir=Path(settings.data_dir),
        migrate=settings.migrate,
        statement_cache_size=settings.database_statement_cache_size,
    )
    try:
        keys = key_store_in(datastore)
        return keys is not None and bool(await keys.list_api_keys(include_revoked=True))
    finally:
        await datastore.aclose()


def _refuse_open_network(settings: Settings, keys_exist: bool) -> str | None:
    """Why this server must not start (an open API on a non-loopback address), or ``None``."""
    from permsvc.api.app import is_loopback

    if (
        settings.credentials_configured
        or keys_exist
        or is_loopback(settings.host)
        or settings.insecure_no_auth
    ):
        return None
    return (
        f"permsvc serve: refusing to serve {settings.host} without credentials: anyone reaching it would be admin. "
        "Set PERMSVC_API_KEYS or PERMSVC_OIDC_ISSUER/PERMSVC_OIDC_AUDIENCE, create an API key "
        "(permsvc admin bootstrap), bind 127.0.0.1, or pass --insecure-no-auth"
    )


def _check_tracing() -> None:
    """Fail before any worker starts when the ``OTEL_*`` variables ask for traces that cannot be
    exported (packages missing, unknown exporter): each worker would refuse to start anyway."""
    from permsvc.api.tracing import tracing_from_env

    tracing = tracing_from_env()
    if tracing is not None:
        tracing.shutdown()


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from permsvc.cli.http_protocol import CoalescingHttpToolsProtocol

    overrides = {name: getattr(args, name, None) for name in _OPTIONS}
    settings = Settings.from_env(**overrides)
    _check_tracing()
    keys_exist = asyncio.run(_migrate(settings)) if settings.database_url != "memory:" else False
    refusal = _refuse_open_network(settings, keys_exist)
    if refusal is not None:
        print(refusal, file=sys.stderr)
        return 2
    _export(settings)
    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="permsvc-metrics-")
    uvicorn.run(
        "permsvc.api.app:asgi_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http=CoalescingHttpToolsProtocol,
        lifespan="on",
        access_log=False,
        log_config=log_config(settings.log_level),
        log_level=settings.log_level,
        timeout_graceful_shutdown=int(settings.graceful_shutdown_s) or None,
        server_header=False,
        proxy_headers=False,
    )
    return 0


def _export(settings: Settings) -> None:
    """Hand the effective settings to the worker processes through their environment."""
    env = {
        "host": settings.host,
        "port": str(settings.port),
        "workers": str(settings.workers),
        "database_url": settings.database_url,
        "data_dir": settings.data_dir,
        # The supervisor has migrated already; workers only check the schema is current.
        "migrate": "false" if settings.database_url != "memory:" else str(settings.migrate).lower(),
        "auth_method": settings.auth_method,
        "api_keys": ",".join(settings.api_keys),
        "max_body_bytes": str(settings.max_body_bytes),
        "log_level": settings.log_level,
        "graceful_shutdown_s": str(settings.graceful_shutdown_s),
        "request_read_timeout_s": str(settings.request_read_timeout_s),
        "insecure_no_auth": str(settings.insecure_no_auth).lower(),
    }
    for name, value in env.items():
        os.environ[f"PERMSVC_{name.upper()}"] = value
