"""Bad input gets a clear 4xx with a ``{code, message}`` body, never a 5xx, and never changes data.

A battery of hostile requests is generated from the app's own route list (so a new route is
attacked without touching this file) and replayed through the in-process app, authenticated with
a bootstrap key: bad path parameters (invalid ULIDs, traversal, percent-encoded oddities, invalid
UTF-8, NUL, RTL, very long ids), bad query strings (negative, huge and non-numeric page sizes,
invalid continuation and consistency tokens, query strings on POST routes), bad bodies (empty,
non-object JSON, invalid UTF-8, deep nesting, duplicate keys, huge numbers, lone surrogates,
control characters, every known field with wrong-typed values, conditions and contextual tuples
with wrong-typed context), refused content types and odd methods.

Every answer must be below 500; every error must be JSON ``{"code", "message"}`` with a code from
the error table; no refused request may change the store's tuples.
"""

from __future__ import annotations

import json
import random
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from permsvc.api.errors import ERROR_CODES, ApiError, render_error
from tests.api.conftest import MODEL, make_settings
from tests.api.live import live_server

UP = "." * 2
"""A parent-directory segment: the payload of path-traversal attempts (not a path the tests read)."""

KEY = "hostile-input-bootstrap-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
JSON_CT = {"Content-Type": "application/json"}
SEED = 20261206
PER_ROUTE_BODY_FIELDS = 40
"""Field x wrong-value pairs sampled per body route (all fields are covered across routes)."""

SKIPPED_PATHS = ("/docs", "/schema", "/openapi")
"""The API reference pages: static documents, not inputs."""

TUPLE_MUTATING = ("/write", "/grants", "/revokes", "/tuples/delete", "/tuples/import")

FIELDS = (
    "tuple_key",
    "tuple_keys",
    "user",
    "relation",
    "object",
    "type",
    "id",
    "name",
    "condition",
    "context",
    "contextual_tuples",
    "authorization_model_id",
    "consistency",
    "consistency_token",
    "writes",
    "deletes",
    "on_duplicate",
    "on_missing",
    "page_size",
    "continuation_token",
    "checks",
    "correlation_id",
    "user_filters",
    "assertions",
    "schema_version",
    "type_definitions",
    "conditions",
    "subject",
    "resource",
    "action",
    "evaluations",
    "options",
    "page",
    "relations",
    "roles",
    "scope",
    "store_id",
    "subject_token",
    "users",
    "objects",
    "start_time",
    "tuples",
    "grants",
    "expectation",
    "claims",
    "spec",
    "model",
    "old",
    "new",
)

LONG = "x" * 20_000
WRONG_VALUES: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -1,
    2**64,
    -(2**63) - 1,
    10**400,
    1.5,
    float("1e308"),
    "",
    " ",
    LONG,
    "\x00",
    "a\x00b",
    "\u202eevil",
    "\x1b[31m",
    "\ud800",
    "\udfff",
    "\uffff",
    "😀" * 100,
    [],
    [None],
    {},
    {"": None},
    [[[[[[]]]]]],
    "01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "not-a-ulid",
    UP + "/" + UP + "/etc/passwd",
    {"type": 1, "id": []},
    {"name": 1, "context": []},
)

BAD_PATH_VALUES = (
    "not-a-ulid",
    "01ARZ3NDEKTSV4RRFFQ69G5FA",
    "01ARZ3NDEKTSV4RRFFQ69G5FAVX",
    "ZZZZZZZZZZZZZZZZZZZZZZZZZZ",
    UP,
    "%2e%2e",
    "..%2f..%2fetc%2fpasswd",
    "%00",
    "a%00b",
    "%ff%fe",
    "%ed%a0%80",
    "%e2%80%ae",
    "%0a%0d",
    "%25",
    "%",
    "x" * 5000,
    "user%3Aanne%23member",
    "%20",
    "%C0%AE%C0%AE",
)

