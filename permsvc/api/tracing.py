"""OpenTelemetry traces, configured by the standard ``OTEL_*`` variables; off (and free) by default.

Tracing is on when ``OTEL_TRACES_EXPORTER`` names an exporter (``otlp`` or ``console``), or, with
that variable unset, when an OTLP endpoint is configured (``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``); ``OTEL_SDK_DISABLED=true`` or
``OTEL_TRACES_EXPORTER=none`` keep it off. Everything else is the SDK's own reading of the
standard variables: the OTLP exporter's endpoint, headers, protocol (``http/protobuf`` by default,
``grpc`` when its exporter package is installed), timeouts and compression; the sampler
(``OTEL_TRACES_SAMPLER``, ``..._ARG``); the resource (``OTEL_SERVICE_NAME``, default ``permsvc``,
and ``OTEL_RESOURCE_ATTRIBUTES``); the batch processor's ``OTEL_BSP_*``; the propagators
(``OTEL_PROPAGATORS``, W3C ``traceparent`` and baggage by default).

The packages (``pip install 'permsvc[otel]'``) are imported only when tracing is on: a server
without them runs, and one that asks for tracing without them refuses to start with that hint.

What a trace holds (see :class:`Tracing`):

- one ``SERVER`` span per HTTP request (``POST /stores/{store_id}/check``), the child of the
  caller's ``traceparent`` when it sends one, with the method, route, path, status, request id;
- an ``INTERNAL`` span ``permsvc.check`` per Check the engine answers (a batch or an AuthZEN
  evaluations call has one per item): store, model, revision, dispatch count, whether the answer
  came from the cache, the answer;
- a ``CLIENT`` span ``permsvc.db <operation>`` per database call a request makes (the in-memory
  index answers without one; the index's own background reads are not traced): store, database
  system, the revision a write committed.

Log lines written while a span is current carry its ``trace_id`` and ``span_id`` (the access
log too), so a log line leads to its trace.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from permsvc.settings import SettingsError

if TYPE_CHECKING:
    from permsvc.engine.request import ResolveContext, ResolveResult
    from permsvc.engine.resolver import CheckResolver

__all__ = (
    "TracedCheckResolver",
    "TracedDatastore",
    "Tracing",
    "traced_datastore",
    "tracing_from_env",
    "tracing_requested",
)

_INSTALL_HINT = "install the tracing packages: pip install 'permsvc[otel]'"


def tracing_requested(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the ``OTEL_*`` variables ask for traces (see the module docstring)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = [
        e.strip().lower() for e in env.get("OTEL_TRACES_EXPORTER", "").split(",") if e.strip()
    ]
    if exporters:
        return any(e != "none" for e in exporters)
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def tracing_from_env(environ: Mapping[str, str] | None = None) -> Tracing | None:
    """A :class:`Tracing` exporting as the ``OTEL_*`` variables say, or ``None`` when they do not
    ask for traces.

    Raises:
        SettingsError: tracing is asked for but the packages are missing, or an exporter or
            protocol is unknown.
    """
    env = os.environ if environ is None else environ
    if not tracing_requested(env):
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    except ImportError as err:
        raise SettingsError(
            f"OTEL_* variables ask for traces but {err.name} is missing: {_INSTALL_HINT}"
        ) from err
    exporters: list[Any] = []
    for name in [
        e.strip().lower() for e in env.get("OTEL_TRACES_EXPORTER", "otlp").split(",") if e.strip()
    ]:
        if name == "none":
            continue
        if name == "console":
            exporters.append(ConsoleSpanExporter())
        elif name == "otlp":
            exporters.append(_otlp_exporter(env))
        else:
            raise SettingsError(
                f"OTEL_TRACES_EXPORTER: unknown exporter {name!r} (use otlp, console or none)"
            )
    provider = TracerProvider(resource=Resource.create(_resource_attributes(env)))
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return Tracing(provider)


def _resource_attributes(env: Mapping[str, str]) -> dict[str, str]:
    """``OTEL_RESOURCE_ATTRIBUTES`` (``key=value,...``, percent-encoded values) and
    ``OTEL_SERVICE_NAME`` (which wins), with ``service.name`` defaulting to ``permsvc``."""
    from urllib.parse import unquote

    attributes: dict[str, str] = {}
    for item in env.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            attributes[key.strip()] = unquote(value.strip())
    attributes["service.name"] = env.get("OTEL_SERVICE_NAME", "").strip() or attributes.get(
        "service.name", "permsvc"
    )
    return attributes


def _otlp_exporter(env: Mapping[str, str]) -> Any:
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    try:
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found,unused-ignore]
                OTLPSpanExporter,
            )
        elif protocol == "http/protobuf":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        else:
            raise SettingsError(
                f"OTEL_EXPORTER_OTLP_PROTOCOL: unsupported protocol {protocol!r} (use http/protobuf or grpc)"
            )
    except ImportError as err:
        extra = (
            " (grpc: pip install opentelemetry-exporter-otlp-proto-grpc)"
            if protocol == "grpc"
            else ""
        )
        raise SettingsError(
            f"the OTLP {protocol} exporter is missing: {_INSTALL_HINT}{extra}"
        ) from err
    return OTLPSpanExporter()


class Tracing:
    """The tracer of one process and what it instruments. Built by :func:`tracing_from_env`, or
    around any ``TracerProvider`` (tests pass one with an in-memory exporter)."""

    def __init__(self, provider: Any) -> None:
        from opentelemetry import propagate, trace

        self.provider = provider
        self.tracer = provider.get_tracer("permsvc")
        self._trace = trace
        self._extract = propagate.extract
        self._server = trace.SpanKind.SERVER
        self._error = trace.StatusCode.ERROR

    # -- HTTP --------------------------------------------------------------------------------

    def server_span(self, scope: Mapping[str, Any]) -> Any:
        """A context manager: the request's ``SERVER`` span, current while it runs, continuing the
        caller's trace when the request carries a W3C ``traceparent``."""
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}
        method = scope.get("method", "")
        return self.tracer.start_as_current_span(
            method,
            context=self._extract(carrier),
            kind=self._server,
            attributes={"http.request.method": method, "url.path": scope.get("path", "")},
            record_exception=False,
            set_status_on_exception=False,
        )

    def finish_server_span(
        self, span: Any, *, method: str, route: str, status: int, request_id: str
    ) -> None:
        """Name the span by its route template once routing has found it (a request no route
        matched keeps the bare method, as the HTTP conventions ask)."""
        if route != "unmatched":
            span.update_name(f"{method} {route}")
            span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        span.set_attribute("permsvc.request_id", request_id)
        if status >= 500:
            span.set_status(self._error)

    def current_ids(self) -> tuple[str, str] | None:
        """``(trace_id, span_id)`` in hex of the current span, ``None`` outside one."""
        ctx = self._trace.get_current_span().get_span_context()
        if not ctx.is_valid:
            return None
        return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"

    def shutdown(self) -> None:
        """Export what is buffered and stop (the end of the process's lifespan)."""
        self.provider.shutdown()


