"""The API reference UI at ``/docs``, served without a CDN.

Swagger UI 5 (it renders the OpenAPI 3.1 document Litestar generates) comes from the
``openapi-ui-bundles`` package on PyPI (Apache-2.0; Swagger UI itself is Apache-2.0): its built
JavaScript, CSS and favicon are served by this app under :data:`ASSETS_PATH`, so the reference
works on a machine without internet access, and the page names no other host.
"""

from __future__ import annotations

from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.router import Router
from litestar.static_files import create_static_files_router
from openapi_ui_bundles import swagger_ui

__all__ = ("ASSETS", "ASSETS_PATH", "docs_assets_router", "docs_render_plugin")

ASSETS_PATH = "/docs-assets"
"""Where the UI's files are served (beside ``/docs``, not under it: ``/docs/*`` is the OpenAPI router's)."""

ASSETS = (
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
    "swagger-ui.css",
    "favicon-32x32.png",
)
"""The files the ``/docs`` page loads."""


def docs_render_plugin() -> SwaggerRenderPlugin:
    """Swagger UI at ``/docs``, every asset from :data:`ASSETS_PATH`."""
    return SwaggerRenderPlugin(
        path="/",
        js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>",
    )


def docs_assets_router() -> Router:
    """The package's Swagger UI files under :data:`ASSETS_PATH` (public, like ``/docs``)."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[swagger_ui.static_path],
        name="docs-assets",
        include_in_schema=False,
        send_as_attachment=False,
    )
