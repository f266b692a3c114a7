"""Authorization-model operations, and the model resolution every query starts with."""

from __future__ import annotations

from collections import OrderedDict

from permsvc.commands.errors import LatestModelNotFoundError
from permsvc.core.ulid import is_ulid
from permsvc.model.typesystem import TypeSystem
from permsvc.store.errors import ModelNotFoundError
from permsvc.store.protocol import ModelStore

__all__ = ("ModelResolver",)

_DEFAULT_CACHE_SIZE = 256


class ModelResolver:
    """Resolves ``authorization_model_id`` (empty -> the store's latest) to a :class:`TypeSystem`.

    Models are immutable, so a resolved TypeSystem is cached by ``(store_id, model_id)`` forever
    (LRU-bounded). "Latest" is never cached: a newly written model takes effect at once.
    """

    def __init__(self, models: ModelStore, *, cache_size: int = _DEFAULT_CACHE_SIZE) -> None:
        self._models = models
        self._cache: OrderedDict[tuple[str, str], TypeSystem] = OrderedDict()
        self._cache_size = cache_size

    async def resolve(self, store_id: str, model_id: str = "") -> TypeSystem:
        """Raises ``LatestModelNotFoundError`` (no model at all) or ``ModelNotFoundError``."""
        if model_id:
            if not is_ulid(model_id):
                raise ModelNotFoundError(model_id)
            cached = self._cache.get((store_id, model_id))
            if cached is not None:
                self._cache.move_to_end((store_id, model_id))
                return cached
            stored = await self._models.read_model(store_id, model_id)
        else:
            latest = await self._models.read_latest_model(store_id)
            if latest is None:
                raise LatestModelNotFoundError(store_id)
            cached = self._cache.get((store_id, latest.id))
            if cached is not None:
                return cached
            stored = latest
        ts = TypeSystem.new(stored.model)
        self._cache[(store_id, stored.id)] = ts
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return ts
