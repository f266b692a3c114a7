"""``permsvc snapshot-index``: writes the index snapshot of every store big enough whose snapshot is
behind its head, and says which it wrote; a later server process starts from it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from permsvc.cli.main import main
from permsvc.core.refs import TupleKey
from permsvc.store.index import IndexedDatastore
from permsvc.store.sqlite import SqliteDatastore


def _keys(n: int) -> list[TupleKey]:
    return [TupleKey(object=f"doc:{i}", relation="viewer", user="user:a") for i in range(n)]


async def _stores(path: Path) -> tuple[str, str]:
    datastore = await SqliteDatastore.open(path)
    try:
        big = (await datastore.create_store("big")).id
        small = (await datastore.create_store("small")).id
        await datastore.write(big, writes=_keys(10))
        await datastore.write(small, writes=_keys(2))
        return big, small
    finally:
        await datastore.aclose()


async def _start(path: Path, store: str) -> tuple[bool, int | None]:
    datastore = await SqliteDatastore.open(path)
    try:
        indexed = IndexedDatastore(datastore, snapshot_min_tuples=1 << 30)
        await indexed.start()
        await indexed.stop_following()
        return indexed.from_snapshot(store), await datastore.index_snapshot_revision(store)
    finally:
        await datastore.aclose()


def test_snapshot_index_writes_big_stores_snapshots_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PERMSVC_URL", raising=False)
    path = tmp_path / "permsvc.db"
    big, small = asyncio.run(_stores(path))
    url = f"sqlite:///{path}"
    assert main(["snapshot-index", "--database-url", url, "--min-tuples", "5"]) == 0
    out = capsys.readouterr().out
    assert f"{big}: written at revision 1 (10 tuples)" in out
    assert small not in out
    assert main(["snapshot-index", "--database-url", url, "--min-tuples", "5"]) == 0
    assert f"{big}: current at revision 1 (10 tuples)" in capsys.readouterr().out
    assert main(["snapshot-index", "--database-url", url, "--store", small]) == 0
    assert f"{small}: written at revision 1 (2 tuples)" in capsys.readouterr().out
    assert asyncio.run(_start(path, big)) == (True, 1)
