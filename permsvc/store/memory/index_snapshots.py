"""Index snapshots in process memory: the reference the SQL backends must match."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from permsvc.core.revision import Revision
    from permsvc.store.protocol import IndexSnapshot

__all__ = ("MemoryIndexSnapshotMixin",)


class MemoryIndexSnapshotMixin:
    """:class:`~permsvc.store.protocol.IndexSnapshotStore` in memory; state is created on first use."""

    _index_snapshots: dict[str, IndexSnapshot]

    def _index_snapshot_state(self) -> dict[str, IndexSnapshot]:
        try:
            return self._index_snapshots
        except AttributeError:
            self._index_snapshots = {}
            return self._index_snapshots

    async def read_index_snapshot(self, store_id: str, format: str) -> IndexSnapshot | None:
        snapshot = self._index_snapshot_state().get(store_id)
        return snapshot if snapshot is not None and snapshot.format == format else None

    async def index_snapshot_revision(self, store_id: str) -> Revision | None:
        snapshot = self._index_snapshot_state().get(store_id)
        return None if snapshot is None else snapshot.revision

    async def write_index_snapshot(self, store_id: str, snapshot: IndexSnapshot) -> bool:
        snapshots = self._index_snapshot_state()
        stored = snapshots.get(store_id)
        if stored is not None and stored.revision >= snapshot.revision:
            return False
        snapshots[store_id] = snapshot
        return True

    async def delete_index_snapshot(self, store_id: str) -> None:
        self._index_snapshot_state().pop(store_id, None)