BAD_QUERIES = (
    "page_size=-1",
    "page_size=0",
    "page_size=99999999999999999999999",
    "page_size=abc",
    "page_size=1.5",
    "page_size=",
    "page_size=1&page_size=2",
    "continuation_token=garbage",
    "continuation_token=%ff%00",
    "continuation_token=" + "A" * 5000,
    "continuation_token=eyJmb28iOjF9",
    "consistency_token=garbage",
    "consistency_token=v1.%00",
    "type=%00",
    "start_time=not-a-time",
    "start_time=99999-99-99T99:99:99Z",
    "store_id=..%2f..",
    "user=%ed%a0%80",
    "object=%ff",
    "trace_id=%00",
    "limit=-5",
    "since=abc",
    "%ff=%fe",
    "a[b]=c&a[b]=d",
    "x" * 3000 + "=1",
)

RAW_BODIES: tuple[bytes, ...] = (
    b"",
    b" ",
    b"null",
    b"[]",
    b"1",
    b"-0",
    b"1e999",
    b'"s"',
    b"true",
    b"{",
    b"{]",
    b"\xff\xfe\x00",
    b'{"a": "\xff"}',
    b'{"user": "\\ud800"}',
    b'{"user": "\\u0000"}',
    b"{}" * 2,
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b'{"name": "a", "name": 1}',
    b'{"page_size": 1e400}',
    b'{"page_size": 123456789012345678901234567890}',
    b"\xef\xbb\xbf{}",
    b'{"\\ud800": 1}',
    b"NaN",
    b'{"tuple_key": {"user": "user:a", "user": 5}}',
    b'{"version": 1, "claim": "perms\\udc00", "relations": ["viewer"]}',
    b'claim: "perms\\ud800"\nrelations: [viewer]\n',
)

CONTENT_TYPES = (
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "application/json; charset=latin-1",
    "application/octet-stream",
    "\x7f",
    "application/json, text/plain",
)

ADMIN_CODES = {"api_key_not_found": 404, "admin_key_exists": 409}
"""The /v1 admin surface's own codes (permsvc/api/admin/routes.py), beside OpenFGA's table."""
DETAILED_CODES = {"import_validation_failed", "model_change_orphans_tuples"}
"""Admin codes whose body adds fields (failed lines; orphaned tuples) to ``code`` and ``message``."""
STABLE_CODES = {*ERROR_CODES, "Aborted", *ADMIN_CODES, *DETAILED_CODES}

ODD_METHODS = ("HEAD", "OPTIONS", "PATCH", "TRACE", "PROPFIND")


@dataclass(frozen=True)
class Attack:
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    query: str = ""


def _dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


def _route_list(app: Litestar) -> list[tuple[str, str]]:
    routes = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith(SKIPPED_PATHS):
            continue
        routes.extend(
            (method, route.path)
            for method in sorted(route.methods)
            if method not in ("HEAD", "OPTIONS")
        )
    return routes


def _fill(path: str, ids: dict[str, str], override: tuple[str, str] | None = None) -> str:
    parts = []
    for segment in path.split("/"):
        if segment.startswith("{") and segment.endswith("}"):
            name = segment[1:-1].split(":")[0]
            segment = (
                override[1] if override and override[0] == name else ids.get(name, "document:1")
            )
        parts.append(segment)
    return "/".join(parts)


def _params(path: str) -> list[str]:
    return [s[1:-1].split(":")[0] for s in path.split("/") if s.startswith("{") and s.endswith("}")]


