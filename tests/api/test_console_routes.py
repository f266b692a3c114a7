"""``/console``: the console's files are package data served from memory, public, with a strict
Content-Security-Policy, and nothing outside the folder can be named."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from permsvc.api.console.routes import ConsoleConfig, load_assets
from permsvc.settings import Settings
from tests.api.conftest import make_settings
from tests.conftest import REPO_ROOT

UP = "." * 2
"""A parent-directory segment: the payload of path-escape attempts (not a path the tests read)."""

STATIC = REPO_ROOT / "permsvc" / "api" / "console" / "static"


@pytest.fixture
async def locked() -> Any:
    """An app that demands a credential on every API."""
    async with AsyncTestClient(
        create_app(make_settings(auth_method="preshared", api_keys=("secret-key-1",)))
    ) as client:
        yield client


async def test_the_page_and_every_module_it_imports_are_served_without_a_credential(
    locked: Any,
) -> None:
    page = await locked.get("/console")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert (
        "script-src 'self'" in csp
        and "default-src 'none'" in csp
        and "frame-ancestors 'none'" in csp
    )
    assert (await locked.get("/stores")).status_code == 401  # the data stays behind the front door
    pending = re.findall(r'(?:href|src)="/console/assets/([^"]+)"', page.text)
    assert "js/app.js" in pending and "console.css" in pending
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        response = await locked.get(f"/console/assets/{name}")
        assert response.status_code == 200, name
        expected = "text/javascript" if name.endswith(".js") else "text/css"
        assert response.headers["content-type"].startswith(expected), name
        folder = name.rpartition("/")[0]
        for imported in re.findall(r'from "\./([^"]+)"', response.text):
            pending.append(f"{folder}/{imported}" if folder else imported)
    assert {"js/api.js", "js/auth.js", "js/dsl.js", "js/graph.js", "js/diff.js"} <= seen


def test_no_asset_fetches_anything_from_elsewhere() -> None:
    for name, asset in load_assets().items():
        # The SVG namespace is a name, never fetched.
        text = asset.body.decode().replace('"http://www.w3.org/2000/svg"', "")
        assert not re.search(r"https?://", text), f"{name} names an outside URL"
        assert "cdn" not in text.lower(), name


async def test_unknown_paths_and_escapes_are_404(client: Any) -> None:
    for path in (
        "/console/assets/nope.js",
        "/console/assets/" + UP + "/routes.py",
        "/console/assets/%2e%2e/routes.py",
        "/console/assets/index.html",
        "/console/assets/",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "undefined_endpoint", path


async def test_etag_revalidation(client: Any) -> None:
    first = await client.get("/console/assets/js/app.js")
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "no-cache"
    again = await client.get("/console/assets/js/app.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""


async def test_config_without_oidc_offers_keys_only(client: Any) -> None:
    response = await client.get("/console/config.json")
    assert response.status_code == 200
    assert response.json() == {
        "oidc_issuer": "",
        "oidc_client_id": "",
        "oidc_audience": "",
        "oidc_scopes": "",
    }


async def test_config_with_an_oidc_client_names_the_issuer_and_allows_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PERMSVC_CONSOLE_CLIENT_ID", "console-spa")
    monkeypatch.setenv("PERMSVC_CONSOLE_SCOPES", " permsvc:admin   profile ")
    monkeypatch.setenv("PERMSVC_OIDC_ISSUER", "https://id.example.com/tenant/")
    monkeypatch.setenv("PERMSVC_OIDC_AUDIENCE", "https://api.example.com,https://other")
    settings = Settings.from_env(database_url="memory:", access_log=False)
    async with AsyncTestClient(create_app(settings)) as client:
        response = await client.get("/console/config.json")
        assert response.json() == {
            "oidc_issuer": "https://id.example.com/tenant/",
            "oidc_client_id": "console-spa",
            "oidc_audience": "https://api.example.com",
            "oidc_scopes": "permsvc:admin profile",
        }
        assert (
            "connect-src 'self' https://id.example.com;"
            in response.headers["content-security-policy"]
        )


def test_a_client_id_without_an_issuer_turns_the_login_off() -> None:
    settings = Settings.from_env({"PERMSVC_CONSOLE_CLIENT_ID": "spa"})
    assert ConsoleConfig.from_settings(settings) == ConsoleConfig()


def test_the_console_config_comes_from_the_settings_not_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``create_app(settings)`` is self-contained: the environment after start-up is not read."""
    monkeypatch.setenv("PERMSVC_CONSOLE_CLIENT_ID", "from-the-environment")
    monkeypatch.setenv("PERMSVC_OIDC_ISSUER", "https://elsewhere.example.com/")
    settings = Settings.from_env(
        {
            "PERMSVC_CONSOLE_CLIENT_ID": "console-spa",
            "PERMSVC_OIDC_ISSUER": "https://id.example.com/",
            "PERMSVC_OIDC_AUDIENCE": "https://api.example.com",
        }
    )
    assert ConsoleConfig.from_settings(settings) == ConsoleConfig(
        oidc_issuer="https://id.example.com/",
        oidc_client_id="console-spa",
        oidc_audience="https://api.example.com",
    )


def test_every_static_file_is_package_data() -> None:
    patterns = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["permsvc"]
    for path in STATIC.rglob("*"):
        if path.is_file():
            relative = path.relative_to(REPO_ROOT / "permsvc").as_posix()
            assert any(fnmatch(relative, p) for p in patterns), (
                f"{relative} would be missing from the wheel"
            )
    assert set(load_assets()) == {
        p.relative_to(STATIC).as_posix() for p in STATIC.rglob("*") if p.is_file()
    }


def test_assets_are_small() -> None:
    total = sum(len(a.body) for a in load_assets().values())
    assert total < 150_000, f"the console ships {total} bytes"


@pytest.mark.parametrize(
    "path", ["/console", "/console/", "/console/assets/js/app.js", "/console/config.json"]
)
async def test_head_answers_what_get_does_without_a_body(locked: Any, path: str) -> None:
    got = await locked.get(path)
    head = await locked.head(path)
    assert (head.status_code, head.content) == (200, b""), head.text
    for name in ("content-type", "etag", "content-security-policy", "cache-control"):
        assert head.headers[name] == got.headers[name], name
    assert head.headers["content-length"] == str(len(got.content))
    again = await locked.head(path, headers={"If-None-Match": got.headers["etag"]})
    assert (again.status_code, again.content) == (304, b"")
    missing = await locked.head("/console/assets/js/nope.js")
    assert missing.status_code == 404
