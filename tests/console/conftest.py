"""A live ``permsvc serve`` with a demo store, and the browser (:mod:`tests.console.browser`)."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.live import PERMSVC, LiveServer, live_server
from tests.conftest import REPO_ROOT
from tests.console.browser import chromium

MODEL_V1 = """\
model
  schema 1.1

type user

type group
  relations
    define member: [user]

type folder
  relations
    define viewer: [user, group#member]

type document
  relations
    define parent: [folder]
    define owner: [user]
    define editor: [user, user with non_expired] or owner
    define viewer: [user, user:*, group#member] or editor or viewer from parent

condition non_expired(current_time: timestamp, expires: timestamp) {
  current_time < expires
}
"""

MODEL_V2 = MODEL_V1.replace(
    "    define viewer: [user, user:*, group#member] or editor or viewer from parent\n",
    "    define viewer: [user, user:*, group#member] or editor or viewer from parent\n"
    "    define blocked: [user]\n"
    "    define can_read: viewer but not blocked\n",
)

TUPLES = [
    {"object": "document:readme", "relation": "parent", "user": "folder:eng-docs"},
    {"object": "folder:eng-docs", "relation": "viewer", "user": "group:eng#member"},
    {"object": "group:eng", "relation": "member", "user": "user:anne"},
    {"object": "document:readme", "relation": "owner", "user": "user:carol"},
    {
        "object": "document:plan",
        "relation": "editor",
        "user": "user:dave",
        "condition": {"name": "non_expired", "context": {"expires": "2099-01-01T00:00:00Z"}},
    },
] + [{"object": f"document:d{i:03d}", "relation": "viewer", "user": "user:anne"} for i in range(30)]

CLAIM_SPEC = {
    "claim": "https://permsvc.example.com/perms",
    "relations": ["document#viewer"],
    "budget_bytes": 1024,
}


class Console:
    def __init__(self, server: LiveServer, key: str, store_id: str) -> None:
        self.server = server
        self.url = server.url
        self.key = key
        self.store_id = store_id

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.key}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text else None


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    folder = tmp_path_factory.mktemp("console")
    created = subprocess.run(
        [
            str(PERMSVC),
            "admin",
            "create-key",
            "--scope",
            "admin",
            "--name",
            "console-test",
            "--data-dir",
            str(folder / "data"),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("PERMSVC_")},
    )
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("psk_"), created.stdout
    # One credential for every surface: the admin key is also the bootstrap key.
    with live_server(folder, env={"PERMSVC_API_KEYS": key}) as server:
        live = Console(server, key, "")
        store = live.call("POST", "/stores", {"name": "console-demo"})
        live.store_id = store["id"]
        live.call("POST", "/v1/admin/models", {"store_id": live.store_id, "dsl": MODEL_V1})
        live.call("POST", "/v1/admin/models", {"store_id": live.store_id, "dsl": MODEL_V2})
        live.call("POST", "/v1/admin/grants", {"store_id": live.store_id, "tuples": TUPLES})
        live.call("PUT", f"/v1/admin/stores/{live.store_id}/claims-spec", CLAIM_SPEC)
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as instance:
        yield instance
