"""OpenTelemetry: spans of every request through the real app, exported to the SDK's in-memory
exporter; the ``OTEL_*`` switch (off by default); log lines carrying the trace id; a server
without the packages."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

if os.environ.get("CI", "").lower() != "true":  # under CI the test extra must have installed it
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from permsvc.api import ops
from permsvc.api.app import create_app
from permsvc.api.tracing import Tracing, tracing_from_env, tracing_requested
from permsvc.settings import SettingsError
from tests.api.conftest import MODEL, make_settings
from tests.conftest import REPO_ROOT

_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
_PARENT_ID = "00f067aa0ba902b7"
_TRACEPARENT = f"00-{_TRACE_ID}-{_PARENT_ID}-01"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def traced(
    tmp_path: Path, exporter: InMemorySpanExporter
) -> AsyncIterator[tuple[AsyncTestClient[Any], Tracing, int]]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = Tracing(provider)
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    app = create_app(
        make_settings(database_url=f"sqlite:///{tmp_path / 'permsvc.db'}", access_log=True),
        tracing=tracing,
    )
    app.access_log = ops.AccessLog(write_end)
    async with AsyncTestClient(app) as client:
        yield client, tracing, read_end
    os.close(read_end)
    os.close(write_end)


def _by_name(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


async def _store_with_tuple(client: AsyncTestClient[Any]) -> str:
    store = (await client.post("/stores", json={"name": "traced"})).json()["id"]
    assert (
        await client.post(f"/stores/{store}/authorization-models", json=MODEL)
    ).status_code == 201
    written = await client.post(
        f"/stores/{store}/write",
        json={
            "writes": {
                "tuple_keys": [
                    {"object": "group:eng", "relation": "member", "user": "user:anne"},
                    {"object": "document:1", "relation": "viewer", "user": "group:eng#member"},
                ]
            }
        },
    )
    assert written.status_code == 200, written.text
    return str(store)


async def test_a_check_is_a_server_span_continuing_the_callers_trace_with_an_engine_child(
    traced: tuple[AsyncTestClient[Any], Tracing, int], exporter: InMemorySpanExporter
) -> None:
    client, _, _ = traced
    store = await _store_with_tuple(client)
    exporter.clear()
    body = {"tuple_key": {"object": "document:1", "relation": "viewer", "user": "user:anne"}}
    for _ in range(2):
        answer = await client.post(
            f"/stores/{store}/check", json=body, headers={"traceparent": _TRACEPARENT}
        )
        assert answer.json()["allowed"] is True
    spans = exporter.get_finished_spans()
    servers = _by_name(spans, "POST /stores/{store_id}/check")
    checks = _by_name(spans, "permsvc.check")
    assert len(servers) == 2 and len(checks) == 2
    for server, check in zip(servers, checks, strict=True):
        assert server.kind is SpanKind.SERVER
        assert f"{server.context.trace_id:032x}" == _TRACE_ID
        assert server.parent is not None and f"{server.parent.span_id:016x}" == _PARENT_ID
        assert server.attributes["http.route"] == "/stores/{store_id}/check"
        assert server.attributes["http.response.status_code"] == 200
        assert server.attributes["url.path"] == f"/stores/{store}/check"
        assert check.parent is not None and check.parent.span_id == server.context.span_id
        assert check.attributes["permsvc.store_id"] == store
        assert check.attributes["permsvc.model_id"]
        assert check.attributes["permsvc.revision"] == 1
        assert check.attributes["permsvc.check.allowed"] is True
    assert checks[0].attributes["permsvc.check.cache_hit"] is False
    assert checks[0].attributes["permsvc.check.dispatches"] >= 1  # the hop into group:eng#member
    assert checks[1].attributes["permsvc.check.cache_hit"] is True
    assert checks[1].attributes["permsvc.check.dispatches"] == 0


async def test_database_calls_are_client_spans_under_their_request(
    traced: tuple[AsyncTestClient[Any], Tracing, int], exporter: InMemorySpanExporter
) -> None:
    client, _, _ = traced
    store = await _store_with_tuple(client)
    write_server = _by_name(exporter.get_finished_spans(), "POST /stores/{store_id}/write")[0]
    writes = _by_name(exporter.get_finished_spans(), "permsvc.db write")
    assert len(writes) == 1
    assert writes[0].kind is SpanKind.CLIENT
    assert writes[0].parent is not None and writes[0].parent.span_id == write_server.context.span_id
    assert writes[0].attributes["db.system"] == "sqlite"
    assert writes[0].attributes["permsvc.store_id"] == store
    assert writes[0].attributes["permsvc.revision"] == 1
    exporter.clear()
    body = {
        "tuple_key": {"object": "document:1", "relation": "viewer", "user": "user:bob"},
        "consistency": "HIGHER_CONSISTENCY",
    }
    assert (await client.post(f"/stores/{store}/check", json=body)).json()["allowed"] is False
    heads = _by_name(exporter.get_finished_spans(), "permsvc.db head_revision")
    server = _by_name(exporter.get_finished_spans(), "POST /stores/{store_id}/check")[0]
    assert heads and all(h.context.trace_id == server.context.trace_id for h in heads)


async def test_a_request_no_route_matches_is_a_server_span_named_by_its_method(
    traced: tuple[AsyncTestClient[Any], Tracing, int], exporter: InMemorySpanExporter
) -> None:
    client, _, _ = traced
    assert (await client.get("/no/such/route")).status_code == 404
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET" and "http.route" not in span.attributes
    assert span.kind is SpanKind.SERVER and span.attributes["http.response.status_code"] == 404
    assert span.status.status_code is not StatusCode.ERROR  # 4xx is the caller's error


async def test_log_lines_carry_the_trace_id(
    traced: tuple[AsyncTestClient[Any], Tracing, int], exporter: InMemorySpanExporter
) -> None:
    client, tracing, access_fd = traced
    assert (await client.get("/healthz", headers={"traceparent": _TRACEPARENT})).status_code == 200
    access = json.loads(os.read(access_fd, 65536).decode().strip().splitlines()[-1])
    (span,) = exporter.get_finished_spans()
    assert access["trace_id"] == _TRACE_ID
    assert access["route"] == "/healthz"
    assert access["span_id"] == f"{span.context.span_id:016x}"
    formatter = ops.JsonFormatter()
    record = logging.LogRecord("permsvc.test", logging.WARNING, __file__, 1, "inside", None, None)
    with tracing.tracer.start_as_current_span("work") as work:
        line = json.loads(formatter.format(record))
    assert line["trace_id"] == f"{work.get_span_context().trace_id:032x}"
    assert line["span_id"] == f"{work.get_span_context().span_id:016x}"
    assert "trace_id" not in json.loads(formatter.format(record))  # outside any span


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "authz"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        (
            {
                "OTEL_TRACES_EXPORTER": "none",
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
            },
            False,
        ),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, False),
    ],
)
def test_traces_are_off_unless_the_otel_variables_ask(env: dict[str, str], expected: bool) -> None:
    assert tracing_requested(env) is expected
    built = tracing_from_env(env)
    assert (built is not None) is expected
    if built is not None:
        built.shutdown()


def test_the_otlp_exporter_and_resource_come_from_the_standard_variables() -> None:
    built = tracing_from_env(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_SERVICE_NAME": "authz-eu"}
    )
    assert built is not None
    try:
        assert built.provider.resource.attributes["service.name"] == "authz-eu"
        processors = built.provider._active_span_processor._span_processors
        assert [type(p._batch_processor._exporter).__name__ for p in processors] == [
            "OTLPSpanExporter"
        ]
    finally:
        built.shutdown()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "unknown exporter 'zipkin'"),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
            "unsupported protocol",
        ),
    ],
)
def test_a_bad_tracing_setting_is_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        tracing_from_env(env)


def test_asking_for_traces_without_the_packages_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    with pytest.raises(SettingsError, match=r"permsvc\[otel\]"):
        tracing_from_env({"OTEL_TRACES_EXPORTER": "otlp"})


def test_the_server_runs_without_the_packages(tmp_path: Path) -> None:
    """A process where ``opentelemetry`` cannot be imported serves requests (tracing off)."""
    script = """
