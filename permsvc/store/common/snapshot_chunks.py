"""How the SQL backends split an index snapshot's bytes into rows (``index_snapshot_chunks``)."""

from __future__ import annotations

__all__ = ("CHUNK_BYTES", "chunk_rows")

CHUNK_BYTES = 8 * 1024 * 1024
"""Bytes per chunk row: a bounded message per row on the wire and in the server's memory."""


def chunk_rows(store_id: str, data: bytes) -> list[tuple[str, int, bytes]]:
    """``(store_id, seq, chunk)`` rows holding ``data`` in order (none for no bytes)."""
    size = CHUNK_BYTES
    return [
        (store_id, seq, data[at : at + size]) for seq, at in enumerate(range(0, len(data), size))
    ]
