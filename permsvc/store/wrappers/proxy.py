"""TupleReaderProxy: forwards every :class:`~permsvc.store.protocol.TupleReader` method explicitly.

Decorators subclass it and override only what they change (no ``__getattr__`` forwarding: type
checkers cannot see through it). It is a :class:`~permsvc.store.protocol.Wrapper`: capabilities it
does not offer itself are found below it with :func:`~permsvc.store.protocol.unwrap` (except how
tuples are read: a decorator changes that, so it offers those capabilities itself or not at all).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from permsvc.store.protocol import inline_reads

if TYPE_CHECKING:
    from collections.abc import Sequence

    from permsvc.core.refs import TupleKey
    from permsvc.core.revision import Revision
    from permsvc.store.protocol import Page, ReadFilter, StartingWithUser, StoredTuple, TupleReader

__all__ = ("TupleReaderProxy",)


class TupleReaderProxy:
    """A :class:`TupleReader` that delegates to ``inner``."""

    def __init__(self, inner: TupleReader) -> None:
        self.inner = inner
        self.inline_reads: bool = inline_reads(inner)
        """Whether reads are served from memory (the engine then evaluates branches inline)."""

    def unwrap(self) -> TupleReader:
        return self.inner

    async def read_user_tuple(
        self, store_id: str, object: str, relation: str, user: str
    ) -> TupleKey | None:
        return await self.inner.read_user_tuple(store_id, object, relation, user)

    async def read_userset_tuples(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        return await self.inner.read_userset_tuples(store_id, object, relation)

    async def read_object_relation(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        return await self.inner.read_object_relation(store_id, object, relation)

    async def read_starting_with_user(
        self, store_id: str, filter: StartingWithUser
    ) -> Sequence[TupleKey]:
        return await self.inner.read_starting_with_user(store_id, filter)

    async def read_page(
        self, store_id: str, filter: ReadFilter, *, page_size: int, continuation_token: str = ""
    ) -> Page[StoredTuple]:
        return await self.inner.read_page(
            store_id, filter, page_size=page_size, continuation_token=continuation_token
        )

    async def head_revision(self, store_id: str) -> Revision:
        return await self.inner.head_revision(store_id)
