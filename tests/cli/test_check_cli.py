"""``permsvc check`` against an embedded SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest

from permsvc.cli.main import main
from permsvc.core.refs import parse_tuple
from permsvc.model.compile import load_model_file
from permsvc.store.factory import open_datastore
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def store(tmp_path: Path) -> tuple[Path, str]:
    datastore = await open_datastore(None, data_dir=tmp_path)
    try:
        info = await datastore.create_store("cli")
        await datastore.write_model(info.id, load_model_file(REPO_ROOT / "schema" / "example.fga"))
        await datastore.write(
            info.id,
            writes=[
                parse_tuple("document:1#owner@user:anne"),
                parse_tuple("group:eng#member@user:bob"),
            ],
        )
    finally:
        await datastore.aclose()
    return tmp_path, info.id


def _check(
    capsys: pytest.CaptureFixture[str], store: tuple[Path, str], *args: str
) -> tuple[int, str, str]:
    data_dir, store_id = store
    code = main(["check", *args, "--store", store_id, "--data-dir", str(data_dir)])
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


def test_allowed_and_not_allowed(
    capsys: pytest.CaptureFixture[str], store: tuple[Path, str]
) -> None:
    code, out, _ = _check(capsys, store, "document:1#viewer@user:anne")
    assert code == 0
    assert out.startswith("document:1#viewer@user:anne: allowed  [model ")
    code, out, _ = _check(capsys, store, "document:1", "viewer", "user:bob")
    assert code == 1
    assert out.startswith("document:1#viewer@user:bob: not allowed")


def test_contextual_tuples_and_relation_listing(
    capsys: pytest.CaptureFixture[str], store: tuple[Path, str]
) -> None:
    code, _, _ = _check(
        capsys,
        store,
        "document:1#viewer@user:bob",
        "--contextual",
        "document:1#viewer@group:eng#member",
    )
    assert code == 0
    code, out, _ = _check(capsys, store, "document:1", "user:anne")
    assert code == 0
    assert out.startswith(
        "user:anne on document:1: owner, editor, viewer, can_share, can_view  [model "
    )


def test_errors_are_one_line(capsys: pytest.CaptureFixture[str], store: tuple[Path, str]) -> None:
    code, _, err = _check(capsys, store, "document:1#nope@user:anne")
    assert code == 1
    assert (
        err
        == "permsvc: error: invalid check tuple 'document:1#nope@user:anne': relation 'document#nope' not found"
    )


def test_explain_prints_the_proof_as_a_tree(
    capsys: pytest.CaptureFixture[str], store: tuple[Path, str]
) -> None:
    code, out, _ = _check(capsys, store, "document:1#viewer@user:anne", "--explain")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("document:1#viewer@user:anne: allowed  [model ")
    assert lines[1].startswith("✓ allowed — witness 1")
    assert lines[2].strip() == "document:1#viewer"
    assert any(
        "tuple document:1#owner@user:anne (stored, written at revision" in line for line in lines
    )
    code, out, _ = _check(
        capsys,
        store,
        "document:1#viewer@user:bob",
        "--explain",
        "--contextual",
        "document:1#viewer@group:eng#member",
    )
    assert code == 0
    assert "(contextual)" in out and "members of group:eng#member" in out
    code, out, _ = _check(capsys, store, "document:1#viewer@user:bob", "--explain")
    assert code == 1
    assert "✗ denied" in out and "✗ document:1#viewer" in out


def test_a_missing_database_is_named_not_created(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    elsewhere = tmp_path / "not-the-server's"
    code = main(
        ["check", "document:1#owner@user:anne", "--store", "x", "--data-dir", str(elsewhere)]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert f"no database at {elsewhere / 'permsvc.db'}" in err and "--data-dir" in err
    assert not elsewhere.exists(), "a check creates nothing"


def test_explain_needs_a_relation(
    capsys: pytest.CaptureFixture[str], store: tuple[Path, str]
) -> None:
    code, _, err = _check(capsys, store, "document:1", "user:anne", "--explain")
    assert code == 1 and "--explain needs a relation" in err


def test_explain_is_not_sent_to_a_server(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["check", "document:1#viewer@user:anne", "--explain", "--url", "http://127.0.0.1:9"]
    )
    _, err = capsys.readouterr()
    assert code == 2 and "--explain" in err and "/v1/explain" in err
