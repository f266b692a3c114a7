"""A live permsvc for the client and example tests: a store with the examples' documents model,
grants, API keys of each role, a claim spec, and real tokens from the test OpenID provider.

Users: ``alice`` owns ``roadmap``, ``bob`` owns ``budget``, everyone may read ``handbook``.
Also: npm installs for the Node client and the Express example (``node_modules`` is gitignored;
no lock file is written).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from oidckit import API, OidcProvider

from tests.api.live import LiveServer, live_server
from tests.conftest import REPO_ROOT

MODEL_DSL = (REPO_ROOT / "examples" / "documents.fga").read_text()
CLAIM_NAME = "https://permsvc.example.com/perms"
ALICE, BOB, CAROL = "alice", "bob", "carol"
GRANTS = [
    {"object": "document:roadmap", "relation": "owner", "user": f"user:{ALICE}"},
    {"object": "document:budget", "relation": "owner", "user": f"user:{BOB}"},
    {"object": "document:handbook", "relation": "viewer", "user": "user:*"},
]


@dataclass
class ClientWorld:
    server: LiveServer
    provider: OidcProvider
    store: str
    check_key: str
    admin_key: str
    claims_key: str

    @property
    def url(self) -> str:
        return self.server.url

    def token(self, subject: str) -> str:
        return self.provider.user_token(subject)


@contextlib.contextmanager
def client_world(provider: OidcProvider, data: Path) -> Iterator[ClientWorld]:
    spec = data / "claims.json"
    data.mkdir(parents=True, exist_ok=True)
    spec.write_text(
        json.dumps({"claim": CLAIM_NAME, "relations": ["document#owner", "document#viewer"]})
    )
    env = {
        "PERMSVC_OIDC_ISSUER": provider.issuer,
        "PERMSVC_OIDC_AUDIENCE": API,
        "PERMSVC_ADMIN_SCOPE": "permsvc:admin",
        "PERMSVC_CHECK_SCOPE": "permsvc:check",
        "PERMSVC_CLAIMS_SPEC": str(spec),
        # oidc-provider's client-credentials tokens carry no Auth0 'gty': name the machine client
        "PERMSVC_MACHINE_CLIENT_IDS": "m2m-client",
    }
    with live_server(data, env=env) as server:
        admin = {"Authorization": f"Bearer {provider.client_credentials(scope='permsvc:admin')}"}
        with httpx.Client(base_url=server.url, headers=admin, timeout=15) as http:
            created = http.post("/stores", json={"name": "clients"})
            assert created.status_code == 201, created.text
            store = created.json()["id"]
            model = http.post("/v1/admin/models", json={"store_id": store, "dsl": MODEL_DSL})
            assert model.status_code == 201, model.text
            grants = http.post("/v1/admin/grants", json={"store_id": store, "tuples": GRANTS})
            assert grants.status_code == 200, grants.text
            keys = {}
            for scope in ("check", "admin", "claims"):
                created = http.post(
                    "/v1/admin/keys",
                    json={"scope": scope, "store_id": store, "name": f"clients-{scope}"},
                )
                assert created.status_code == 201, created.text
                keys[scope] = created.json()["key"]
        yield ClientWorld(server, provider, store, keys["check"], keys["admin"], keys["claims"])


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("node and npm are needed (CI=true: the Node client tests must run in CI)")
        pytest.skip(
            "node and npm are needed for the Node client tests (apt-get install nodejs npm)"
        )
    return node


def npm_install(directory: Path) -> None:
    """``npm install`` the package's dependencies once (again when package.json changes)."""
    manifest = json.loads((directory / "package.json").read_text())
    wanted = {**manifest.get("dependencies", {}), **manifest.get("devDependencies", {})}
    stamp = directory / "node_modules" / ".permsvc-installed"
    if stamp.exists() and stamp.read_text() == json.dumps(wanted, sort_keys=True):
        return
    result = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, (
        f"npm install in {directory} failed:\n{result.stdout}\n{result.stderr}"
    )
    stamp.write_text(json.dumps(wanted, sort_keys=True))
