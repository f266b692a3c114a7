"""Authorization-model operations, and the model resolution every query starts with."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import msgspec

from permsvc.commands.errors import CommandError, LatestModelNotFoundError
from permsvc.commands.read import validate_page
from permsvc.commands.write import ExceededEntityLimitError
from permsvc.core.ulid import is_ulid
from permsvc.model.json import model_from_json
from permsvc.model.typesystem import TypeSystem
from permsvc.settings import DEFAULT_MAX_MODEL_BYTES, DEFAULT_MAX_TYPES_PER_MODEL
from permsvc.store.errors import ModelNotFoundError
from permsvc.store.protocol import ModelStore, Page, StoredModel

__all__ = (
    "SUPPORTED_SCHEMA_VERSIONS",
    "InvalidAuthorizationModelError",
    "ListAuthorizationModelsQuery",
    "ModelResolver",
    "ReadAuthorizationModelQuery",
    "UnsupportedSchemaVersionError",
    "WriteAuthorizationModelCommand",
)

SUPPORTED_SCHEMA_VERSIONS = ("1.1", "1.2")
"""OpenFGA accepts 1.1 and 1.2 (modular models) for writes (pkg/typesystem/typesystem.go)."""

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


class InvalidAuthorizationModelError(CommandError):
    """The model cannot be stored (OpenFGA ``invalid_authorization_model``)."""

    openfga_name = "invalid_authorization_model"


class UnsupportedSchemaVersionError(CommandError):
    """A ``schema_version`` other than 1.1 / 1.2 (OpenFGA ``invalid_authorization_model``)."""

    openfga_name = "invalid_authorization_model"

    def __init__(self, version: str) -> None:
        super().__init__(f"invalid schema version '{version}': supported versions are 1.1 and 1.2")
        self.version = version


class WriteAuthorizationModelCommand:
    """Validate a model in OpenFGA's JSON form with OpenFGA's rules and store it under a new ULID.

    Limits come first, as in OpenFGA's write_authzmodel.go: more than ``max_types`` types or a
    model larger than ``max_bytes`` (measured as its compact JSON) is ``exceeded_entity_limit``.
    Shape problems and semantic rule violations are ``invalid_authorization_model`` with every
    issue listed.
    """

    def __init__(
        self,
        *,
        models: ModelStore,
        max_types: int = DEFAULT_MAX_TYPES_PER_MODEL,
        max_bytes: int = DEFAULT_MAX_MODEL_BYTES,
    ) -> None:
        self._models = models
        self._max_types = max_types
        self._max_bytes = max_bytes

    async def execute(self, store_id: str, model_json: dict[str, Any], *, dsl: str = "") -> StoredModel:
        types = model_json.get("type_definitions")
        if isinstance(types, list) and len(types) > self._max_types:
            raise ExceededEntityLimitError(
                "The number of type definitions in an authorization model exceeds the allowed limit "
                f"of {self._max_types}"
            )
        size = len(msgspec.json.encode(model_json))
        if size > self._max_bytes:
            raise ExceededEntityLimitError(f"model exceeds size limit: {size} bytes vs {self._max_bytes} bytes")
        if not types:
            raise InvalidAuthorizationModelError(
                "invalid WriteAuthorizationModelRequest.TypeDefinitions: value must contain at least 1 item(s)"
            )
        model = model_from_json(model_json)
        if model.schema_version not in SUPPORTED_SCHEMA_VERSIONS:
            raise UnsupportedSchemaVersionError(model.schema_version)
        TypeSystem.validated(model)
        return await self._models.write_model(store_id, model, dsl=dsl)


class ReadAuthorizationModelQuery:
    """One stored model by id; ``ModelNotFoundError`` when the store has no such model."""

    def __init__(self, *, models: ModelStore) -> None:
        self._models = models

    async def execute(self, store_id: str, model_id: str) -> StoredModel:
        if not is_ulid(model_id):
            raise ModelNotFoundError(model_id)
        return await self._models.read_model(store_id, model_id)


class ListAuthorizationModelsQuery:
    """A store's models, newest first (the SDK's read_latest asks for ``page_size=1``)."""

    def __init__(self, *, models: ModelStore) -> None:
        self._models = models

    async def execute(
        self, store_id: str, *, page_size: int | None = None, continuation_token: str = ""
    ) -> Page[StoredModel]:
        size = validate_page("ReadAuthorizationModelsRequest", page_size, continuation_token)
        return await self._models.list_models(store_id, page_size=size, continuation_token=continuation_token)
