"""A live ``permsvc serve`` with a claim spec, a claims-scoped API key and test grants, for the
tests that call the claim feed over real HTTP (the Auth0 Action under Node, oidc-provider)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from permsvc.commands.keys import CreateApiKeyCommand
from permsvc.store.factory import open_datastore
from tests.api.claims.conftest import MODEL
from tests.api.live import LiveServer, live_server

__all__ = ("BIG_USER", "CLAIM", "ROOT_KEY", "SMALL_AUDIENCE", "USER", "FeedServer", "feed_server")

CLAIM = "https://permsvc.example.com/perms"
ROOT_KEY = "root-preshared-key"
USER = "auth0|alice"
BIG_USER = "auth0|bulk"
DEFAULT_AUDIENCE = "https://my-api"
SMALL_AUDIENCE = "https://small.example.com"
BIG_GRANTS = 300

SPEC = f"""\
claim: {CLAIM}
relations: [organization#admin, project#editor, project#viewer]
audiences:
  {SMALL_AUDIENCE}:
    relations: [organization#admin, project#editor, project#viewer]
    budget_bytes: 256
"""

GRANTS = [
    ("organization:acme", "admin", f"user:{USER}"),
    ("project:apollo", "organization", "organization:acme"),
    ("project:zeus", "viewer", f"user:{USER}"),
    ("project:ephemeral", "viewer", f"user:{USER}"),
    ("project:hermes", "viewer", "user:auth0|bob"),
    ("project:alpha", "editor", f"user:{BIG_USER}"),
] + [(f"project:bulk-{i:04d}", "viewer", f"user:{BIG_USER}") for i in range(BIG_GRANTS)]


class FeedServer:
    def __init__(self, server: LiveServer, store_id: str, claims_key: str) -> None:
        self.server = server
        self.url = server.url
        self.store_id = store_id
        self.claims_key = claims_key

    def root(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {ROOT_KEY}"}
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)


async def _create_key(data_dir: Path) -> str:
    datastore = await open_datastore(None, data_dir=data_dir, migrate=True)
    try:
        created = await CreateApiKeyCommand(keys=datastore).execute("claims", name="auth0-action")  # type: ignore[arg-type]
    finally:
        await datastore.aclose()
    return created.key


@contextlib.contextmanager
def feed_server(tmp: Path, *, env: dict[str, str] | None = None) -> Iterator[FeedServer]:
    """Start permsvc with the spec above, a claims key created in its database beforehand, and
    the grants above in a fresh store."""
    spec = tmp / "claims.yaml"
    spec.write_text(SPEC)
    key = asyncio.run(_create_key(tmp / "data"))
    server_env = {"PERMSVC_CLAIMS_SPEC": str(spec), "PERMSVC_API_KEYS": ROOT_KEY, **(env or {})}
    with live_server(tmp, env=server_env) as server:
        feed = FeedServer(server, "", key)
        response = feed.root("POST", "/stores", json={"name": "claim-feed"})
        assert response.status_code == 201, response.text
        feed.store_id = response.json()["id"]
        response = feed.root("POST", f"/stores/{feed.store_id}/authorization-models", json=MODEL)
        assert response.status_code == 201, response.text
        for start in range(0, len(GRANTS), 100):
            keys = [
                {"object": o, "relation": r, "user": u} for o, r, u in GRANTS[start : start + 100]
            ]
            response = feed.root(
                "POST", f"/stores/{feed.store_id}/write", json={"writes": {"tuple_keys": keys}}
            )
            assert response.status_code == 200, response.text
        yield feed
