"""ClaimSummaryQuery: the permission summary of one user for a token (the claim feed); the
per-store claim-spec commands (put, get, delete) and :class:`ClaimSpecResolver`.

One ListObjects per summarised ``type#relation``, all against the same model and at revisions no
older than the first one's, which is the revision the summary is stamped with: every write up to
it is reflected (later ones may be, too). Each listing asks for one page of at most
``budget // 4 + 1`` objects and stops once its ids alone pass the byte budget -- such an entry
could never be kept -- so a user with a huge grant costs no more than the budget's worth of
objects. A relation the engine cannot list without request context (a conditional grant whose
parameters come with the request) or within its limits is left out like an oversized one.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import msgspec

from permsvc.claims.errors import ClaimSpecModelError
from permsvc.claims.spec import ClaimSpec, ClaimVariant, parse_claim_spec, split_relation_key
from permsvc.claims.summarize import EncodedSummary, breadth_levels, encode_summary
from permsvc.commands.errors import LatestModelNotFoundError
from permsvc.commands.list_objects import ListObjectsParams, ListObjectsQuery
from permsvc.commands.models import ModelResolver
from permsvc.commands.prepare import EngineQuery
from permsvc.core.revision import MINIMIZE_LATENCY, Consistency, encode_token
from permsvc.engine.errors import EngineError
from permsvc.model.typesystem import TypeSystem
from permsvc.store.protocol import ClaimSpecStore, StoreAdmin, StoredClaimSpec

__all__ = (
    "ClaimSpecResolver",
    "ClaimSummaryParams",
    "ClaimSummaryQuery",
    "DeleteClaimSpecCommand",
    "GetClaimSpecQuery",
    "PutClaimSpecCommand",
    "check_spec_against_model",
)


class ClaimSummaryParams(msgspec.Struct, frozen=True, kw_only=True):
    store_id: str
    user_id: str
    """The identity provider's user id (``auth0|42``); the subject is ``<subject_type>:<user_id>``."""
    spec: ClaimSpec
    audience: str | None = None
    consistency: Consistency = MINIMIZE_LATENCY


def check_spec_against_model(variant: ClaimVariant, typesystem: TypeSystem) -> None:
    """Raise :class:`ClaimSpecModelError` naming every key the model does not define."""
    missing: list[tuple[str, str]] = []
    if not typesystem.has_type(variant.subject_type):
        missing.append(
            (
                variant.subject_type,
                f"subject type {variant.subject_type!r} is not a type of the model",
            )
        )
    for key in variant.relations:
        object_type, relation = split_relation_key(key)
        if not typesystem.has_type(object_type):
            missing.append((key, f"type {object_type!r} is not defined"))
        elif typesystem.get_relation(object_type, relation) is None:
            defined = ", ".join(sorted(typesystem.relations_of(object_type))) or "none"
            missing.append(
                (key, f"type {object_type!r} has no relation {relation!r} (it has: {defined})")
            )
    if missing:
        raise ClaimSpecModelError(missing, model_id=typesystem.model_id)


