"""``permsvc admin bootstrap|create-key|revoke-key|list-keys`` against a SQLite file, and the keys
they print used against a server on the same file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from permsvc.cli.main import main
from tests.api.admin.v1kit import bearer
from tests.api.conftest import make_settings


async def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The CLI runs its own event loop, so it runs on a worker thread here."""
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_bootstrap_create_list_revoke(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--data-dir", str(tmp_path)]
    code, out, err = await _run(capsys, "admin", "bootstrap", *db)
    assert code == 0 and out.startswith("psk_") and out.count("\n") == 1
    admin_key = out.strip()
    key_id = admin_key.split("_")[1]
    assert key_id in err and "printed once" in err and admin_key not in err

    code, out, err = await _run(capsys, "admin", "bootstrap", *db)
    assert code == 1 and out == "" and "exists already" in err and "create-key --roles admin" in err

    code, out, _ = await _run(
        capsys,
        "admin",
        "create-key",
        "--scope",
        "check",
        "--store",
        "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "--name",
        "api",
        *db,
    )
    check_key = out.strip()
    assert code == 0 and check_key.startswith("psk_")

    code, out, _ = await _run(capsys, "admin", "list-keys", *db)
    assert code == 0 and key_id in out and "roles check, store 01ARZ3NDEKTSV4RRFFQ69G5FAV" in out
    assert admin_key not in out and check_key not in out

    settings = make_settings(database_url=f"sqlite:///{tmp_path / 'permsvc.db'}")
    async with AsyncTestClient(create_app(settings)) as client:
        listed = await client.get("/v1/admin/keys", headers=bearer(admin_key))
        assert listed.status_code == 200 and len(listed.json()["keys"]) == 2
        audit = (
            await client.get(
                "/v1/admin/audit", params={"action": "key_create"}, headers=bearer(admin_key)
            )
        ).json()
        assert {e["actor_kind"] for e in audit["entries"]} == {"cli"}
        assert all(e["actor"].startswith("cli:") for e in audit["entries"])
        forbidden = await client.get("/v1/admin/keys", headers=bearer(check_key))
        assert forbidden.status_code == 403

    code, out, _ = await _run(capsys, "admin", "revoke-key", key_id, *db)
    assert code == 0 and out.startswith(f"revoked {key_id}")
    code, _, err = await _run(capsys, "admin", "revoke-key", "zzzzzzzzzz", *db)
    assert code == 1 and "no API key with id 'zzzzzzzzzz'" in err

    async with AsyncTestClient(create_app(settings)) as client:
        refused = await client.get("/v1/admin/keys", headers=bearer(admin_key))
        assert refused.status_code == 401 and "revoked" in refused.json()["message"]

    code, out, _ = await _run(capsys, "admin", "bootstrap", *db)
    assert code == 0 and out.startswith("psk_"), (
        "after every admin key is revoked, bootstrap works again"
    )


def test_create_key_rejects_an_unknown_scope(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["admin", "create-key", "--scope", "root", "--data-dir", str(tmp_path)])
    assert caught.value.code == 2
    assert "invalid choice: 'root'" in capsys.readouterr().err
