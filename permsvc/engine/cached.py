"""CachedCheckResolver: whole Check answers kept across requests, keyed by everything that decides them.

The key is the request's :class:`~permsvc.engine.request.ResolveRequest`: store, model, the
store revision the request reads at, ``object#relation@user`` and the digest of its contextual
tuples and condition context. A write moves the revision, so a cached answer is never served for
a revision it was not computed at (OpenFGA keys its cache by time instead and must invalidate).

Only facts are cached: an answer that met a cycle is not (as openfga ``cached_resolver.go``: it
depends on the path that led to it), and errors are not. A context without a revision (built
outside the query commands) bypasses the cache.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from permsvc.engine.request import ResolveContext, ResolveRequest, ResolveResult
    from permsvc.engine.resolver import CheckResolver

__all__ = ("DEFAULT_CHECK_CACHE_SIZE", "CachedCheckResolver")

DEFAULT_CHECK_CACHE_SIZE = 10_000
"""Answers kept per process (least recently used ones are dropped first)."""


class CachedCheckResolver:
    """A bounded LRU of Check answers in front of ``inner``."""

    __slots__ = ("_entries", "_inner", "_max_entries", "hits", "misses")

    def __init__(
        self, inner: CheckResolver, *, max_entries: int = DEFAULT_CHECK_CACHE_SIZE
    ) -> None:
        self._inner = inner
        self._max_entries = max_entries
        self._entries: OrderedDict[ResolveRequest, ResolveResult] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @property
    def size(self) -> int:
        """Answers currently cached. (Not ``__len__``: an empty cache must not be falsy.)"""
        return len(self._entries)

    def contains(self, ctx: ResolveContext, object_: str, relation: str) -> bool:
        """Whether :meth:`check` would answer ``object_#relation`` in ``ctx`` from the cache."""
        return ctx.revision is not None and ctx.request(object_, relation) in self._entries

    async def check(self, ctx: ResolveContext, object_: str, relation: str) -> ResolveResult:
        if ctx.revision is None:
            return await self._inner.check(ctx, object_, relation)
        key = ctx.request(object_, relation)
        found = self._entries.get(key)
        if found is not None:
            self.hits += 1
            self._entries.move_to_end(key)
            return found
        self.misses += 1
        result = await self._inner.check(ctx, object_, relation)
        if not result.cycle_detected:
            self._entries[key] = result
            if len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return result
