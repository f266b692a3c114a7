"""Write planning shared by every backend: which deletes and writes of a Write apply.

A backend looks the request's tuples up in its own way (a dict, one statement per tuple, one
statement for all) and hands the lookup to :func:`plan_write`; the decisions (a missing delete, an
existing write, the same tuple with another condition) and OpenFGA's messages for them are made
here once. Planning happens before anything is applied: on any error nothing changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from permsvc.store.errors import InvalidWriteInputError
from permsvc.store.rows import condition_conflict, exists_message, missing_message

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from permsvc.core.refs import TupleKey
    from permsvc.store.protocol import OnDuplicate, WriteRequest

__all__ = ("BulkWritePlan", "WritePlan", "check_condition_conflict", "plan_write")


class WritePlan(NamedTuple):
    deletes: list[TupleKey]
    """The stored tuples to delete (with their stored condition), in request order."""
    writes: list[TupleKey]
    """The tuples to insert, in request order."""


def plan_write(request: WriteRequest, stored: Callable[[TupleKey], TupleKey | None]) -> WritePlan:
    """The operations of a :meth:`~permsvc.store.protocol.TupleWriter.write` that change something.

    ``stored(key)`` is the stored tuple with ``key``'s identity (``object#relation@user``), or
    ``None``; it is asked once per delete and once per write not deleted by the same request.
    A missing delete raises ``InvalidWriteInputError`` with ``on_missing="error"`` and is skipped
    otherwise; a write of a stored tuple raises it with ``on_duplicate="error"``, raises
    ``TupleConditionConflictError`` when the conditions differ and is skipped otherwise. A tuple
    deleted and written by the same request is written again (its new condition counts).
    """
    to_delete: list[TupleKey] = []
    deleted: set[tuple[str, str, str]] = set()
    for key in request.deletes:
        found = stored(key)
        if found is None:
            if request.on_missing == "error":
                raise InvalidWriteInputError(missing_message(key))
            continue
        to_delete.append(found)
        deleted.add(key.key)
    to_write: list[TupleKey] = []
    for key in request.writes:
        if key.key not in deleted:
            found = stored(key)
            if found is not None:
                if request.on_duplicate == "error":
                    raise InvalidWriteInputError(exists_message(key))
                check_condition_conflict(key, found)
                continue
        to_write.append(key)
    return WritePlan(to_delete, to_write)


def check_condition_conflict(key: TupleKey, other: TupleKey) -> None:
    """Raise ``TupleConditionConflictError`` when ``key`` and ``other`` (the same tuple, stored or
    earlier in the input) carry different conditions."""
    if key.condition != other.condition:
        raise condition_conflict(key)


class BulkWritePlan:
    """The tuples of a :meth:`~permsvc.store.protocol.BulkTupleWriter.bulk_write` to insert, for a
    backend that plans in memory (the SQL backends do the same in SQL over a staging table).

    A tuple already stored (``stored``) or earlier in the input is skipped when its condition is the
    same, raises ``TupleConditionConflictError`` when it is not; with ``on_duplicate="error"`` any
    stored tuple raises ``InvalidWriteInputError``.
    """

    def __init__(
        self, stored: Callable[[TupleKey], TupleKey | None], on_duplicate: OnDuplicate
    ) -> None:
        self._stored = stored
        self._on_duplicate = on_duplicate
        self.pending: dict[tuple[str, str, str], TupleKey] = {}
        """The tuples to insert by identity, in input order."""

    def add(self, key: TupleKey) -> None:
        found = self._stored(key)
        if found is not None:
            if self._on_duplicate == "error":
                raise InvalidWriteInputError(exists_message(key))
            check_condition_conflict(key, found)
            return
        seen = self.pending.get(key.key)
        if seen is None:
            self.pending[key.key] = key
        else:
            check_condition_conflict(key, seen)

    def extend(self, keys: Iterable[TupleKey]) -> None:
        for key in keys:
            self.add(key)
