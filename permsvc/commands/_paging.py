"""Pagination of list queries: deterministic (sorted) results, the token carries the last item.

A token is bound to the request that produced it (a digest of the query's parameters), so
presenting it with another query raises ``InvalidContinuationTokenError``. Because results are
produced in sorted order and each page starts strictly after the last item returned, pages never
repeat or skip an item that is stable across the pages.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import msgspec

from permsvc.commands.errors import InvalidInputError
from permsvc.engine.errors import DeadlineExceededError
from permsvc.store.errors import InvalidContinuationTokenError
from permsvc.store.tokens import decode_page_token, encode_page_token

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ("collect_page", "decode_after", "query_digest")


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


async def _aclose(items: AsyncIterator[str]) -> None:
    close = getattr(items, "aclose", None)
    if close is not None:
        await close()
