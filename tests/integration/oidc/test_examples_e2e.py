"""The two example apps (examples/fastapi, examples/express) run as their READMEs run them, against
a live permsvc, driven with real tokens from the test OpenID provider: a user allowed, a user
denied, share then allowed, revoke then denied, delete, and a token requested without audience
whose JWE diagnosis reaches the API's caller.

Each runs in two modes: without a service key (the user's token is permsvc's bearer credential)
and with one (role ``check``: the user's token travels as ``subject_token``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from clientworld import ALICE, BOB, CAROL, ClientWorld, client_world, node_or_skip, npm_install
from oidckit import API, JWE_RESOURCE, OidcProvider

from tests.api.live import free_port
from tests.conftest import CLIENT_PYTHON, REPO_ROOT

pytestmark = pytest.mark.timeout(300)

EXAMPLES = REPO_ROOT / "examples"


@pytest.fixture
def world(v1_provider: OidcProvider, tmp_path: Path) -> Iterator[ClientWorld]:
    with client_world(v1_provider, tmp_path / "permsvc") as w:
        yield w


def _start(
    command: list[str], cwd: Path, env: dict[str, str], log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, *(["--port", str(port)] if "uvicorn" in command else [])],
            cwd=cwd,
            env={**env, "PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command} exited: {log.read_text()[-3000:]}")
        try:
            httpx.get(url + "/documents", timeout=1)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{command} did not start: {log.read_text()[-3000:]}")


@pytest.fixture(params=["fastapi", "express"])
def example(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["user-token", "service-key"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def api(example: str, mode: str, world: ClientWorld, tmp_path: Path) -> Iterator[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PERMSVC_URL": world.url,
        "PERMSVC_STORE": world.store,
        "PERMSVC_ADMIN_KEY": world.admin_key,
        "ISSUER_BASE_URL": world.provider.issuer,
        "AUDIENCE": API,
    }
    if mode == "service-key":
        env["PERMSVC_API_KEY"] = world.check_key
    if example == "fastapi":
        env["PYTHONPATH"] = str(CLIENT_PYTHON)
        command = [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1"]
    else:
        node = node_or_skip()
        npm_install(EXAMPLES / "express")
        command = [node, "app.js"]
    process, url = _start(command, EXAMPLES / example, env, tmp_path / f"{example}.log")
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_documents_api(api: str, world: ClientWorld, example: str) -> None:
    alice, bob = world.token(ALICE), world.token(BOB)

    def call(method: str, path: str, token: str | None, **kw: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(method, api + path, headers=headers, timeout=15, **kw)  # type: ignore[arg-type]

    # a user allowed, a user denied
    assert call("GET", "/documents/roadmap", alice).json()["title"] == "Roadmap 2027"
    denied = call("GET", "/documents/roadmap", bob)
    assert denied.status_code == 403, denied.text
    assert sorted(d["id"] for d in call("GET", "/documents", alice).json()) == [
        "handbook",
        "roadmap",
    ]
    assert sorted(d["id"] for d in call("GET", "/documents", bob).json()) == ["budget", "handbook"]

    # share, then allowed; a viewer may not share on
    shared = call("POST", "/documents/roadmap/share", alice, json={"user": BOB})
    assert shared.status_code == 200 and shared.json()["shared_with"] == BOB, shared.text
    assert call("GET", "/documents/roadmap", bob).status_code == 200
    assert call("POST", "/documents/roadmap/share", bob, json={"user": CAROL}).status_code == 403

    # revoke, then denied
    assert call("DELETE", f"/documents/roadmap/share/{BOB}", alice).status_code == 200
    assert call("GET", "/documents/roadmap", bob).status_code == 403

    # only the owner deletes; afterwards nobody reads it
    assert call("DELETE", "/documents/budget", alice).status_code == 403
    assert call("DELETE", "/documents/budget", bob).status_code == 204
    assert call("GET", "/documents/budget", bob).status_code == 403

    # no token; a token requested without audience: the caller learns what to fix
    assert call("GET", "/documents/roadmap", None).status_code == 401
    jwe = call("GET", "/documents/roadmap", world.provider.user_token(ALICE, resource=JWE_RESOURCE))
    assert jwe.status_code == 401, jwe.text
    message = jwe.json()["detail" if example == "fastapi" else "message"]
    assert "JWE" in message and "audience" in message, message
    assert 'error="invalid_token"' in jwe.headers["www-authenticate"]
