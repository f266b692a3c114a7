"""Keyset pages of stores and models, the same tokens from every backend.

A backend reads up to ``page_size + 1`` rows in key order from the key the token names (one more
than asked means another page follows) and hands them here.
"""

from __future__ import annotations

import heapq
import itertools
import operator
from typing import TYPE_CHECKING, Any, TypeVar

from permsvc.store.errors import InvalidContinuationTokenError
from permsvc.store.protocol import Page
from permsvc.store.rows import changes_token
from permsvc.store.tokens import decode_page_token, encode_page_token

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from permsvc.store.protocol import StoredModel, StoreInfo, TupleChange

R = TypeVar("R", bound="Sequence[Any]")

__all__ = (
    "changes_page",
    "merge_changes",
    "models_before",
    "models_page",
    "stores_after",
    "stores_page",
)


def _key(token: str, kind: str, field: str, first: str) -> str:
    if not token:
        return first
    value = decode_page_token(token, kind=kind).get(field)
    if not isinstance(value, str):
        raise InvalidContinuationTokenError()
    return value


def stores_after(token: str) -> str:
    """The store id a :meth:`~permsvc.store.protocol.StoreAdmin.list_stores` page starts after
    (ids ascending; ``""`` for the first page)."""
    return _key(token, "stores", "a", "")


def stores_page(rows: Sequence[StoreInfo], page_size: int) -> Page[StoreInfo]:
    items = list(rows[:page_size])
    more = len(rows) > page_size
    return Page(items, encode_page_token({"k": "stores", "a": items[-1].id}) if more else "")


def models_before(token: str) -> str:
    """The model id a :meth:`~permsvc.store.protocol.ModelStore.list_models` page starts below
    (ids descending, newest first; ``"~"``, above every ULID, for the first page)."""
    return _key(token, "models", "b", "~")


def models_page(rows: Sequence[StoredModel], page_size: int) -> Page[StoredModel]:
    items = list(rows[:page_size])
    more = len(rows) > page_size
    return Page(items, encode_page_token({"k": "models", "b": items[-1].id}) if more else "")


def changes_page(
    rows: Sequence[R],
    continuation_token: str,
    object_type: str,
    change: Callable[[R], TupleChange],
) -> Page[TupleChange]:
    """A ReadChanges page of the SQL backends from ``rows`` (``revision, seq, ...`` in commit
    order): without rows, the caller's token again (a client polls with it); else a token after
    the last row (:func:`~permsvc.store.rows.changes_token`)."""
    if not rows:
        return Page([], continuation_token)
    last = rows[-1]
    return Page([change(r) for r in rows], changes_token(object_type, last[0], last[1]))


def merge_changes(logged: Iterable[R], imported: Iterable[R], limit: int | None = None) -> list[R]:
    """Changelog rows and imported changes (each ``revision, seq, ...`` in change order) as one list
    in change order, the first ``limit`` of them: a bulk import's changes are read from the tuples
    it wrote (``changelog_imports``), interleaved by position with the rows of ``changelog``."""
    merged = heapq.merge(logged, imported, key=operator.itemgetter(0, 1))
    return list(merged if limit is None else itertools.islice(merged, limit))
