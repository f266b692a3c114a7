"""Operations: request ids, structured access logs, Prometheus metrics, health and readiness.

:class:`ObservedApp` wraps the whole Litestar application as plain ASGI, so it sees every
response, including the router's own 404/405 and responses produced by exception handlers
(Litestar middleware runs only for matched routes). For each HTTP request it:

- takes the caller's ``X-Request-ID`` (when short and printable) or makes one, exposes it to
  handlers and the error handler (:func:`request_id_of`) and echoes it on the response;
- records ``permsvc_http_requests_total`` / ``permsvc_http_request_duration_seconds`` by route
  template, method and status;
- writes one JSON access-log line (:class:`AccessLog`).

With several worker processes, metrics are aggregated by prometheus_client's multiprocess mode:
``permsvc serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before forking.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
import urllib.parse
from typing import TYPE_CHECKING, Any, Protocol

import msgspec
from litestar import Request, Response, get
from litestar.status_codes import HTTP_200_OK
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from permsvc.api.priority import PENDING_KEY, finished

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence

    from permsvc.api.priority import WritePriority
    from permsvc.api.tracing import Tracing
    from permsvc.store.index.datastore import IndexStats

    Scope = MutableMapping[str, Any]
    Message = MutableMapping[str, Any]
    Receive = Callable[[], Awaitable[Message]]
    Send = Callable[[Message], Awaitable[None]]
    # Any ASGI callable: Litestar types its scopes as TypedDicts, which a MutableMapping is not.
    ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

__all__ = (
    "REQUEST_ID_HEADER",
    "AccessLog",
    "FastRoute",
    "JsonFormatter",
    "Metrics",
    "ObservedApp",
    "healthz",
    "metrics_endpoint",
    "openapi_json",
    "readyz",
    "request_id_of",
)

REQUEST_ID_HEADER = "X-Request-ID"
TRACE_IDS: Callable[[], tuple[str, str] | None] | None = None
"""Set while tracing is on (:meth:`permsvc.api.tracing.Tracing.current_ids`): every log line
written inside a span then carries its ``trace_id`` and ``span_id``."""

_REQUEST_ID_KEY = "permsvc.request_id"
_MAX_REQUEST_ID = 1024
"""Longest ``X-Request-ID`` echoed back; a longer one is replaced by a generated id."""
_SAFE_ID_BYTES = frozenset(range(0x20, 0x7F)) | {0x09}
"""Visible ASCII, space and tab: what can be sent back in a header unchanged (AuthZEN requires
the echoed id to be the caller's, byte for byte)."""

_encode = msgspec.json.Encoder().encode

_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


def request_id_of(scope: Mapping[str, Any]) -> str:
    """The id of the request being served (set by :class:`ObservedApp`; ``""`` outside it)."""
    return str(scope.get(_REQUEST_ID_KEY, ""))


_WORKER_HEADER = b"x-permsvc-worker"
"""Response header naming the serving process (its pid): with ``--workers N`` it tells which
process, with its own in-memory index, answered."""


class _RequestIds:
    """Generated request ids: 32 hex digits, a random per-process prefix and a counter.

    As unique as 16 random bytes per request for anything a log or an audit row needs (the
    prefix is drawn anew in every process, including one forked later), without a ``getrandom``
    call per request."""

    __slots__ = ("_counter", "_prefix")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFFFFFFFFFF:016x}"


class _Process:
    """Per-process constants, renewed in a forked child: its response header and its id prefix."""

    worker_header: tuple[bytes, bytes]
    request_ids = _RequestIds()

    @classmethod
    def renew(cls) -> None:
        cls.worker_header = (_WORKER_HEADER, str(os.getpid()).encode("ascii"))
        cls.request_ids.reset()


_Process.renew()
os.register_at_fork(after_in_child=_Process.renew)