import sys
sys.modules["opentelemetry"] = None  # any import of it now fails
from litestar.testing import TestClient
from permsvc.api.app import asgi_app_from_env
with TestClient(asgi_app_from_env()) as client:
    assert client.get("/healthz").status_code == 200
    assert client.post("/stores", json={"name": "plain"}).status_code == 201
print("served")
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PERMSVC_"))}
    env.update({"PERMSVC_DATABASE_URL": "memory:", "PERMSVC_ACCESS_LOG": "false"})
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "served" in done.stdout, done.stderr[-3000:]


async def test_a_traced_backend_offers_exactly_its_backends_capabilities(tmp_path: Path) -> None:
    """Capabilities are decided once per class: a traced memory store and a traced SQLite store
    in one process must not share the answer."""
    from permsvc.api.tracing import traced_datastore
    from permsvc.store.memory import MemoryDatastore
    from permsvc.store.protocol import InlineReads, TupleSnapshotReader, implements, unwrap
    from permsvc.store.sqlite import SqliteDatastore

    tracing = Tracing(TracerProvider())
    memory = traced_datastore(MemoryDatastore(), tracing, system="memory")
    sqlite = traced_datastore(
        await SqliteDatastore.open(tmp_path / "x.db"), tracing, system="sqlite"
    )
    try:
        assert implements(memory, InlineReads) and not implements(sqlite, InlineReads)
        assert unwrap(sqlite, TupleSnapshotReader) is sqlite  # its snapshot reads are traced
        assert type(memory) is not type(sqlite)
    finally:
        await sqlite.aclose()