def _body_templates(store_id: str, model_id: str) -> list[Any]:
    """Near-valid bodies whose condition/context/contextual tuples are wrong-typed or malformed."""
    good_key = {"object": "document:1", "relation": "limited", "user": "user:zed"}
    conditioned = [
        {**good_key, "condition": {"name": "small", "context": ctx}}
        for ctx in (
            {"x": "nine"},
            {"x": 2**70},
            {"x": [1]},
            {"x": None},
            {"y": 1},
            [],
            "x",
            {"x": 1.5},
            {"x": {"a": 1}},
        )
    ]
    conditioned += [
        {**good_key, "condition": c} for c in (None, 1, "small", {"name": 1}, {"name": "nope"}, {})
    ]
    bodies: list[Any] = []
    for n, key in enumerate(conditioned):
        if not isinstance(key["condition"], dict) or not isinstance(
            key["condition"].get("context", {}), dict
        ):
            # refused by the wire schema; a well-shaped context with a wrong-typed value is stored as
            # OpenFGA stores it (checked when evaluated), so it is no write attack
            bodies.append(
                {
                    "writes": {"tuple_keys": [{**key, "user": f"user:w{n}"}]},
                    "authorization_model_id": model_id,
                }
            )
        bodies.append(
            {
                "tuple_key": key,
                "contextual_tuples": {"tuple_keys": [key]},
                "context": key.get("condition"),
            }
        )
        bodies.append(
            {
                "user": "user:zed",
                "relation": "limited",
                "object": "document:1",
                "context": {"x": "nine"},
                "contextual_tuples": [key],
                "store_id": store_id,
            }
        )
    for ctx in ([], "x", 1, {"x": "nine"}, {"x": 10**30}, {"\x00": 1}):
        bodies.append({"tuple_key": good_key, "context": ctx, "authorization_model_id": model_id})
        bodies.append(
            {
                "subject": {"type": "user", "id": "zed"},
                "action": {"name": "limited"},
                "resource": {"type": "document", "id": "1"},
                "context": ctx,
            }
        )
    for token in ("garbage", "v1.", "v1.%%%", "\x00", 12, [], "A" * 5000):
        bodies.append(
            {"tuple_key": good_key, "consistency_token": token, "consistency": "HIGHER_CONSISTENCY"}
        )
        bodies.append(
            {
                "user": "user:zed",
                "relation": "viewer",
                "object": "document:1",
                "store_id": store_id,
                "consistency_token": token,
            }
        )
    for model in ("not-a-ulid", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "x" * 300, 5):
        bodies.append({"tuple_key": good_key, "authorization_model_id": model})
    for size in (-1, 0, 2**63, 10**30, "ten", 1.5):
        bodies.append(
            {
                "page_size": size,
                "continuation_token": "garbage",
                "type": "document",
                "relation": "viewer",
                "user": "user:anne",
                "tuple_key": {"object": "document:"},
            }
        )
    return bodies


def attacks(app: Litestar, ids: dict[str, str]) -> Iterator[Attack]:
    """The hostile battery for every route of ``app``; deterministic (seeded)."""
    rng = random.Random(SEED)
    templates = _body_templates(ids["store_id"], ids["authorization_model_id"])
    field_pairs = [(f, v) for f in FIELDS for v in WRONG_VALUES]
    for method, path in _route_list(app):
        real = _fill(path, ids)
        for param in _params(path):
            for value in BAD_PATH_VALUES:
                yield Attack(
                    method,
                    _fill(path, ids, (param, value)),
                    b"{}" if method in ("POST", "PUT") else None,
                    JSON_CT,
                )
        if method == "DELETE":
            continue  # a valid DELETE with junk beside it would legitimately delete
        for odd in ODD_METHODS:
            yield Attack(odd, real)
        for query in BAD_QUERIES:
            yield Attack(method, real, b"[]" if method in ("POST", "PUT") else None, JSON_CT, query)
        if method not in ("POST", "PUT"):
            continue
        for raw in RAW_BODIES:
            yield Attack(method, real, raw, JSON_CT)
        yield Attack(method, real, b"{}", {})  # no Content-Type
        for content_type in CONTENT_TYPES:
            yield Attack(method, real, b'{"a":1}', {"Content-Type": content_type})
        for name, value in rng.sample(field_pairs, PER_ROUTE_BODY_FIELDS):
            yield Attack(method, real, _dumps({name: value}), JSON_CT)
        for body in templates:
            yield Attack(method, real, _dumps(body), JSON_CT)


@dataclass
class Finding:
    attack: Attack
    status: int
    body: bytes

    def __str__(self) -> str:
        return (
            f"{self.attack.method} {self.attack.path[:120]}?{self.attack.query[:60]} "
            f"body={(self.attack.body or b'')[:120]!r} ct={self.attack.headers} -> {self.status} {self.body[:200]!r}"
        )


