"""The admin flow on the durable backends (SQLite, PostgreSQL), behind the in-memory index as
``permsvc serve`` runs it: grants, import, keys, audit and trace survive a restart."""

from __future__ import annotations

import asyncio
import contextlib
import io
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from permsvc.cli.main import main
from tests.api.admin.v1kit import ROOT_KEY, Issuer, bearer, seed_store
from tests.api.conftest import make_settings
from tests.pg import fresh_database_url


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'permsvc.db'}"
    # A database of its own: the API key created here would close the anonymous door of the
    # servers other tests run on the shared one.
    return fresh_database_url()


async def _cli_key(database_url: str) -> str:
    """An admin key from ``permsvc admin create-key`` (its own process-like run, its own loop)."""
    out = io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            return main(["admin", "create-key", "--scope", "admin", "--database-url", database_url])

    assert await asyncio.to_thread(run) == 0
    return out.getvalue().strip()


async def test_admin_flow_survives_a_restart(database_url: str) -> None:
    issuer = Issuer()
    settings = make_settings(
        database_url=database_url, index=True, api_keys=(ROOT_KEY,), oidc=issuer.settings()
    )
    app = create_app(settings, token_keys=issuer.keys())
    async with AsyncTestClient(app) as client:
        admin = bearer(await _cli_key(database_url))
        store, _ = await seed_store(client)
        granted = await client.post(
            "/v1/admin/grants",
            json={
                "store_id": store,
                "tuples": [{"object": "document:a", "relation": "viewer", "user": "user:auth0|42"}],
            },
            headers=admin,
        )
        assert granted.status_code == 200, granted.text
        lines = "".join(
            f'{{"object":"document:i{i}","relation":"viewer","user":"user:auth0|42"}}\n'
            for i in range(300)
        )
        imported = await client.post(
            "/v1/admin/tuples/import",
            params={"store_id": store},
            content=lines.encode(),
            headers=admin,
        )
        assert imported.json()["imported"] == 300
        token = imported.json()["consistency_token"]
        check = await client.post(
            "/v1/check",
            json={
                "relation": "viewer",
                "object": "document:i299",
                "store_id": store,
                "consistency_token": token,
            },
            headers=bearer(issuer.user()),
        )
        assert check.json()["allowed"] is True

    async with AsyncTestClient(create_app(settings, token_keys=issuer.keys())) as client:
        audit = (
            await client.get("/v1/admin/audit", params={"store_id": store}, headers=admin)
        ).json()["entries"]
        assert [e["action"] for e in audit] == ["import", "grant", "model_write", "store_create"]
        assert audit[0]["detail"]["count"] == 300 and audit[0]["revision"] == 2
        trace = await client.get(
            "/v1/admin/audit/trace",
            params={
                "store_id": store,
                "object": "document:i150",
                "relation": "viewer",
                "user": "user:auth0|42",
            },
            headers=admin,
        )
        [change] = trace.json()["changes"]
        assert change["revision"] == 2 and change["audit"][0]["action"] == "import"
        export = await client.get(
            "/v1/admin/tuples/export", params={"store_id": store}, headers=admin
        )
        assert len(export.text.splitlines()) == 301
