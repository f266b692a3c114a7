"""Secure by default: open (no credential anywhere) only on loopback, closed by any credential.

With nothing configured every caller is admin, so the server serves loopback only and says so;
a non-loopback bind refuses to start unless ``--insecure-no-auth``. A key created through this
app closes the door at once; one created by another worker or process (the CLI, another app on
the same database) closes it within ``open_recheck_s``; a key already in the database, a
bootstrap key or an OIDC issuer keeps it closed from the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app, is_loopback
from permsvc.cli.main import main
from permsvc.settings import SettingsError
from tests.api.conftest import make_settings
from tests.api.live import PERMSVC, free_port, live_server
from tests.security.kit import BACKENDS, bearer


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of the test's own: whether any API key exists is the point here."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'permsvc.db'}"
    from tests.pg import fresh_database_url

    return fresh_database_url()


def _settings(database_url: str, **overrides: Any) -> Any:
    return make_settings(
        **{"database_url": database_url, "index": False, "open_recheck_s": 0.2, **overrides}
    )


async def _anonymous(client: AsyncTestClient[Any]) -> int:
    return (await client.get("/stores")).status_code


def _cli_key(database_url: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert (
            main(["admin", "create-key", "--roles", "check", "--database-url", database_url]) == 0
        )
    return out.getvalue().strip()


async def test_a_key_from_another_process_closes_the_door(database_url: str) -> None:
    async with AsyncTestClient(create_app(_settings(database_url))) as client:
        assert await _anonymous(client) == 200
        key = await asyncio.to_thread(_cli_key, database_url)
        await asyncio.sleep(0.3)
        assert await _anonymous(client) == 401
        assert (
            await client.post("/v1/check", json={"relation": "r", "object": "d:1"})
        ).status_code == 401
        assert (await client.get("/stores", headers=bearer(key))).status_code == 403  # a check key
        await asyncio.sleep(0.3)
        assert await _anonymous(client) == 401, "the door never reopens"


async def test_a_key_from_another_worker_closes_the_door(database_url: str) -> None:
    async with (
        AsyncTestClient(create_app(_settings(database_url))) as one,
        AsyncTestClient(create_app(_settings(database_url))) as two,
    ):
        assert await _anonymous(one) == 200 and await _anonymous(two) == 200
        created = await two.post("/v1/admin/keys", json={"roles": ["admin"]})
        assert created.status_code == 201
        assert await _anonymous(two) == 401, "the worker that created it closes at once"
        await asyncio.sleep(0.3)
        assert await _anonymous(one) == 401
        assert (await one.get("/stores", headers=bearer(created.json()["key"]))).status_code == 200


async def test_a_key_in_the_database_keeps_it_closed_from_the_start(database_url: str) -> None:
    await asyncio.to_thread(_cli_key, database_url)
    async with AsyncTestClient(create_app(_settings(database_url, open_recheck_s=3600))) as client:
        assert await _anonymous(client) == 401


@pytest.mark.parametrize("configured", ["bootstrap", "oidc"])
async def test_configured_credentials_close_every_surface(
    database_url: str, configured: str
) -> None:
    from tests.api.admin.v1kit import Issuer

    issuer = Issuer()
    extra: dict[str, Any] = (
        {"api_keys": ("k-123",)} if configured == "bootstrap" else {"oidc": issuer.settings()}
    )
    app = create_app(_settings(database_url, **extra), token_keys=issuer.keys())
    async with AsyncTestClient(app) as client:
        for method, path in [
            ("GET", "/stores"),
            ("POST", "/stores/01ARZ3NDEKTSV4RRFFQ69G5FAV/write"),
            ("POST", "/access/v1/evaluation"),
            ("POST", "/v1/check"),
            ("POST", "/v1/claims"),
            ("GET", "/v1/admin/keys"),
        ]:
            response = await client.request(method, path, json={} if method == "POST" else None)
            assert response.status_code == 401, (path, response.text)
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.5.5.5", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("permsvc.example", False),
        ("", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


async def test_an_open_app_refuses_a_network_address(database_url: str) -> None:
    with pytest.raises(BaseException) as caught:
        async with AsyncTestClient(create_app(_settings(database_url, host="0.0.0.0"))):
            pass
    assert any(
        isinstance(e, SettingsError) and "insecure-no-auth" in str(e) for e in _leaves(caught.value)
    )
    async with AsyncTestClient(
        create_app(_settings(database_url, host="0.0.0.0", insecure_no_auth=True))
    ) as client:
        assert await _anonymous(client) == 200
    await asyncio.to_thread(_cli_key, database_url)
    async with AsyncTestClient(create_app(_settings(database_url, host="0.0.0.0"))) as client:
        assert await _anonymous(client) == 401


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def test_serve_refuses_an_open_network_bind(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            str(PERMSVC),
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            str(free_port()),
            "--data-dir",
            str(tmp_path / "d"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        "refusing to serve 0.0.0.0 without credentials" in done.stderr
        and "--insecure-no-auth" in done.stderr
    )


def test_serve_says_it_is_open(tmp_path: Path) -> None:
    with live_server(tmp_path / "open") as server:
        time.sleep(0.2)
        assert "OPEN: no credential" in server.output() and "loopback" in server.output()
    with live_server(tmp_path / "insecure", "--host", "0.0.0.0", "--insecure-no-auth") as server:
        time.sleep(0.2)
        assert "OPEN AND INSECURE" in server.output()
    with live_server(tmp_path / "closed", env={"PERMSVC_API_KEYS": "k-123"}) as server:
        time.sleep(0.2)
        assert "authentication required" in server.output() and "OPEN" not in server.output()
