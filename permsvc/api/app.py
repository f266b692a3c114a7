"""The composition root: ``create_app(settings)`` builds the ASGI application.

This is the one module of ``api/`` that knows concrete backends and the engine's resolver chain.
Its lifespan opens the datastore (running migrations unless disabled), wraps it in the
per-process in-memory index (unless ``PERMSVC_INDEX=false``), builds the shared
dependencies (:class:`~permsvc.api.deps.Deps`: model resolver, check resolver chain,
security, metrics) on ``app.state.deps``, and closes everything in reverse order on exit.
Everything comes from the :class:`Settings` given to :func:`create_app`; nothing reads the
environment after that.

Route groups are listed in :data:`ROUTE_GROUPS`: each is a function ``(settings) -> Router``.
Adding a surface is one line there plus its rows in the permission table
(:mod:`permsvc.api.security.table`): every request passes the one front door
(:func:`permsvc.api.security.front_door`), and the app refuses to build while a route has no row.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.openapi import OpenAPIConfig
from litestar.routes import HTTPRoute

from permsvc import __version__
from permsvc.api import ops
from permsvc.api.admin.routes import build_router as admin_router
from permsvc.api.authzen.routes import build_router as authzen_router
from permsvc.api.claims.routes import build_router as claims_router
from permsvc.api.console.routes import build_router as console_router
from permsvc.api.deps import Deps
from permsvc.api.docs_ui import docs_assets_router, docs_render_plugin
from permsvc.api.errors import exception_handlers
from permsvc.api.heap import RefreezeSlowCollections, freeze_survivors
from permsvc.api.openfga.fastpath import CheckFastPath
from permsvc.api.openfga.routes import build_router as openfga_router
from permsvc.api.ops import (
    AccessLog,
    Metrics,
    ObservedApp,
    healthz,
    metrics_endpoint,
    openapi_json,
    readyz,
)
from permsvc.api.priority import WritePriority, write_route_matcher
from permsvc.api.security import Security, front_door, rules_for_routes
from permsvc.api.security.door import RULES_KEY, key_store_in
from permsvc.api.security.table import write_routes
from permsvc.api.tokencheck.routes import build_router as tokencheck_router
from permsvc.api.tracing import TracedCheckResolver, Tracing, traced_datastore, tracing_from_env
from permsvc.auth.jwt import JwtAuthenticator
from permsvc.commands.models import ModelResolver
from permsvc.engine.resolver import build_check_resolver
from permsvc.settings import Settings, SettingsError
from permsvc.store.factory import open_datastore
from permsvc.store.index import IndexedDatastore, index_datastore
from permsvc.store.protocol import Datastore, unwrap

if TYPE_CHECKING:
    from permsvc.auth.jwks import KeyProvider


__all__ = ("ROUTE_GROUPS", "RouteGroup", "asgi_app_from_env", "create_app", "is_loopback")

_log = logging.getLogger("permsvc.api")

RouteGroup = Callable[[Settings], Router]

ROUTE_GROUPS: list[RouteGroup] = [
    openfga_router,
    authzen_router,
    claims_router,
    tokencheck_router,
    admin_router,
    console_router,
]
"""The API surfaces. Health, metrics and docs are always mounted."""

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` serves this machine only (``127.0.0.0/8``, ``::1``, ``localhost``)."""
    name = host.strip().strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _jwt(
    settings: Settings, token_keys: KeyProvider | JwtAuthenticator | None
) -> JwtAuthenticator | None:
    if settings.oidc is None:
        return None
    if isinstance(token_keys, JwtAuthenticator):
        return token_keys
    if token_keys is not None:
        return JwtAuthenticator(settings.oidc, token_keys)
    return JwtAuthenticator.from_settings(settings.oidc)


