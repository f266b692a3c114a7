"""``/console``: the web console's static files, public like ``/docs``.

=====================================  =======================================================
route                                  what
=====================================  =======================================================
GET /console                           the console page (``index.html``)
GET /console/assets/{path}             its CSS and ES modules (package data, nothing fetched)
GET /console/config.json               how to log in: the OIDC issuer and the console's client
HEAD on each of them                   the same headers, no body
=====================================  =======================================================

Every asset is read from the package once, when the router is built, and served from memory with
an ``ETag``; a path that is not one of those files is a 404, so nothing outside the folder can be
named. The page holds no data: each data call goes through the existing APIs with the signed-in
user's credential (``Authorization: Bearer``), so the console adds no privilege of its own.

``Settings.console_client_id`` (``PERMSVC_CONSOLE_CLIENT_ID``) names the console's public OIDC
client (authorization code + PKCE, no secret); with it and the OIDC issuer configured, the login
page offers "Sign in with the identity provider". ``Settings.console_scopes``
(``PERMSVC_CONSOLE_SCOPES``, space-separated) are asked for in addition to ``openid``.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import msgspec
from litestar import Request, Response, Router, get, head
from litestar.params import FromPath

from permsvc.api.errors import ApiError

if TYPE_CHECKING:
    from permsvc.settings import Settings

__all__ = ("ConsoleConfig", "build_router", "load_assets")

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


class Asset(msgspec.Struct, frozen=True):
    body: bytes
    media_type: str
    etag: str


class ConsoleConfig(msgspec.Struct, frozen=True, kw_only=True):
    """What the login page needs to know; nothing secret."""

    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_audience: str = ""
    oidc_scopes: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> ConsoleConfig:
        """The login page's OIDC client: ``console_client_id`` with the OIDC issuer, else none."""
        oidc = settings.oidc
        if not settings.console_client_id or oidc is None:
            return cls()
        return cls(
            oidc_issuer=oidc.issuer,
            oidc_client_id=settings.console_client_id,
            oidc_audience=oidc.audiences[0],
            oidc_scopes=" ".join(settings.console_scopes.split()),
        )


def load_assets() -> dict[str, Asset]:
    """Every file of the console's ``static`` folder, by its path inside it."""
    assets: dict[str, Asset] = {}
    root = resources.files("permsvc.api.console").joinpath("static")

    def walk(folder: Any, prefix: str) -> None:
        for entry in folder.iterdir():
            name = prefix + entry.name
            if entry.is_dir():
                walk(entry, name + "/")
                continue
            suffix = "." + entry.name.rpartition(".")[2]
            if suffix not in _TYPES:
                continue
            body = entry.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            assets[name] = Asset(body, _TYPES[suffix], etag)

    walk(root, "")
    return assets


def _csp(config: ConsoleConfig) -> str:
    connect = "'self'"
    if config.oidc_issuer:
        parts = urlsplit(config.oidc_issuer)
        connect += f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


def build_router(settings: Settings) -> Router:
    """The console's routes; public: they serve files, and the files carry no data."""
    assets = load_assets()
    config = ConsoleConfig.from_settings(settings)
    config_body = msgspec.json.encode(config)
    headers = {
        "Content-Security-Policy": _csp(config),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }

    config_asset = Asset(
        config_body, "application/json", '"' + hashlib.sha256(config_body).hexdigest()[:32] + '"'
    )

    def find(name: str) -> Asset:
        asset = assets.get(name)
        if asset is None:
            raise ApiError("undefined_endpoint", f"no console asset named '{name}'", status=404)
        return asset

    def serve(request: Request[Any, Any, Any], asset: Asset) -> Response[bytes]:
        common = {**headers, "ETag": asset.etag, "Cache-Control": "no-cache"}
        if request.headers.get("if-none-match") == asset.etag:
            return Response(b"", status_code=304, headers=common)
        return Response(asset.body, media_type=asset.media_type, headers=common)

    def head_of(request: Request[Any, Any, Any], asset: Asset) -> Response[None]:
        """What GET answers, without the body (a 304 when the ETag matches)."""
        got = serve(request, asset)
        return Response(
            None,
            status_code=got.status_code,
            media_type=asset.media_type,
            headers={**got.headers, "Content-Length": str(len(got.content))},
        )

    def asset_named(path: str) -> Asset:
        name = path.lstrip("/")
        if name == "index.html":
            raise ApiError("undefined_endpoint", "no console asset named 'index.html'", status=404)
        return find(name)

    page_paths = ["/console", "/console/"]
    asset_path = "/console/assets/{path:path}"
    config_path = "/console/config.json"
    opt = {"console": True}

    @get(page_paths, include_in_schema=False, opt=opt)
    async def console_page(request: Request[Any, Any, Any]) -> Response[bytes]:
        return serve(request, find("index.html"))

    @head(page_paths, include_in_schema=False, opt=opt)
    async def console_page_head(request: Request[Any, Any, Any]) -> Response[None]:
        return head_of(request, find("index.html"))

    @get(asset_path, include_in_schema=False, opt=opt)
    async def console_asset(
        request: Request[Any, Any, Any], path: FromPath[str]
    ) -> Response[bytes]:
        return serve(request, asset_named(path))

    @head(asset_path, include_in_schema=False, opt=opt)
    async def console_asset_head(
        request: Request[Any, Any, Any], path: FromPath[str]
    ) -> Response[None]:
        return head_of(request, asset_named(path))

    @get(config_path, include_in_schema=False, opt=opt)
    async def console_config(request: Request[Any, Any, Any]) -> Response[bytes]:
        return serve(request, config_asset)

    @head(config_path, include_in_schema=False, opt=opt)
    async def console_config_head(request: Request[Any, Any, Any]) -> Response[None]:
        return head_of(request, config_asset)

    return Router(
        path="/",
        route_handlers=[
            console_page,
            console_page_head,
            console_asset,
            console_asset_head,
            console_config,
            console_config_head,
        ],
    )