def _incoming_request_id(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"x-request-id":
            if 0 < len(value) <= _MAX_REQUEST_ID and _SAFE_ID_BYTES.issuperset(value):
                return value.decode("ascii")
            return ""
    return ""


class Metrics:
    """The service's Prometheus metrics (one registry per app, so tests stay independent)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "permsvc_http_requests_total",
            "HTTP requests by route template, method and status.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "permsvc_http_request_duration_seconds",
            "HTTP request latency by route template and method.",
            ("route", "method"),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.decisions = Counter(
            "permsvc_decisions_total",
            "Authorization decisions by API and result.",
            ("api", "allowed"),
            registry=self.registry,
        )
        self.errors = Counter(
            "permsvc_errors_total",
            "Error responses by error code.",
            ("code",),
            registry=self.registry,
        )
        self.index_stores = Gauge(
            "permsvc_index_stores",
            "Stores by how this process serves their reads: index (in memory; from_snapshot: of "
            "those, started from their index snapshot), building, database (beyond the memory budget).",
            ("mode",),
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.index_tuples = Gauge(
            "permsvc_index_tuples",
            "Tuples held by the in-memory indexes.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.index_bytes = Gauge(
            "permsvc_index_estimated_bytes",
            "Memory of the in-memory indexes as the budget estimates it (tuples x bytes per tuple).",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.index_budget = Gauge(
            "permsvc_index_memory_budget_bytes",
            "PERMSVC_INDEX_MEMORY_BUDGET: what the indexes of one process may take.",
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self.replica_reads = Counter(
            "permsvc_database_replica_reads_total",
            "Reads that may use a read replica, by where they went (replica, primary) and why "
            "(caught_up; behind, down, error, higher_consistency).",
            ("target", "reason"),
            registry=self.registry,
        )
        self.replica_lag = Gauge(
            "permsvc_database_replica_lag_seconds",
            "Replay lag of each read replica, measured periodically (0: everything received is replayed).",
            ("replica",),
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self.replica_up = Gauge(
            "permsvc_database_replica_up",
            "Whether each read replica answered its last lag measurement (1) or not (0).",
            ("replica",),
            registry=self.registry,
            multiprocess_mode="livemin",
        )
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._decision_children: dict[tuple[str, bool], Any] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def decision(self, api: str, allowed: bool) -> None:
        child = self._decision_children.get((api, allowed))
        if child is None:
            child = self._decision_children[(api, allowed)] = self.decisions.labels(
                api, "true" if allowed else "false"
            )
        child.inc()

    def error(self, code: str) -> None:
        self.errors.labels(code).inc()

    def index(self, stats: IndexStats) -> None:
        """Record what this process's indexes hold (called periodically and before rendering)."""
        for mode, value in (
            ("index", stats.indexed_stores),
            ("from_snapshot", stats.from_snapshot),
            ("building", stats.building),
            ("database", stats.database_stores),
        ):
            self.index_stores.labels(mode).set(value)
        self.index_tuples.set(stats.tuples)
        self.index_bytes.set(stats.estimated_bytes)
        self.index_budget.set(stats.budget_bytes)

    def replica_read(self, target: str, reason: str) -> None:
        self.replica_reads.labels(target, reason).inc()

    def replica_measured(self, replica: str, lag_s: float | None) -> None:
        """A replica's lag (``None``: it did not answer; its last lag stays)."""
        self.replica_up.labels(replica).set(0 if lag_s is None else 1)
        if lag_s is not None:
            self.replica_lag.labels(replica).set(lag_s)

    def render(self) -> bytes:
        """The Prometheus text format; every worker's series when running multi-process."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # prometheus_client leaves its __init__ unannotated
            return generate_latest(registry)
        return generate_latest(self.registry)


class FastRoute(Protocol):
    """A route served as plain ASGI, ahead of the framework (see :mod:`permsvc.api.openfga.fastpath`)."""

    def match(self, scope: Scope) -> Any:
        """Anything but ``None`` claims the request and is passed to ``__call__``."""
        ...

    async def __call__(self, scope: Scope, receive: Receive, send: Send, match: Any, /) -> None: ...


class ObservedApp:
    """Plain-ASGI wrapper adding request ids, the worker id (``X-Permsvc-Worker``), access logs,
    request metrics and (when tracing is on) the request's server span to every response. ``fast_routes`` are offered each request first; the
    wrapped application serves the rest."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        access_log: AccessLog | None = None,
        fast_routes: Sequence[FastRoute] = (),
        tracing: Tracing | None = None,
        priority: WritePriority | None = None,
        is_write: Callable[[str, str], bool] | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log
        self.fast_routes = tuple(fast_routes)
        self.tracing = tracing
        """OpenTelemetry (:mod:`permsvc.api.tracing`); ``None``, the default, costs one test."""
        self.priority = priority if is_write is not None else None
        """Writes ahead of reads (:mod:`permsvc.api.priority`): requests ``is_write`` picks run
        marked as writes, every other request is admitted by it first; ``None``: no ordering."""
        self._is_write = is_write or (lambda _method, _path: False)

    def __getattr__(self, name: str) -> Any:
        # Test clients and servers reach through to the wrapped Litestar app (state, debug, ...).
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.tracing is not None:
            with self.tracing.server_span(scope) as span:
                await self._serve(scope, receive, send, span)
            return
        await self._serve(scope, receive, send, None)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, span: Any) -> None:
        start = time.perf_counter()
        request_id = _incoming_request_id(scope.get("headers", [])) or _Process.request_ids.next()
        scope[_REQUEST_ID_KEY] = request_id
        header = (b"x-request-id", request_id.encode("ascii"))
        worker = _Process.worker_header
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header, worker]
            await send(message)

        try:
            if _holds_nul(scope):
                await _refuse_nul(scope, send_with_id)
                return
            priority = self.priority
            if priority is None:
                await self._route(scope, receive, send_with_id)
            elif self._is_write(scope["method"], scope["path"]):
                scope[PENDING_KEY] = priority  # the front door starts the write (or not)
                try:
                    await self._route(scope, receive, send_with_id)
                finally:
                    finished(scope)
            else:
                await priority.admit()
                await self._route(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            template: str = scope.get("path_template") or "unmatched"
            method = scope.get("method", "")
            self.metrics.observe_request(template, method, status, elapsed)
            trace: dict[str, str] = {}
            if span is not None:
                assert self.tracing is not None
                self.tracing.finish_server_span(
                    span, method=method, route=template, status=status, request_id=request_id
                )
                ids = self.tracing.current_ids()
                if ids is not None:
                    trace = {"trace_id": ids[0], "span_id": ids[1]}
            if self.access_log is not None:
                self.access_log.emit(
                    request_id=request_id,
                    method=method,
                    path=scope.get("path", ""),
                    route=template,
                    status=status,
                    duration_ms=round(elapsed * 1000, 3),
                    client=(scope.get("client") or ("", 0))[0],
                    **trace,
                )

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        for route in self.fast_routes:
            match = route.match(scope)
            if match is not None:
                await route(scope, receive, send, match)
                return
        await self.app(scope, receive, send)


def _holds_nul(scope: Scope) -> bool:
    """Whether the request's path or query string carries a NUL (``%00``). No identifier may hold
    one and PostgreSQL text cannot store one, so it is refused before any route sees it."""
    return "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b"")


def _nul_message(scope: Scope) -> str:
    """Where the NUL is: the path, or the first query parameter (name or value) holding it."""
    why = "holds a control character (U+0000, NUL), which no identifier, type, token or parameter may contain"
    if "\x00" in scope.get("path", ""):
        return f"the path {why}"
    query = scope.get("query_string", b"").decode("utf-8", "replace")
    for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            shown = name.replace("\x00", "\\u0000")[:100]
            return f"the query parameter '{shown}' {why}"
    return f"the query string {why}"


async def _refuse_nul(scope: Scope, send: Send) -> None:
    body = msgspec.json.encode({"code": "validation_error", "message": _nul_message(scope)})
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class AccessLog:
    """One JSON line per request, in the shape :class:`JsonFormatter` gives every other log line
    (``ts``, ``level``, ``logger``: ``permsvc.access``, ``msg``, then the request's fields).

    Written straight to a file descriptor (stderr by default) with one ``write`` per line rather
    than through :mod:`logging`: the logging machinery costs about as much as a whole check, and
    one ``write`` of a line shorter than ``PIPE_BUF`` stays whole even when several worker
    processes share the pipe.
    """

    __slots__ = ("_fd", "_prefix", "_second")

    def __init__(self, fd: int = 2) -> None:
        self._fd = fd
        self._second = -1
        self._prefix = ""

    def emit(self, **fields: Any) -> None:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        line = {
            "ts": f"{self._prefix}.{int((now - second) * 1000):03d}Z",
            "level": "info",
            "logger": "permsvc.access",
            "msg": "request",
            **fields,
        }
        try:
            os.write(self._fd, _encode(line) + b"\n")
        except OSError:
            pass  # a closed or full log pipe must never fail the request it describes


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``msg``, the record's ``fields``
    (structured extras such as the access log's) and ``exc`` (the formatted traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if TRACE_IDS is not None:
            ids = TRACE_IDS()
            if ids is not None:
                out["trace_id"], out["span_id"] = ids
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return _encode(out).decode()


class HealthStatus(msgspec.Struct, frozen=True):
    status: str


@get(
    "/healthz",
    operation_id="Healthz",
    tags=["Operations"],
    summary="Liveness: the process serves requests",
)
async def healthz() -> HealthStatus:
    return HealthStatus("SERVING")


@get(
    "/readyz",
    operation_id="Readyz",
    tags=["Operations"],
    summary="Readiness: the database answers and its migrations are applied",
)
async def readyz(request: Request[Any, Any, Any]) -> Response[Any]:
    datastore = request.app.state.deps.datastore
    try:
        ready = await datastore.is_ready()
    except Exception:
        logging.getLogger("permsvc.api").warning("readiness check failed", exc_info=True)
        ready = False
    if ready:
        return Response(HealthStatus("READY"), status_code=HTTP_200_OK)
    return Response(
        {
            "code": "unavailable",
            "message": "the database is unreachable or its migrations are not applied",
        },
        status_code=503,
    )


@get(
    "/metrics",
    operation_id="Metrics",
    tags=["Operations"],
    summary="Prometheus metrics",
    media_type=CONTENT_TYPE_LATEST,
)
async def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    metrics: Metrics = request.app.state.deps.metrics
    stats = getattr(request.app.state.deps.datastore, "stats", None)
    if stats is not None:
        metrics.index(stats())
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)


@get("/openapi.json", operation_id="OpenAPI", include_in_schema=False, cache=True)
async def openapi_json(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The OpenAPI 3.1 document (also at ``/docs/openapi.json``; the docs UI is ``/docs``)."""
    return request.app.openapi_schema.to_schema()
