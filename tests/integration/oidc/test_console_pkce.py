"""The web console's "Sign in with the identity provider": an authorization-code login with PKCE
(S256) against the local OpenID provider, driven in Debian's Chromium through Playwright."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.api.live import live_server
from tests.console.browser import ARTIFACTS, chromium
from tests.integration.oidc.oidckit import API, OidcProvider, free_port

USER = "console-user"


def test_pkce_login_from_the_console(oidc_runtime: Path, tmp_path: Path) -> None:
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
    }
    with live_server(tmp_path / "permsvc", env=env) as server:
        provider.extra_env["OIDC_CONSOLE_REDIRECT_URI"] = server.url + "/console"
        provider.start()
        try:
            with chromium() as browser:
                _login(browser, server.url, provider)
        finally:
            provider.stop()


def _login(browser: Any, url: str, provider: OidcProvider) -> None:
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

    # Who signed in is shown: in the header when permsvc gives the token a role, else in the
    # login page's message saying that permsvc refused it.
    shown = (
        page.locator("#whoami").inner_text()
        if page.locator("#nav").is_visible()
        else page.get_by_role("alert").inner_text()
    )
    assert USER in shown, (shown, page.locator("body").inner_text())
    if not page.locator("#nav").is_visible():
        # permsvc's refusal of the token is the one expected network error.
        assert "refused this token" in shown
        errors = [e for e in errors if "status of 403" not in e]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "oidc-login.png"), full_page=True)
    (ARTIFACTS / "oidc-login.json").write_text(json.dumps({"shown": shown}))
    assert errors == [], errors
