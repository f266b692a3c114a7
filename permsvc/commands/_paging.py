"""Pagination of list queries: deterministic (sorted) results, the token carries the last item.

A token is bound to the request that produced it (a digest of the query's parameters), so
presenting it with another query raises ``InvalidContinuationTokenError``. Because results are
produced in sorted order and each page starts strictly after the last item returned, pages never
repeat or skip an item that is stable across the pages.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, TypedDict

import msgspec

from permsvc.commands.errors import InvalidInputError
from permsvc.commands.prepare import QueryFields, QueryOutcome
from permsvc.engine.errors import DeadlineExceededError
from permsvc.store.errors import InvalidContinuationTokenError
from permsvc.store.tokens import decode_page_token, encode_page_token

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from permsvc.commands.prepare import Prepared
    from permsvc.settings import EngineLimits

__all__ = (
    "ListFields",
    "ListOutcome",
    "Listed",
    "collect_page",
    "decode_after",
    "list_page",
    "query_digest",
)


class ListFields(QueryFields, frozen=True, kw_only=True):
    """A list query's request: :class:`QueryFields` and the page asked for. ``page_size`` ``None``
    means the configured default (``EngineLimits.list_max_results``)."""

    page_size: int | None = None
    continuation_token: str = ""


class ListOutcome(QueryOutcome, frozen=True, kw_only=True):
    """One page. ``limit_reached`` says more results exist (page full or deadline reached);
    ``continuation_token`` then continues exactly after the last item returned."""

    continuation_token: str = ""
    limit_reached: bool = False


class Listed(TypedDict):
    """The :class:`ListOutcome` fields of a page, for the outcome that adds the page's items."""

    model_id: str
    revision: int
    continuation_token: str
    limit_reached: bool


def query_digest(*parts: Any) -> str:
    return hashlib.blake2b(msgspec.json.encode(parts, order="sorted"), digest_size=8).hexdigest()


def decode_after(token: str, kind: str, digest: str) -> str:
    """The last item of the previous page (``""`` without a token)."""
    if not token:
        return ""
    payload = decode_page_token(token, kind=kind)
    after = payload.get("a")
    if payload.get("h") != digest or not isinstance(after, str):
        raise InvalidContinuationTokenError(
            "the continuation token was issued for a different query"
        )
    return after


async def collect_page(
    items: AsyncIterator[str], *, page_size: int, kind: str, digest: str, after: str
) -> tuple[list[str], str, bool]:
    """Take one page from ``items``: ``(page, continuation_token, limit_reached)``.

    The page is full when ``page_size`` items were found and one more exists. When the request's
    deadline passes, the items found so far are returned with a token to continue from; a deadline
    that passes before a single item was found is the error itself.
    """
    if page_size < 1:
        raise InvalidInputError("page_size must be at least 1")
    page: list[str] = []
    try:
        async for item in items:
            if len(page) == page_size:
                return page, encode_page_token({"k": kind, "a": page[-1], "h": digest}), True
            page.append(item)
    except DeadlineExceededError:
        if not page:
            raise
        return page, encode_page_token({"k": kind, "a": page[-1], "h": digest}), True
    finally:
        await _aclose(items)
    return page, "", False


async def list_page(
    prepared: Prepared,
    params: ListFields,
    limits: EngineLimits,
    kind: str,
    digest: str,
    listing: Callable[[str], AsyncIterator[str]],
) -> tuple[list[str], Listed]:
    """The page ``params`` asks for of ``listing(after)`` (the items after ``after``, the last item
    of the page its token ended; a token of another query is refused), and its outcome fields."""
    after = decode_after(params.continuation_token, kind, digest)
    page, token, limited = await collect_page(
        listing(after),
        page_size=params.page_size or limits.list_max_results,
        kind=kind,
        digest=digest,
        after=after,
    )
    listed: Listed = {
        "model_id": prepared.model_id,
        "revision": prepared.revision,
        "continuation_token": token,
        "limit_reached": limited,
    }
    return page, listed


async def _aclose(items: AsyncIterator[str]) -> None:
    close = getattr(items, "aclose", None)
    if close is not None:
        await close()