async def _open_security(
    settings: Settings, datastore: Datastore, token_keys: KeyProvider | JwtAuthenticator | None
) -> Security:
    """The app's security, refusing to serve an open (credential-less) API beyond loopback."""
    security = Security(settings, keys=key_store_in(datastore), jwt=_jwt(settings, token_keys))
    if not security.closed and await security.keys_exist():
        security.close()
    if security.closed:
        _log.info("authentication required on every API route (%s)", security.describe())
    elif is_loopback(settings.host):
        _log.warning(
            "OPEN: no credential is configured (no PERMSVC_API_KEYS, no PERMSVC_OIDC_ISSUER, no API key in the "
            "database): every caller on this machine is admin; listening on loopback %s only. Creating an API "
            "key closes the door.",
            settings.host,
        )
    elif settings.insecure_no_auth:
        _log.warning(
            "OPEN AND INSECURE: no credential is configured and --insecure-no-auth serves %s: anyone who can "
            "reach this address is admin",
            settings.host,
        )
    else:
        if security.jwt is not None:
            await security.jwt.aclose()
        raise SettingsError(
            f"refusing to serve {settings.host} without credentials: anyone reaching it would be admin. Set "
            "PERMSVC_API_KEYS or PERMSVC_OIDC_ISSUER/PERMSVC_OIDC_AUDIENCE, create an API key "
            "(permsvc admin bootstrap), bind 127.0.0.1, or pass --insecure-no-auth"
        )
    return security


def _lifespan(
    settings: Settings,
    metrics: Metrics,
    *,
    freeze_heap: bool,
    tracing: Tracing | None,
    token_keys: KeyProvider | JwtAuthenticator | None,
) -> Callable[[Litestar], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        try:
            async with (
                _traced(tracing),
                _serving(
                    app,
                    settings,
                    metrics,
                    freeze_heap=freeze_heap,
                    tracing=tracing,
                    token_keys=token_keys,
                ),
            ):
                yield
        finally:
            if tracing is not None:
                tracing.shutdown()

    return lifespan


@contextlib.asynccontextmanager
async def _traced(tracing: Tracing | None) -> AsyncIterator[None]:
    """Log lines carry the current span's ids while tracing is on."""
    if tracing is None:
        yield
        return
    ops.TRACE_IDS = tracing.current_ids
    try:
        yield
    finally:
        ops.TRACE_IDS = None


@contextlib.asynccontextmanager
async def _serving(
    app: Litestar,
    settings: Settings,
    metrics: Metrics,
    *,
    freeze_heap: bool,
    tracing: Tracing | None,
    token_keys: KeyProvider | JwtAuthenticator | None,
) -> AsyncIterator[None]:
    """Open the database (traced when tracing is on), index it, build the shared dependencies
    (the security layer included: it refuses an open API beyond loopback)."""
    database: Datastore = await open_datastore(
        settings.database_url or None,
        data_dir=Path(settings.data_dir),
        migrate=settings.migrate,
        statement_cache_size=settings.database_statement_cache_size,
        read_urls=settings.read_database_url,
    )
    if settings.read_database_url:
        _observe_replicas(database, metrics)
    if tracing is not None:
        database = traced_datastore(database, tracing, system=_database_system(settings))
    try:
        datastore: Datastore = database
        if settings.index:
            datastore = await index_datastore(
                database,
                database_url=settings.database_url or None,
                listen_url=settings.listen_database_url or None,
                memory_budget=settings.index_memory_budget,
                snapshots=settings.index_snapshots,
            )
    except BaseException:
        await database.aclose()
        raise
    try:
        security = await _open_security(settings, datastore, token_keys)
    except BaseException:
        await datastore.aclose()
        raise
    try:
        checker = build_check_resolver()
        app.state.deps = Deps(
            settings=settings,
            datastore=datastore,
            models=ModelResolver(datastore),
            checker=checker if tracing is None else TracedCheckResolver(checker, tracing),
            security=security,
            metrics=metrics,
        )
        async with _frozen_heap(enabled=freeze_heap), _index_metrics(datastore, metrics):
            _log.info(
                "permsvc %s ready (database: %s; %s)",
                __version__,
                _describe_database(settings),
                f"authentication required: {security.describe()}"
                if security.closed
                else "OPEN: no credential configured",
            )
            yield
    finally:
        try:
            if security.jwt is not None:
                await security.jwt.aclose()
        finally:
            await datastore.aclose()


_INDEX_METRICS_S = 5.0
"""How often a worker records its index gauges (each worker its own, for the multi-process view)."""


@contextlib.asynccontextmanager
async def _index_metrics(datastore: Datastore, metrics: Metrics) -> AsyncIterator[None]:
    """Record the index gauges of this worker every few seconds while serving."""
    if not isinstance(datastore, IndexedDatastore):
        yield
        return

    async def record() -> None:
        while True:
            metrics.index(datastore.stats())
            await asyncio.sleep(_INDEX_METRICS_S)

    task = asyncio.create_task(record(), name="permsvc-index-metrics")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _observe_replicas(database: Datastore, metrics: Metrics) -> None:
    """Read replicas report their routing decisions and lag as metrics."""
    from permsvc.store.postgres.replicas import ReplicatedDatastore

    replicated = unwrap(database, ReplicatedDatastore)
    if replicated is not None:
        replicated.on_read = metrics.replica_read
        replicated.on_lag = metrics.replica_measured


def _database_system(settings: Settings) -> str:
    """The OpenTelemetry ``db.system`` of the configured database."""
    url = settings.database_url
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql"
    return "other_sql" if url == "memory:" else "sqlite"


@contextlib.asynccontextmanager
async def _frozen_heap(*, enabled: bool) -> AsyncIterator[None]:
    """Keep the index out of the cyclic collector's work while serving (:mod:`permsvc.api.heap`)."""
    if not enabled:
        yield
        return
    freeze_survivors()
    refreeze = RefreezeSlowCollections()
    refreeze.install()
    try:
        yield
    finally:
        refreeze.uninstall()
        gc.unfreeze()


def _describe_database(settings: Settings) -> str:
    url = settings.database_url
    if not url:
        return f"SQLite in {settings.data_dir}"
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}" if rest else url  # never log credentials


