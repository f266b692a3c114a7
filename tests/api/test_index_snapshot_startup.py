"""A second worker started on a database holding a store's index snapshot (written by
``permsvc snapshot-index`` while the first worker serves) loads it, catches up with the writes
made after it (deletes included), and answers every check over the HTTP API exactly as the first
worker, whose index was built from the tuples: on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import random
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from permsvc.cli.main import main
from tests.api.conftest import MODEL, make_settings, write_tuples
from tests.pg import session_database_url

_DOCS = [f"document:{i}" for i in range(12)]
_USERS = [f"user:u{i}" for i in range(6)]


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return (
        f"sqlite:///{tmp_path}/permsvc.db" if request.param == "sqlite" else session_database_url()
    )


async def _allowed(client: AsyncTestClient[Any], store_id: str, user: str, obj: str) -> bool:
    body = {"tuple_key": {"user": user, "relation": "viewer", "object": obj}}
    response = await client.post(f"/stores/{store_id}/check", json=body)
    assert response.status_code == 200, response.text
    return bool(response.json()["allowed"])


async def _delete(client: AsyncTestClient[Any], store_id: str, *keys: tuple[str, str, str]) -> None:
    body = {
        "deletes": {"tuple_keys": [{"object": o, "relation": r, "user": u} for o, r, u in keys]}
    }
    response = await client.post(f"/stores/{store_id}/write", json=body)
    assert response.status_code == 200, response.text


async def test_a_second_worker_starts_from_the_snapshot_and_answers_like_the_first(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PERMSVC_URL", raising=False)
    rng = random.Random(17)
    settings = make_settings(database_url=database_url, index=True)
    first_app = create_app(settings)
    async with AsyncTestClient(first_app) as first:
        store_id = (await first.post("/stores", json={"name": "snapshot"})).json()["id"]
        response = await first.post(f"/stores/{store_id}/authorization-models", json=MODEL)
        assert response.status_code == 201, response.text
        grants = [
            (d, "viewer", u) for d, u in itertools.product(_DOCS, _USERS) if rng.random() < 0.4
        ]
        grants += [("group:eng", "member", "user:u5"), ("document:3", "viewer", "group:eng#member")]
        grants += [("document:7", "owner", "user:u0"), ("document:9", "viewer", "user:*")]
        await write_tuples(first, store_id, *grants)
        # a peer writes the snapshot (the command a cron job runs), the first worker keeps serving
        code = await asyncio.to_thread(
            main, ["snapshot-index", "--database-url", database_url, "--store", store_id]
        )
        assert code == 0
        assert f"{store_id}: written at revision 1 (" in capsys.readouterr().out
        # after the snapshot: deletes (one of them the only grant of its pair) and new writes
        gone = rng.sample(grants[:-4], 5) + [("document:3", "viewer", "group:eng#member")]
        await _delete(first, store_id, *gone)
        await write_tuples(
            first, store_id, ("document:11", "owner", "user:u3"), ("group:eng", "member", "user:u1")
        )

        second_app = create_app(settings)
        async with AsyncTestClient(second_app) as second:
            assert second_app.state.deps.datastore.from_snapshot(store_id)
            answers = []
            for doc, user in itertools.product(_DOCS, [*_USERS, "user:other"]):
                a = await _allowed(first, store_id, user, doc)
                b = await _allowed(second, store_id, user, doc)
                assert a == b, (doc, user, a, b)
                answers.append(a)
            assert any(answers) and not all(answers)
            assert not await _allowed(second, store_id, "user:u5", "document:3")
            assert await _allowed(second, store_id, "user:u3", "document:11")
            metrics = _gauges((await second.get("/metrics")).text)
            assert metrics['permsvc_index_stores{mode="from_snapshot"}'] >= 1
            assert metrics['permsvc_index_stores{mode="index"}'] >= 1
            assert metrics["permsvc_index_tuples"] >= len(grants) - len(gone) + 2
            assert metrics["permsvc_index_memory_budget_bytes"] == settings.index_memory_budget


def _gauges(text: str) -> dict[str, float]:
    return {
        name: float(value)
        for name, _, value in (line.rpartition(" ") for line in text.splitlines())
        if name.startswith("permsvc_index_")
    }
