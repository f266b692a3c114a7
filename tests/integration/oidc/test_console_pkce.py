"""The web console's "Sign in with the identity provider": an authorization-code login with PKCE
(S256) against the local OpenID provider, driven in Debian's Chromium through Playwright.

Twice: by default a console login is an end user's token (no role) and the console says so; with
``PERMSVC_CONSOLE_SCOPE_ROLES`` it gets the roles of its scopes (``permsvc:admin`` here) and the
admin pages, while a user of another client with the same scope still gets no role."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.api.live import live_server
from tests.console.browser import ARTIFACTS, chromium
from tests.integration.oidc.oidckit import API, OidcProvider, free_port

USER = "console-user"


@pytest.mark.parametrize("scope_roles", [False, True], ids=["default", "scope_roles"])
def test_pkce_login_from_the_console(oidc_runtime: Path, tmp_path: Path, scope_roles: bool) -> None:
    provider = OidcProvider(
        oidc_runtime,
        tmp_path,
        port=free_port(),
        kid="console",
        extra_env={"OIDC_API_SCOPES": "permsvc:admin"},
    )
    env = {
        "PERMSVC_OIDC_ISSUER": provider.issuer,
        "PERMSVC_OIDC_AUDIENCE": API,
        "PERMSVC_CONSOLE_CLIENT_ID": "console-client",
        "PERMSVC_CONSOLE_SCOPES": "permsvc:admin",
        **({"PERMSVC_CONSOLE_SCOPE_ROLES": "true"} if scope_roles else {}),
    }
    with live_server(tmp_path / "permsvc", env=env) as server:
        provider.extra_env["OIDC_CONSOLE_REDIRECT_URI"] = server.url + "/console"
        provider.start()
        try:
            with chromium() as browser:
                token = _login(browser, server.url, provider, scope_roles)
            _roles_through_the_api(server.url, provider, token, scope_roles)
        finally:
            provider.stop()


def _whoami(url: str, token: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/v1/whoami", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _roles_through_the_api(url: str, provider: OidcProvider, token: str, scope_roles: bool) -> None:
    """The console's token has the admin role only when opted in; another client's user with the
    very same scope never has it."""
    me = _whoami(url, token)
    assert me["client_id"] == "console-client" and me["subject"] == f"user:{USER}", me
    keys = httpx.get(f"{url}/v1/admin/keys", headers={"Authorization": f"Bearer {token}"})
    if scope_roles:
        assert me["kind"] == "console_token" and "admin" in me["roles"], me
        assert keys.status_code == 200, keys.text
    else:
        assert me["kind"] == "end_user_token" and me["roles"] == [], me
        assert "PERMSVC_CONSOLE_SCOPE_ROLES is off" in me["note"]
        assert keys.status_code == 403
    other = provider.user_token("web-user", scope="permsvc:admin")
    them = _whoami(url, other)
    assert them["kind"] == "end_user_token" and them["roles"] == [], them
    assert "permsvc:admin" in them["scopes"] and them["client_id"] == "web-client"
    refused = httpx.get(f"{url}/v1/admin/keys", headers={"Authorization": f"Bearer {other}"})
    assert refused.status_code == 403


def _login(browser: Any, url: str, provider: OidcProvider, scope_roles: bool) -> str:
    """Log in through the console; the access token it keeps."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and m.location.get("url", "").startswith(url)
            else None
        ),
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    authorize: list[str] = []
    exchanges: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda r: authorize.append(r.url) if r.url.startswith(provider.issuer + "auth") else None,
    )

    def on_response(response: Any) -> None:
        if response.url == provider.issuer + "token":
            exchanges.append(
                {"status": response.status, "form": parse_qs(response.request.post_data or "")}
            )

    page.on("response", on_response)

    page.goto(url + "/console")
    page.get_by_role("button", name="Sign in with the identity provider").click()
    page.locator("input[name=login]").fill(USER)
    page.locator("input[name=password]").fill("any")
    page.locator("button[type=submit]").click()
    page.locator("button[type=submit]").click()  # consent
    page.wait_for_url(url + "/console*")
    page.wait_for_function(
        "() => !location.search && (document.querySelector('#whoami')?.textContent || document.querySelector('[role=alert]'))"
    )

    query = parse_qs(urlsplit(authorize[0]).query)
    assert query["client_id"] == ["console-client"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [url + "/console"]
    assert "permsvc:admin" in query["scope"][0].split() and query["resource"] == [API]
    assert len(exchanges) == 1 and exchanges[0]["status"] == 200, exchanges
    form = exchanges[0]["form"]
    verifier = form["code_verifier"][0]
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    assert query["code_challenge"] == [challenge]
    assert form["grant_type"] == ["authorization_code"] and "client_secret" not in form

    # Who signed in is shown: with the admin pages when permsvc gives the token its scopes'
    # roles, else on a page saying that this login has no role here and why (no request refused).
    if scope_roles:
        page.locator("#nav").wait_for(state="visible")
        shown = page.locator("#whoami").inner_text()
        assert USER in shown and "admin" in shown, shown
        assert page.locator('#nav a[href="#/keys"]').is_visible()
        page.locator("svg.graph, main .error, main p").first.wait_for()
    else:
        page.locator("#no-access").wait_for()
        shown = page.locator("#no-access").inner_text()
        assert f"user:{USER}" in shown and "Roles here: none" in shown, shown
        assert "PERMSVC_CONSOLE_SCOPE_ROLES is off" in shown, shown
        assert page.locator("#nav").is_hidden()
    page.wait_for_load_state("networkidle")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = "oidc-login-scope-roles" if scope_roles else "oidc-login"
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    (ARTIFACTS / f"{name}.json").write_text(json.dumps({"shown": shown}))
    assert errors == [], errors
    return str(
        page.evaluate(
            "() => JSON.parse(sessionStorage.getItem('permsvc.console.credential')).token"
        )
    )
