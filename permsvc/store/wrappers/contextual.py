"""ContextualTupleReader: a request's contextual tuples take part as if they were stored.

Like OpenFGA's ``combinedtuplereader.go``: for the store the request is about, every tuple read
sees the contextual tuples first, then the stored ones. A contextual tuple with the same
``object#relation@user`` as a stored one replaces it (its condition is the one that counts), and
duplicate contextual tuples count once. Reads for other stores pass through untouched. Over a
reader with synchronous reads (:class:`~permsvc.store.protocol.SyncTupleReader`) the overlay
offers them too, so a check with contextual tuples keeps the engine's synchronous path.
``read_page`` (the Read API) is not affected: contextual tuples are never "stored".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from permsvc.store.common.reverse import starting_with_user
from permsvc.store.protocol import SyncTupleReader, unwrap
from permsvc.store.wrappers.proxy import TupleReaderProxy

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from permsvc.core.refs import TupleKey
    from permsvc.store.protocol import StartingWithUser, TupleReader

__all__ = ("ContextualTupleReader",)


class ContextualTupleReader(TupleReaderProxy):
    """Overlay of ``tuples`` (already validated against the model) on ``inner`` for ``store_id``."""

    def __init__(self, inner: TupleReader, store_id: str, tuples: Iterable[TupleKey]) -> None:
        super().__init__(inner)
        self.store_id = store_id
        self._sync = unwrap(inner, SyncTupleReader)
        self._by_key: dict[tuple[str, str, str], TupleKey] = {}
        self._by_object_relation: dict[tuple[str, str], dict[str, TupleKey]] = {}
        self._by_user: dict[tuple[str, str, str], dict[str, TupleKey]] = {}
        for key in tuples:
            if key.key in self._by_key:
                continue
            self._by_key[key.key] = key
            self._by_object_relation.setdefault((key.object, key.relation), {})[key.user] = key
            otype, _, oid = key.object.partition(":")
            self._by_user.setdefault((otype, key.relation, key.user), {})[oid] = key

    async def read_user_tuple(
        self, store_id: str, object: str, relation: str, user: str
    ) -> TupleKey | None:
        if store_id == self.store_id:
            found = self._by_key.get((object, relation, user))
            if found is not None:
                return found
        return await self.inner.read_user_tuple(store_id, object, relation, user)

    def _merge(self, own: Iterable[TupleKey], stored: Sequence[TupleKey]) -> Sequence[TupleKey]:
        own = list(own)
        if not own:
            return stored
        seen = {k.key for k in own}
        own.extend(k for k in stored if k.key not in seen)
        return own

    def _usersets(
        self, store_id: str, object: str, relation: str, stored: Sequence[TupleKey]
    ) -> Sequence[TupleKey]:
        if store_id != self.store_id:
            return stored
        users = self._by_object_relation.get((object, relation))
        if not users:
            return stored
        return self._merge((k for u, k in users.items() if "#" in u or u.endswith(":*")), stored)

    def _object_relation(
        self, store_id: str, object: str, relation: str, stored: Sequence[TupleKey]
    ) -> Sequence[TupleKey]:
        if store_id != self.store_id:
            return stored
        users = self._by_object_relation.get((object, relation))
        return self._merge(users.values(), stored) if users else stored

    async def read_userset_tuples(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        stored = await self.inner.read_userset_tuples(store_id, object, relation)
        return self._usersets(store_id, object, relation, stored)

    async def read_object_relation(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        stored = await self.inner.read_object_relation(store_id, object, relation)
        return self._object_relation(store_id, object, relation, stored)

    def sync_reads(self, store_id: str) -> bool:
        """The overlay is in memory: synchronous when the inner reader is (``SyncTupleReader``)."""
        return self._sync is not None and self._sync.sync_reads(store_id)

    def read_user_tuple_sync(
        self, store_id: str, object: str, relation: str, user: str
    ) -> TupleKey | None:
        if store_id == self.store_id:
            found = self._by_key.get((object, relation, user))
            if found is not None:
                return found
        return self._sync.read_user_tuple_sync(store_id, object, relation, user)  # type: ignore[union-attr]  # only called when sync_reads

    def read_userset_tuples_sync(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        stored = self._sync.read_userset_tuples_sync(store_id, object, relation)  # type: ignore[union-attr]  # as above
        return self._usersets(store_id, object, relation, stored)

    def read_object_relation_sync(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        stored = self._sync.read_object_relation_sync(store_id, object, relation)  # type: ignore[union-attr]  # as above
        return self._object_relation(store_id, object, relation, stored)

    async def read_starting_with_user(
        self, store_id: str, filter: StartingWithUser
    ) -> Sequence[TupleKey]:
        stored = await self.inner.read_starting_with_user(store_id, filter)
        if store_id != self.store_id:
            return stored
        return self._merge(starting_with_user(self._by_user, filter), stored)
