"""/docs works offline: the page references no other host, and every asset it loads is served
by permsvc itself, from the installed package (no CDN)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from permsvc.api.docs_ui import ASSETS, ASSETS_PATH
from tests.api.conftest import make_settings

_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.refs.append(value)


async def test_docs_page_names_no_other_host_and_its_assets_are_served() -> None:
    async with AsyncTestClient(create_app(make_settings())) as client:
        page = await client.get("/docs")
        assert page.status_code == 200 and "html" in page.headers["content-type"]
        html = page.text
        parser = _Refs()
        parser.feed(html)
        assert parser.refs, "the page loads nothing"
        external = [r for r in parser.refs if _EXTERNAL.match(r)]
        assert not external, f"/docs loads from other hosts: {external}"
        assert not re.search(r"https?://(?!localhost|127\.0\.0\.1)", html), (
            "an absolute URL in the /docs page"
        )
        loaded = {r for r in parser.refs if r.startswith(ASSETS_PATH + "/")}
        assert loaded == {f"{ASSETS_PATH}/{name}" for name in ASSETS}
        expected_types = {".js": "javascript", ".css": "text/css", ".png": "image/png"}
        for ref in sorted(loaded):
            asset = await client.get(ref)
            assert asset.status_code == 200, ref
            kind = next(v for k, v in expected_types.items() if ref.endswith(k))
            assert kind in asset.headers["content-type"], (ref, asset.headers["content-type"])
            assert len(asset.content) > 500, ref
        bundle = await client.get(f"{ASSETS_PATH}/swagger-ui-bundle.js")
        assert b"SwaggerUIBundle" in bundle.content
        missing = await client.get(f"{ASSETS_PATH}/nope.js")
        assert missing.status_code == 404
        escape = await client.get(
            f"{ASSETS_PATH}/%2e%2e/%2e%2e/%2e%2e/etc/passwd"
        )  # an encoded climb out
        assert escape.status_code == 404


async def test_the_page_points_swagger_ui_at_the_served_document() -> None:
    async with AsyncTestClient(create_app(make_settings())) as client:
        html = (await client.get("/docs")).text
        assert "SwaggerUIBundle(" in html
        spec: Any = await client.get("/docs/openapi.json")
        assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.1")