def create_app(
    settings: Settings | None = None,
    *,
    freeze_heap: bool = False,
    tracing: Tracing | None = None,
    token_keys: KeyProvider | JwtAuthenticator | None = None,
) -> ObservedApp:
    """The permsvc ASGI application for ``settings`` (default: from ``PERMSVC_*``).

    ``tracing``: OpenTelemetry spans of every request (:mod:`permsvc.api.tracing`); ``None``
    traces nothing. :func:`asgi_app_from_env` builds it from the ``OTEL_*`` variables.

    ``freeze_heap``: once started (the index built), take the heap out of the cyclic garbage
    collector's reach (:mod:`permsvc.api.heap`); servers want it, tests that start many apps in
    one process do not. ``token_keys``: where access tokens' signing keys come from instead of
    the issuer's JWKS, or a whole authenticator (tests and embedders; needs ``settings.oidc``)."""
    settings = settings or Settings.from_env()
    metrics = Metrics()
    litestar = Litestar(
        route_handlers=[
            healthz,
            readyz,
            metrics_endpoint,
            openapi_json,
            docs_assets_router(),
            *(group(settings) for group in ROUTE_GROUPS),
        ],
        lifespan=[
            _lifespan(
                settings, metrics, freeze_heap=freeze_heap, tracing=tracing, token_keys=token_keys
            )
        ],
        before_request=front_door,
        cors_config=CORSConfig(allow_origins=list(settings.cors_origins), allow_credentials=False)
        if settings.cors_origins
        else None,
        exception_handlers=exception_handlers(),
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="permsvc",
            version=__version__,
            description="OpenFGA-compatible fine-grained authorization service.",
            path="/docs",
            render_plugins=[docs_render_plugin()],
        ),
        logging_config=None,
        debug=False,
    )
    litestar.state[RULES_KEY] = rules_for_routes(
        (method, route.path_format)
        for route in litestar.routes
        if isinstance(route, HTTPRoute)
        for method in route.methods
    )
    access_log = (
        AccessLog() if settings.access_log and settings.log_level in ("debug", "info") else None
    )
    fast_check = CheckFastPath(litestar, max_body_bytes=settings.max_body_bytes)
    return ObservedApp(
        litestar,
        metrics=metrics,
        access_log=access_log,
        fast_routes=(fast_check,),
        tracing=tracing,
        priority=WritePriority() if settings.write_priority else None,
        is_write=write_route_matcher(write_routes()),
    )


def asgi_app_from_env() -> Any:
    """Factory for ASGI servers (``uvicorn --factory permsvc.api.app:asgi_app_from_env``)."""
    return create_app(Settings.from_env(), freeze_heap=True, tracing=tracing_from_env())