def check_response(attack: Attack, status: int, body: bytes, content_type: str) -> str | None:
    """Why this answer breaks the contract, or None."""
    if status >= 500:
        return "server error"
    if "%00" in attack.path + attack.query and status != 400:
        return "a NUL in the path or query string is not refused with 400"  # PostgreSQL cannot store it
    if status < 400 or attack.method == "HEAD":
        return None
    if not content_type.startswith("application/json"):
        return f"error body is not JSON ({content_type})"
    try:
        decoded = json.loads(body)
    except ValueError:
        return "error body is not valid JSON"
    if not isinstance(decoded, dict) or not {"code", "message"} <= set(decoded):
        return "error body is not {code, message}"
    if decoded["code"] not in STABLE_CODES:
        return f"unknown error code {decoded['code']!r}"
    if set(decoded) != {"code", "message"} and decoded["code"] not in DETAILED_CODES:
        return f"extra fields in the error body: {sorted(set(decoded) - {'code', 'message'})}"
    if not isinstance(decoded["message"], str) or not decoded["message"]:
        return "empty error message"
    return None


async def send(client: AsyncTestClient[Any], attack: Attack) -> tuple[int, bytes, str]:
    url = attack.path + (f"?{attack.query}" if attack.query else "")
    response = await client.request(
        attack.method, url, content=attack.body, headers={**AUTH, **attack.headers}
    )
    return response.status_code, response.content, response.headers.get("content-type", "")


async def tuples_of(client: AsyncTestClient[Any], store_id: str) -> list[Any]:
    found: list[Any] = []
    token = ""
    while True:
        body: dict[str, Any] = {
            "page_size": 100,
            **({"continuation_token": token} if token else {}),
        }
        response = await client.post(f"/stores/{store_id}/read", json=body, headers=AUTH)
        assert response.status_code == 200, response.text
        page = response.json()
        found.extend((t["key"], t.get("timestamp")) for t in page["tuples"])
        token = page.get("continuation_token") or ""
        if not token:
            return sorted(found, key=json.dumps)


async def prepare(client: AsyncTestClient[Any]) -> dict[str, str]:
    store = await client.post("/stores", json={"name": "hostile"}, headers=AUTH)
    assert store.status_code == 201, store.text
    store_id = store.json()["id"]
    model = await client.post(f"/stores/{store_id}/authorization-models", json=MODEL, headers=AUTH)
    assert model.status_code == 201, model.text
    writes = [
        {"object": "document:1", "relation": "viewer", "user": "user:anne"},
        {"object": "document:1", "relation": "owner", "user": "user:bob"},
        {
            "object": "document:1",
            "relation": "limited",
            "user": "user:cy",
            "condition": {"name": "small", "context": {"x": 3}},
        },
    ]
    wrote = await client.post(
        f"/stores/{store_id}/write", json={"writes": {"tuple_keys": writes}}, headers=AUTH
    )
    assert wrote.status_code == 200, wrote.text
    return {
        "store_id": store_id,
        "authorization_model_id": model.json()["authorization_model_id"],
        "id": model.json()["authorization_model_id"],
        "user": "user:anne",
        "object": "document:1",
        "key_id": "psk_nope",
    }


async def run_battery(
    client: AsyncTestClient[Any], app: Litestar, ids: dict[str, str]
) -> tuple[int, list[str]]:
    before = await tuples_of(client, ids["store_id"])
    problems: list[str] = []
    sent = 0
    for attack in attacks(app, ids):
        status, body, content_type = await send(client, attack)
        sent += 1
        finding = Finding(attack, status, body)
        if status in (
            401,
            403,
        ):  # the battery must reach each route's validation, not stop at the door
            problems.append(f"the admin credential was refused: {finding}")
        elif (why := check_response(attack, status, body, content_type)) is not None:
            problems.append(f"{why}: {finding}")
        if (
            200 <= status < 300
            and attack.method in ("POST", "PUT", "DELETE")
            and attack.path.endswith(TUPLE_MUTATING)
        ):
            problems.append(f"hostile request accepted by a tuple-changing route: {finding}")
    after = await tuples_of(client, ids["store_id"])
    if after != before:
        problems.append(f"tuples changed by refused requests: before={before} after={after}")
    return sent, problems