class ClaimSummaryQuery(EngineQuery):
    """Errors: :class:`ClaimSpecModelError` when the spec does not fit the store's latest model,
    ``LatestModelNotFoundError`` when the store has none, ``InvalidInputError`` for an unusable
    user id, and the errors of ListObjects."""

    @functools.cached_property
    def _list_objects(self) -> ListObjectsQuery:
        """The listings a summary is made of, through this query's reader and bounds."""
        return ListObjectsQuery(reader=self._reader, resolver=self._resolver, limits=self._limits)

    async def execute(self, params: ClaimSummaryParams) -> EncodedSummary:
        variant = params.spec.variant_for(params.audience)
        typesystem = await self._resolver.resolve(params.store_id, consistency=params.consistency)
        check_spec_against_model(variant, typesystem)
        listing = _Listing(
            store_id=params.store_id,
            model_id=typesystem.model_id,
            user=f"{variant.subject_type}:{params.user_id}",
            budget=variant.budget_bytes,
            # n ids encode to at least 4n - 1 bytes ('"a",' each), so a full page of
            # budget // 4 + 1 ids can never fit: one page per relation is all a summary needs.
            page_size=min(variant.budget_bytes // 4 + 1, self._limits.list_max_results),
        )
        consistency = params.consistency
        revision: int | None = None
        objects: dict[str, list[str] | None] = {}
        for key in variant.relations:
            objects[key], listed_at = await self._list(listing, key, consistency)
            if revision is None and listed_at is not None:
                revision = listed_at
                consistency = Consistency(token=encode_token(params.store_id, revision))
        levels = breadth_levels(typesystem, variant.relations)
        return encode_summary(variant, revision or 0, objects, levels)

    async def _list(
        self, listing: _Listing, key: str, consistency: Consistency
    ) -> tuple[list[str] | None, int | None]:
        """The ids of ``key``'s objects (``None``: more than the budget holds, or not listable)
        and the revision of the first page."""
        object_type, relation = split_relation_key(key)
        prefix = len(object_type) + 1
        ids: list[str] = []
        size = 0
        token = ""
        revision: int | None = None
        try:
            while True:
                page = await self._list_objects.execute(
                    ListObjectsParams(
                        store_id=listing.store_id,
                        type=object_type,
                        relation=relation,
                        user=listing.user,
                        model_id=listing.model_id,
                        consistency=consistency,
                        page_size=listing.page_size,
                        continuation_token=token,
                    )
                )
                revision = page.revision if revision is None else revision
                for obj in page.objects:
                    ids.append(obj[prefix:])
                    size += len(obj) - prefix + 3  # quotes and comma
                if size > listing.budget:
                    return None, revision
                token = page.continuation_token
                if not token:
                    return ids, revision
        except EngineError:
            # A grant whose condition needs request context, or a relation too complex to list
            # within the engine's limits: the summary cannot decide it, so it is left out (and
            # named in "d") for the check API, which has the context.
            return None, revision


class _Listing(msgspec.Struct, frozen=True, kw_only=True):
    store_id: str
    model_id: str
    user: str
    budget: int
    page_size: int


@dataclass(frozen=True, kw_only=True, slots=True)
class PutClaimSpecCommand:
    """Validate a spec against the store's latest model (when it has one) and store it.

    Errors: ``NotFoundError`` for an unknown store, :class:`ClaimSpecModelError` when a variant
    names relations the model lacks. A store without a model accepts any valid spec; it is
    checked again whenever a summary is computed.
    """

    stores: StoreAdmin
    specs: ClaimSpecStore
    resolver: ModelResolver

    async def execute(self, store_id: str, spec: ClaimSpec) -> StoredClaimSpec:
        await self.stores.get_store(store_id)
        try:
            typesystem = await self.resolver.resolve(store_id)
        except LatestModelNotFoundError:
            typesystem = None
        if typesystem is not None:
            for audience in (None, *spec.audiences):
                check_spec_against_model(spec.variant_for(audience), typesystem)
        document = json.dumps(spec.to_document(), separators=(",", ":"), ensure_ascii=False)
        return await self.specs.put_claim_spec(store_id, document)


@dataclass(frozen=True, kw_only=True, slots=True)
class GetClaimSpecQuery:
    specs: ClaimSpecStore

    async def execute(self, store_id: str) -> StoredClaimSpec | None:
        return await self.specs.get_claim_spec(store_id)


@dataclass(frozen=True, kw_only=True, slots=True)
class DeleteClaimSpecCommand:
    specs: ClaimSpecStore

    async def execute(self, store_id: str) -> bool:
        return await self.specs.delete_claim_spec(store_id)


class ClaimSpecResolver:
    """The spec a store's summaries use: its own (from the :class:`ClaimSpecStore`), else the
    server's default. Parsed specs are cached by document text, so a stored spec is read (one
    primary-key lookup) but parsed once."""

    def __init__(self, *, specs: ClaimSpecStore | None, default: ClaimSpec | None) -> None:
        self._specs = specs
        self.default = default
        self._parsed: dict[str, ClaimSpec] = {}

    async def resolve(self, store_id: str) -> ClaimSpec | None:
        stored = await self._specs.get_claim_spec(store_id) if self._specs is not None else None
        if stored is None:
            return self.default
        spec = self._parsed.get(stored.document)
        if spec is None:
            if len(self._parsed) > 256:
                self._parsed.clear()
            spec = self._parsed[stored.document] = parse_claim_spec(
                json.loads(stored.document), source=f"the claim spec of store {store_id}"
            )
        return spec
