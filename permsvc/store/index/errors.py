"""Errors of the in-memory index."""

from __future__ import annotations

from permsvc.core.errors import InvariantViolation

__all__ = ("IndexSnapshotMovedError",)


class IndexSnapshotMovedError(InvariantViolation):
    """The index applied changes while a request was reading it between two reads.

    A request that reads the index evaluates without suspending (every index read completes
    synchronously), so this can only mean that a caller awaited something that suspended in the
    middle of an evaluation: a bug, reported rather than answered from two revisions.
    """

    def __init__(self, store_id: str, opened: int, now: int) -> None:
        super().__init__(
            f"the index of store {store_id} moved from revision {opened} to {now} during one evaluation: "
            "an evaluation reading the index must not suspend between reads"
        )
