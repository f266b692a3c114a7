"""A cross-site form or a ``text/plain`` ``fetch`` changes nothing: bodies are JSON or a route's
own documented type.

Every body route (POST/PUT/PATCH/DELETE of the app's route table) is sent the shapes a browser
can send without a CORS preflight, with a valid credential and without one, and must refuse each
(415) before any handler runs; JSON with parameters, ``*+json`` and no ``Content-Type`` at all pass
the door, and so do the routes' own types (YAML claim specs, JSON-lines imports) on their routes
only. CORS is off unless origins are configured.
"""

from __future__ import annotations

import pytest

from permsvc.api.security.door import BODY_METHODS
from permsvc.api.security.table import ROUTE_RULES, rule_key
from tests.security.kit import ROOT, World, open_world

CROSS_SITE = (
    "text/plain",
    "text/plain; charset=utf-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "TEXT/PLAIN",
    "text/html",
    "application/xml",
    "application/x-ndjson-but-not",
    " text/plain ; x=y",
)
JSON_SHAPES = (
    "application/json",
    "application/json; charset=utf-8",
    "Application/JSON",
    "application/merge-patch+json",
)


def _body_routes(world: World) -> list[tuple[str, str]]:
    return [
        (m, p)
        for m, p in world.route_table()
        if m in BODY_METHODS and ROUTE_RULES[rule_key(m, p)].role
    ]


async def test_cross_site_body_types_are_refused_everywhere(world: World) -> None:
    tried = 0
    for method, path in _body_routes(world):
        url, _ = world.sample(method, path)
        for media in CROSS_SITE:
            for headers in (ROOT, {}):
                response = await world.client.request(
                    method, url, content=b'{"a":1}', headers={**headers, "Content-Type": media}
                )
                tried += 1
                assert response.status_code == 415, (method, path, media, response.text)
                assert response.json()["code"] == "invalid_request"
    assert tried >= 38 * len(CROSS_SITE) * 2  # every body route of every surface


async def test_json_and_no_content_type_pass_the_door(world: World) -> None:
    for method, path in _body_routes(world):
        url, kwargs = world.sample(method, path)
        for media in (*JSON_SHAPES, None):
            headers = dict(ROOT) if media is None else {**ROOT, "Content-Type": media}
            content = b"{}" if "import" not in path else b""
            response = await world.client.request(
                method, url, content=content, params=kwargs.get("params"), headers=headers
            )
            assert response.status_code not in (401, 403, 415), (method, path, media, response.text)


@pytest.mark.parametrize(
    ("path_key", "media", "accepted"),
    [
        ("POST /v1/admin/tuples/import", "application/x-ndjson", True),
        ("POST /v1/admin/tuples/import", "application/jsonl", True),
        ("PUT /v1/admin/stores/{store_id}/claims-spec", "application/yaml", True),
        ("PUT /v1/admin/stores/{store_id}/claims-spec", "text/yaml", True),
        ("POST /v1/admin/grants", "application/x-ndjson", False),
        ("POST /stores/{store_id}/write", "application/yaml", False),
        ("POST /v1/check", "text/yaml", False),
        ("POST /v1/admin/tuples/import", "application/yaml", False),
    ],
)
async def test_documented_types_only_on_their_routes(
    world: World, path_key: str, media: str, accepted: bool
) -> None:
    method, path = path_key.split(" ", 1)
    url, kwargs = world.sample(method, path)
    kwargs.pop("headers", None)
    kwargs.pop("json", None)
    response = await world.client.request(
        method,
        url,
        content=b"{}\n",
        headers={**ROOT, "Content-Type": media},
        params=kwargs.get("params"),
    )
    assert (response.status_code != 415) is accepted, response.text


async def test_cors_is_off_by_default(world: World) -> None:
    preflight = await world.client.options(
        f"/stores/{world.store_a}/write",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    simple = await world.client.get("/stores", headers={**ROOT, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


async def test_cors_allows_only_the_configured_origins(database_url: str) -> None:
    async for world in open_world(database_url, cors_origins=("https://app.example",)):
        ok = await world.client.get("/stores", headers={**ROOT, "Origin": "https://app.example"})
        assert ok.headers.get("access-control-allow-origin") == "https://app.example"
        evil = await world.client.get("/stores", headers={**ROOT, "Origin": "https://evil.example"})
        assert evil.headers.get("access-control-allow-origin") != "https://evil.example"
