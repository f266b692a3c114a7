"""Authorization-model operations, and the model resolution every query starts with."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from permsvc.commands.errors import CommandError, InvalidInputError, LatestModelNotFoundError
from permsvc.commands.read import validate_page
from permsvc.commands.write import ExceededEntityLimitError
from permsvc.core.revision import Consistency, Revision, decode_token
from permsvc.core.ulid import is_ulid
from permsvc.model.conditions import MAX_EXPRESSION_BYTES
from permsvc.model.json import model_from_json
from permsvc.model.typesystem import TypeSystem
from permsvc.settings import DEFAULT_MAX_MODEL_BYTES, DEFAULT_MAX_TYPES_PER_MODEL
from permsvc.store.errors import ModelNotFoundError
from permsvc.store.protocol import ModelChangeFeed, ModelStore, Page, StoredModel, unwrap

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


class _StoreEntry:
    """What the resolver last read of one store: its latest model and when the store was live."""

    __slots__ = ("covers", "latest", "latest_at", "latest_stamp", "live_at", "live_stamp")

    def __init__(self) -> None:
        self.latest: TypeSystem | None = None
        self.latest_stamp: tuple[int, int] = (-1, -1)
        self.latest_at = 0.0
        self.covers: Revision = 0
        """Every model written before this tuple revision committed is in ``latest`` or older."""
        self.live_stamp: tuple[int, int] = (-1, -1)
        self.live_at = 0.0


class ModelResolver:
    """Resolves ``authorization_model_id`` (empty -> the store's latest) to a :class:`TypeSystem`.

    Models are immutable, so a resolved TypeSystem is kept by ``(store_id, model_id)`` (LRU-bounded)
    and never parsed twice. Over a :class:`~permsvc.store.protocol.ModelChangeFeed` (the in-memory
    index) the store's *latest* model is cached too, as its ``model_versions`` allow (a model written or the store deleted, here or notified from another process, or an
    entry older than the follower's polling interval: read again), honouring the consistency:

    - ``MINIMIZE_LATENCY``: the cached latest, as fresh as this process's tuple index;
    - a token of revision ``r``: the cached latest if it holds every model written before ``r``;
    - ``HIGHER_CONSISTENCY`` or no consistency (``None``: writes, admin): the database's latest.

    Store liveness is confirmed the same way: a deleted store stops answering from the cache.
    Over any other datastore the latest model is read from the database on every call.

    Revalidation is single-flight: when an entry ages out while many requests are in flight, the
    ones that find the same stamps share one database read instead of each issuing their own (a
    burst of up to one read per in-flight request, once per polling interval, was the p99 at 64
    in flight). ``HIGHER_CONSISTENCY`` and token reads never join a read started before them.
    """

    def __init__(
        self,
        models: ModelStore,
        *,
        cache_size: int = _DEFAULT_CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._models = models
        feed = unwrap(models, ModelChangeFeed)
        self._versions = feed.model_versions if feed is not None else None
        self._cache: OrderedDict[tuple[str, str], TypeSystem] = OrderedDict()
        self._stores: OrderedDict[str, _StoreEntry] = OrderedDict()
        self._cache_size = cache_size
        self._clock = clock
        self._flights: dict[tuple[Any, ...], asyncio.Future[Any]] = {}

    async def resolve(
        self, store_id: str, model_id: str = "", consistency: Consistency | None = None
    ) -> TypeSystem:
        """Raises ``LatestModelNotFoundError`` (no model at all), ``ModelNotFoundError``,
        ``StoreNotFoundError`` or ``InvalidConsistencyTokenError`` (a token of another store)."""
        if model_id:
            return await self._by_id(store_id, model_id)
        versions = self._versions
        if versions is None:
            return await self._read_latest(store_id)
        entry = self._stores.get(store_id)
        required: Revision | None = None
        if consistency is not None and consistency.level != "HIGHER_CONSISTENCY":
            required = (
                decode_token(consistency.token, store_id=store_id).revision
                if consistency.token
                else 0
            )
            if (
                entry is not None
                and entry.latest is not None
                and entry.latest_stamp == versions.stamp(store_id)
                and self._clock() - entry.latest_at < versions.max_age_s
                and required <= max(entry.covers, versions.notified_revision(store_id))
            ):
                return entry.latest
        if required == 0:
            key = ("latest", store_id, versions.stamp(store_id), versions.life_stamp(store_id))
            return await self._shared(key, lambda: self._refresh_latest(store_id, required))
        return await self._refresh_latest(store_id, required)

    async def _refresh_latest(self, store_id: str, required: Revision | None) -> TypeSystem:
        versions = self._versions
        assert versions is not None
        # Stamp and covered revision are taken before the reads they vouch for.
        stamp, life, at = versions.stamp(store_id), versions.life_stamp(store_id), self._clock()
        covers = versions.notified_revision(store_id)
        if required is not None and required > covers:
            covers = max(covers, await self._models.head_revision(store_id))  # type: ignore[attr-defined]
        typesystem = await self._read_latest(store_id)
        entry = self._entry(store_id)
        entry.latest, entry.latest_stamp, entry.latest_at, entry.covers = (
            typesystem,
            stamp,
            at,
            covers,
        )
        entry.live_stamp, entry.live_at = life, at
        return typesystem

    async def _shared(
        self, key: tuple[Any, ...], read: Callable[[], Awaitable[TypeSystem]]
    ) -> TypeSystem:
        """``read()``, or the result of the identical read already in flight (keyed by the stamps
        the read vouches for, so nobody joins a read older than what this process has heard of).
        A waiter's cancellation does not cancel the shared read."""
        flight = self._flights.get(key)
        if flight is None:
            flight = self._flights[key] = asyncio.ensure_future(read())
            flight.add_done_callback(lambda done: self._landed(key, done))
        return await asyncio.shield(flight)

    def _landed(self, key: tuple[Any, ...], flight: asyncio.Future[Any]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not flight.cancelled():
            flight.exception()  # retrieved: every waiter may have been cancelled meanwhile

    async def _by_id(self, store_id: str, model_id: str) -> TypeSystem:
        if not is_ulid(model_id):
            raise ModelNotFoundError(model_id)
        cached = self._cache.get((store_id, model_id))
        if cached is not None and self._live(store_id):
            self._cache.move_to_end((store_id, model_id))
            return cached
        versions = self._versions
        if versions is None:
            return self._remember(store_id, await self._models.read_model(store_id, model_id))
        key = ("model", store_id, model_id, versions.life_stamp(store_id))
        return await self._shared(key, lambda: self._read_model(store_id, model_id))

    async def _read_model(self, store_id: str, model_id: str) -> TypeSystem:
        versions = self._versions
        assert versions is not None
        life, at = versions.life_stamp(store_id), self._clock()
        stored = await self._models.read_model(store_id, model_id)  # also: the store is live
        entry = self._entry(store_id)
        entry.live_stamp, entry.live_at = life, at
        return self._remember(store_id, stored)

    def _live(self, store_id: str) -> bool:
        """Whether the store is known to be live (always, where deletions cannot be heard of)."""
        versions = self._versions
        if versions is None:
            return True
        entry = self._stores.get(store_id)
        return (
            entry is not None
            and entry.live_stamp == versions.life_stamp(store_id)
            and self._clock() - entry.live_at < versions.max_age_s
        )

    async def _read_latest(self, store_id: str) -> TypeSystem:
        latest = await self._models.read_latest_model(store_id)
        if latest is None:
            raise LatestModelNotFoundError(store_id)
        return self._remember(store_id, latest)

    def _remember(self, store_id: str, stored: StoredModel) -> TypeSystem:
        key = (store_id, stored.id)
        typesystem = self._cache.get(key)
        if typesystem is None:
            typesystem = self._cache[key] = TypeSystem.new(stored.model)
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return typesystem

    def _entry(self, store_id: str) -> _StoreEntry:
        entry = self._stores.get(store_id)
        if entry is None:
            entry = self._stores[store_id] = _StoreEntry()
            if len(self._stores) > self._cache_size:
                self._stores.popitem(last=False)
        else:
            self._stores.move_to_end(store_id)
        return entry


class InvalidAuthorizationModelError(CommandError):
    """The model cannot be stored (OpenFGA ``invalid_authorization_model``)."""

    openfga_name = "invalid_authorization_model"


class UnsupportedSchemaVersionError(CommandError):
    """A ``schema_version`` other than 1.1 / 1.2 (OpenFGA ``invalid_authorization_model``)."""

    openfga_name = "invalid_authorization_model"

    def __init__(self, version: str) -> None:
        super().__init__(f"invalid schema version '{version}': supported versions are 1.1 and 1.2")
        self.version = version


@dataclass(frozen=True, kw_only=True, slots=True)
class WriteAuthorizationModelCommand:
    """Validate a model in OpenFGA's JSON form with OpenFGA's rules and store it under a new ULID.

    Limits come first, as in OpenFGA's write_authzmodel.go: more than ``max_types`` types or a
    model larger than ``max_bytes`` (measured as its compact JSON) is ``exceeded_entity_limit``.
    Shape problems and semantic rule violations are ``invalid_authorization_model`` with every
    issue listed.
    """

    models: ModelStore
    max_types: int = DEFAULT_MAX_TYPES_PER_MODEL
    max_bytes: int = DEFAULT_MAX_MODEL_BYTES

    async def execute(
        self, store_id: str, model_json: dict[str, Any], *, dsl: str = ""
    ) -> StoredModel:
        types = model_json.get("type_definitions")
        if isinstance(types, list) and len(types) > self.max_types:
            raise ExceededEntityLimitError(
                "The number of type definitions in an authorization model exceeds the allowed limit "
                f"of {self.max_types}"
            )
        size = len(msgspec.json.encode(model_json))
        if size > self.max_bytes:
            raise ExceededEntityLimitError(
                f"model exceeds size limit: {size} bytes vs {self.max_bytes} bytes"
            )
        if not types:
            raise InvalidAuthorizationModelError(
                "invalid WriteAuthorizationModelRequest.TypeDefinitions: value must contain at least 1 item(s)"
            )
        _validate_conditions_request(model_json.get("conditions"))
        model = model_from_json(model_json)
        if model.schema_version not in SUPPORTED_SCHEMA_VERSIONS:
            raise UnsupportedSchemaVersionError(model.schema_version)
        TypeSystem.validated(model)
        return await self.models.write_model(store_id, model, dsl=dsl)


_MAX_CONDITIONS_PER_REQUEST = 25


def _validate_conditions_request(conditions: Any) -> None:
    """OpenFGA's request validation rules on conditions, which run before the model is looked at
    (so they are ``validation_error``, not ``invalid_authorization_model``), worded as its
    generated validators word them."""
    if not isinstance(conditions, dict):
        return
    prefix = "invalid WriteAuthorizationModelRequest.Conditions"
    if len(conditions) > _MAX_CONDITIONS_PER_REQUEST:
        raise InvalidInputError(
            f"{prefix}: value must contain no more than {_MAX_CONDITIONS_PER_REQUEST} pair(s)"
        )
    for name, condition in conditions.items():
        expression = condition.get("expression") if isinstance(condition, dict) else None
        if isinstance(expression, str) and len(expression.encode("utf-8")) > MAX_EXPRESSION_BYTES:
            raise InvalidInputError(
                f"{prefix}[{name}]: embedded message failed validation | caused by: invalid "
                f"Condition.Expression: value length must be at most {MAX_EXPRESSION_BYTES} bytes"
            )


@dataclass(frozen=True, kw_only=True, slots=True)
class ReadAuthorizationModelQuery:
    """One stored model by id; ``ModelNotFoundError`` when the store has no such model."""

    models: ModelStore

    async def execute(self, store_id: str, model_id: str) -> StoredModel:
        if not is_ulid(model_id):
            raise ModelNotFoundError(model_id)
        return await self.models.read_model(store_id, model_id)


@dataclass(frozen=True, kw_only=True, slots=True)
class ListAuthorizationModelsQuery:
    """A store's models, newest first (the SDK's read_latest asks for ``page_size=1``)."""

    models: ModelStore

    async def execute(
        self, store_id: str, *, page_size: int | None = None, continuation_token: str = ""
    ) -> Page[StoredModel]:
        size = validate_page("ReadAuthorizationModelsRequest", page_size, continuation_token)
        return await self.models.list_models(
            store_id, page_size=size, continuation_token=continuation_token
        )
