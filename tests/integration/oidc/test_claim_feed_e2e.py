"""End to end: a real OpenID provider calls permsvc's claim feed while minting an access token,
and a backend verifies the token, reads the summary and falls back to /v1/check.

oidc-provider's ``extraTokenClaims`` plays the Auth0 post-login Action: it POSTs
``{"sub", "aud", "client_id"}`` to ``CLAIM_FEED_URL`` and merges the JSON object it gets back into
the token. A small adapter (what the Action does) turns that into ``POST /v1/claims`` with the
service's client-credentials token -- minted by the same provider, scope ``permsvc:claims`` -- and
returns the ``claims`` object.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from oidckit import API, OidcProvider

from permsvc.auth import JwtAuthenticator, OidcSettings
from permsvc.claims import read_claim
from tests.api.claims.live import BIG_USER, CLAIM, USER, FeedServer, feed_server

CLAIMS_SCOPE = "permsvc:claims"
CHECK_SCOPE = "permsvc:check"


class _Adapter(ThreadingHTTPServer):
    feed_url = ""
    store_id = ""
    service_token = ""
    calls: list[dict[str, Any]]


class _Handler(BaseHTTPRequestHandler):
    server: _Adapter

    def do_POST(self) -> None:
        asked = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.server.calls.append(asked)
        claims: dict[str, Any] = {}
        if (
            asked["sub"] != asked["client_id"]
        ):  # user tokens only; client tokens are another trigger
            audience = asked["aud"] if isinstance(asked["aud"], str) else asked["aud"][0]
            response = httpx.post(
                self.server.feed_url + "/v1/claims",
                json={
                    "user_id": asked["sub"],
                    "audience": audience,
                    "client_id": asked["client_id"],
                    "store_id": self.server.store_id,
                },
                headers={"Authorization": f"Bearer {self.server.service_token}"},
                timeout=5,
            )
            response.raise_for_status()
            claims = response.json()["claims"]
        data = json.dumps(claims).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return None


class _World:
    def __init__(self, provider: OidcProvider, feed: FeedServer, adapter: _Adapter) -> None:
        self.provider = provider
        self.feed = feed
        self.adapter = adapter


@pytest.fixture(scope="module")
def world(oidc_runtime: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_World]:
    tmp = tmp_path_factory.mktemp("claimfeed")
    adapter = _Adapter(("127.0.0.1", 0), _Handler)
    adapter.calls = []
    threading.Thread(target=adapter.serve_forever, daemon=True).start()
    provider = OidcProvider(
        oidc_runtime,
        tmp,
        extra_env={
            "CLAIM_FEED_URL": f"http://127.0.0.1:{adapter.server_address[1]}/claim-feed",
            "OIDC_API_SCOPES": f"read:docs {CLAIMS_SCOPE} {CHECK_SCOPE}",
        },
    )
    env = {
        "PERMSVC_OIDC_ISSUER": provider.issuer,
        "PERMSVC_OIDC_AUDIENCE": API,
        "PERMSVC_MACHINE_CLIENT_IDS": "m2m-client",  # RFC 9068 client-credentials tokens (sub == client_id)
    }
    try:
        with feed_server(tmp, env=env) as feed:
            provider.start()
            try:
                adapter.feed_url, adapter.store_id = feed.url, feed.store_id
                adapter.service_token = provider.client_credentials(scope=CLAIMS_SCOPE)
                yield _World(provider, feed, adapter)
            finally:
                provider.stop()
    finally:
        adapter.shutdown()
        adapter.server_close()


async def _verify(world: _World, token: str) -> Any:
    authenticator = JwtAuthenticator.from_settings(
        OidcSettings(issuer=world.provider.issuer, audiences=(API,))
    )
    try:
        return await authenticator.authenticate(token)
    finally:
        await authenticator.aclose()


async def test_token_carries_summary_and_backend_falls_back_to_check(world: _World) -> None:
    token = world.provider.user_token(USER)
    assert world.adapter.calls[-1] == {"sub": USER, "aud": API, "client_id": "web-client"}
    verified = await _verify(world, token)
    assert verified.subject == USER

    view = read_claim(verified.raw, claim_name=CLAIM)
    assert view.complete, view.reason
    assert view.has("admin", "organization:acme") is True
    assert view.has("editor", "project:apollo") is True  # admin from organization
    assert view.has("viewer", "project:zeus") is True
    assert view.has("viewer", "project:hermes") is False

    # A finer question than the summary: owner is not summarised -> ask /v1/check with the token.
    assert view.has("owner", "project:apollo") is None
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            world.feed.url + "/v1/check",
            json={"relation": "owner", "object": "project:apollo", "store_id": world.feed.store_id},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["user"], answer["allowed"]) == (f"user:{USER}", False)
    assert answer["revision"] >= view.revision  # the live answer is at least as new as the claim


async def test_overflowing_user_gets_marker_and_check_answers(world: _World) -> None:
    token = world.provider.user_token(BIG_USER)
    assert len(token) < 2048  # 300 grants, yet the header stays far below proxy and Node limits
    view = read_claim((await _verify(world, token)).raw, claim_name=CLAIM)
    assert view.usable and view.overflow and "project#viewer" in view.dropped
    assert view.has("editor", "project:alpha") is True
    assert view.has("viewer", "project:bulk-0123") is None
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            world.feed.url + "/v1/check",
            json={
                "relation": "viewer",
                "object": "project:bulk-0123",
                "store_id": world.feed.store_id,
            },
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.json()["allowed"] is True


async def test_summary_is_stale_after_a_revoke(world: _World) -> None:
    payload = (await _verify(world, world.provider.user_token(USER))).raw
    view = read_claim(payload, claim_name=CLAIM)
    assert view.has("viewer", "project:ephemeral") is True
    response = world.feed.root(
        "POST",
        f"/stores/{world.feed.store_id}/write",
        json={
            "deletes": {
                "tuple_keys": [
                    {"object": "project:ephemeral", "relation": "viewer", "user": f"user:{USER}"}
                ]
            }
        },
    )
    assert response.status_code == 200, response.text
    revoked_at = view.revision + 1  # nothing else writes: the revoke got the next revision
    stale = read_claim(payload, claim_name=CLAIM, min_revision=revoked_at)
    assert stale.stale and stale.has("viewer", "project:ephemeral") is None
    fresh = read_claim(
        (await _verify(world, world.provider.user_token(USER))).raw,
        claim_name=CLAIM,
        min_revision=revoked_at,
    )
    assert not fresh.stale and fresh.has("viewer", "project:ephemeral") is False


def test_feed_refuses_user_tokens_and_unscoped_clients(world: _World) -> None:
    body = {"user_id": USER, "store_id": world.feed.store_id}
    user_token = world.provider.user_token(USER)
    response = httpx.post(
        world.feed.url + "/v1/claims", json=body, headers={"Authorization": f"Bearer {user_token}"}
    )
    assert response.status_code == 403 and "is an end user's" in response.json()["message"]
    unscoped = world.provider.client_credentials(scope="read:docs")
    response = httpx.post(
        world.feed.url + "/v1/claims", json=body, headers={"Authorization": f"Bearer {unscoped}"}
    )
    assert response.status_code == 403 and CLAIMS_SCOPE in response.headers["www-authenticate"]