class TracedCheckResolver:
    """The head of the check-resolver chain with one ``permsvc.check`` span per Check."""

    def __init__(self, inner: CheckResolver, tracing: Tracing) -> None:
        self._inner = inner
        self._tracer = tracing.tracer
        self._cached = getattr(inner, "contains", None)

    def __getattr__(self, name: str) -> Any:
        # the cache's counters and size (metrics) are read through the head of the chain
        return getattr(self._inner, name)

    async def check(self, ctx: ResolveContext, object_: str, relation: str) -> ResolveResult:
        with self._tracer.start_as_current_span("permsvc.check") as span:
            span.set_attribute("permsvc.store_id", ctx.store_id)
            span.set_attribute("permsvc.model_id", ctx.plan.typesystem.model_id)
            if ctx.revision is not None:
                span.set_attribute("permsvc.revision", ctx.revision)
            span.set_attribute("permsvc.check.tuple", f"{object_}#{relation}@{ctx.user}")
            if self._cached is not None:
                span.set_attribute(
                    "permsvc.check.cache_hit", bool(self._cached(ctx, object_, relation))
                )
            before = ctx.budget.dispatches
            result = await self._inner.check(ctx, object_, relation)
            span.set_attribute("permsvc.check.dispatches", ctx.budget.dispatches - before)
            span.set_attribute("permsvc.check.allowed", result.allowed)
            return result


_TRACED_CLASSES: dict[type, type[TracedDatastore]] = {}


def traced_datastore(inner: Any, tracing: Tracing, *, system: str) -> TracedDatastore:
    """``inner`` behind a :class:`TracedDatastore` of a class made for ``type(inner)``: the store
    layer decides which capabilities an object offers once per class (``implements``), and a
    traced SQLite store and a traced memory store must not share that answer."""
    cls = _TRACED_CLASSES.get(type(inner))
    if cls is None:
        cls = _TRACED_CLASSES[type(inner)] = type(
            f"Traced{type(inner).__name__}", (TracedDatastore,), {}
        )
    return cls(inner, tracing, system=system)


class TracedDatastore:
    """A datastore whose every database call (each coroutine method) runs in a ``CLIENT`` span.
    Build with :func:`traced_datastore`.

    Forwarding is by ``__getattr__`` on purpose: it must trace whatever the backend offers (the
    optional capabilities the index and the admin API look up with ``unwrap``, such as
    ``snapshot_tuples``, ``bulk_write``, the key and audit stores), and a method it does not know
    stays reachable. It is a ``Wrapper`` too (:meth:`unwrap`)."""

    def __init__(self, inner: Any, tracing: Tracing, *, system: str) -> None:
        self.inner = inner
        self._tracer = tracing.tracer
        self._client = tracing._trace.SpanKind.CLIENT
        self._current = tracing._trace.get_current_span
        self._system = system

    def unwrap(self) -> object:
        return self.inner

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute
        try:
            first = next(iter(inspect.signature(attribute).parameters), "")
        except (TypeError, ValueError):
            first = ""
        traced = self._traced(name, attribute, by_store=first == "store_id")
        self.__dict__[name] = traced  # once per method: later calls skip __getattr__
        return traced

    def _traced(self, name: str, method: Any, *, by_store: bool) -> Any:
        tracer, kind, system = self._tracer, self._client, self._system
        current = self._current

        @functools.wraps(method)
        async def call(*args: Any, **kwargs: Any) -> Any:
            if not current().is_recording():
                # outside a request (the index's follower, start-up): no root span per poll
                return await method(*args, **kwargs)
            attributes: dict[str, Any] = {"db.system": system, "db.operation.name": name}
            store_id = (
                args[0] if by_store and args else kwargs.get("store_id") if by_store else None
            )
            if isinstance(store_id, str):
                attributes["permsvc.store_id"] = store_id
            with tracer.start_as_current_span(
                f"permsvc.db {name}", kind=kind, attributes=attributes
            ) as span:
                result = await method(*args, **kwargs)
                revision = getattr(result, "revision", None)
                if isinstance(revision, int):
                    span.set_attribute("permsvc.revision", revision)
                return result

        return call