async def test_every_route_refuses_hostile_input_with_a_4xx_json_error_and_keeps_the_data() -> None:
    app = create_app(make_settings(auth_method="preshared", api_keys=(KEY,)))
    started = time.monotonic()
    async with AsyncTestClient(app, raise_server_exceptions=False) as client:
        ids = await prepare(client)
        sent, problems = await run_battery(client, app, ids)
    elapsed = time.monotonic() - started
    assert not problems, (
        f"{len(problems)} of {sent} hostile requests broke the contract:\n"
        + "\n".join(problems[:40])
    )
    assert sent > 3000, f"the battery shrank to {sent} requests"
    assert elapsed < 120, f"the battery took {elapsed:.0f} s"


def test_the_battery_covers_every_route() -> None:
    app = create_app(make_settings(auth_method="preshared", api_keys=(KEY,)))
    ids = {
        "store_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "authorization_model_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV",
    }
    attacked = {(a.method, a.path) for a in attacks(app, ids)}
    for method, path in _route_list(app):
        assert any(m == method and p.startswith(path.split("{")[0]) for m, p in attacked), (
            method,
            path,
        )


def test_the_checker_flags_server_errors_and_bad_error_bodies() -> None:
    post = Attack("POST", "/x")
    assert check_response(post, 500, b'{"code":"internal_error","message":"x"}', "application/json")
    assert check_response(post, 503, b'{"code":"unavailable","message":"x"}', "application/json")
    assert check_response(post, 400, b"oops", "text/plain")
    assert check_response(post, 400, b'{"code":"nope","message":"x"}', "application/json")
    assert check_response(post, 400, b'{"code":"validation_error"}', "application/json")
    assert check_response(
        post, 400, b'{"code":"validation_error","message":""}', "application/json"
    )
    assert (
        check_response(post, 400, b'{"code":"validation_error","message":"x"}', "application/json")
        is None
    )


def test_an_error_quoting_a_lone_surrogate_is_still_a_json_error() -> None:
    status, body, _ = render_error(
        ApiError("validation_error", "bad name 'a\ud800'"), state={}, scope={}
    )
    assert status == 400
    assert json.loads(body) == {"code": "validation_error", "message": "bad name 'a\\ud800'"}


def test_a_request_the_http_parser_refuses_gets_the_json_error_body(tmp_path: Any) -> None:
    """A control character in a header value never reaches the app: the server's own HTTP
    protocol answers, with the same ``{code, message}`` body as every other error."""
    with live_server(tmp_path) as server:
        port = int(server.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"POST /stores HTTP/1.1\r\nHost: x\r\nContent-Type: \x7f\r\nContent-Length: 2\r\n\r\n{}"
            )
            raw = b""
            while chunk := sock.recv(65536):
                raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), raw
    assert b"content-type: application/json" in head.lower(), raw
    decoded = json.loads(body)
    assert decoded["code"] == "validation_error"
    assert decoded["message"].startswith("the request is not valid HTTP/1.1"), decoded


async def test_a_client_leaving_before_its_body_ends_is_no_server_fault() -> None:
    """The body announced 100 bytes; the client sends 2 and disconnects: a 400, not a 500."""
    app = create_app(make_settings(auth_method="preshared", api_keys=(KEY,)))
    sent: list[dict[str, Any]] = []
    events = iter(
        [{"type": "http.request", "body": b"{}", "more_body": True}, {"type": "http.disconnect"}]
    )

    async def receive() -> dict[str, Any]:
        return next(events)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/stores",
        "raw_path": b"/stores",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"x"),
            (b"content-type", b"application/json"),
            (b"content-length", b"100"),
            (b"authorization", f"Bearer {KEY}".encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    async with AsyncTestClient(app):  # runs the lifespan (the app's dependencies)
        await app(scope, receive, send)  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert start["status"] == 400, (start, body)
    assert json.loads(body)["code"] == "validation_error"
