"""OpenFGA wire Structs (openfga/api openfga_service.proto), field names exactly as on the wire.

Decoding follows OpenFGA's gateway (protojson with ``DiscardUnknown``): unknown fields are ignored,
32-bit integers may come as JSON numbers or strings (``"page_size":"25"``),
and every field may be absent or ``null`` (``"contextual_tuples":{"tuple_keys":null}``,
``"authorization_model_id":""`` - both sent by the fga CLI). Required fields are therefore
declared with zero-value defaults and checked by :mod:`permsvc.api.openfga.validation`, which
words its errors as OpenFGA's validator does. Types are strict (a number where a string belongs is
``validation_error``); enums are accepted by name or number.

Encoding follows ``EmitUnpopulated``: every field is present with its zero value
(``"continuation_token":""``, ``"condition":null``), except members of a proto ``oneof``, which
appear only when set (those Structs use ``omit_defaults``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

__all__ = (
    "AssertionIn",
    "AssertionOut",
    "AssertionTupleKey",
    "AssertionTupleKeyOut",
    "BatchCheckItem",
    "BatchCheckRequest",
    "BatchCheckResponse",
    "BatchCheckSingleResult",
    "CheckError",
    "CheckRequest",
    "CheckRequestTupleKey",
    "CheckResponse",
    "ConditionOut",
    "ContextualTupleKeys",
    "CreateStoreRequest",
    "CreateStoreResponse",
    "ExpandRequest",
    "ExpandRequestTupleKey",
    "ExpandResponse",
    "FgaObject",
    "FgaObjectOut",
    "ListObjectsRequest",
    "ListObjectsResponse",
    "ListStoresResponse",
    "ListUsersRequest",
    "ListUsersResponse",
    "ReadAssertionsResponse",
    "ReadAuthorizationModelResponse",
    "ReadAuthorizationModelsResponse",
    "ReadChangesResponse",
    "ReadRequest",
    "ReadRequestTupleKey",
    "ReadResponse",
    "RelationshipCondition",
    "Store",
    "StreamedListObjectsResponse",
    "StreamedListObjectsResult",
    "Tuple",
    "TupleChange",
    "TupleKeyIn",
    "TupleKeyOut",
    "TypedWildcard",
    "User",
    "UserTypeFilter",
    "UsersetUser",
    "WireConsistency",
    "WriteAssertionsRequest",
    "WriteAuthorizationModelResponse",
    "WriteRequest",
    "WriteRequestDeletes",
    "WriteRequestWrites",
    "WriteResponse",
)

WireConsistency = str | int | None
"""``ConsistencyPreference`` by name (``HIGHER_CONSISTENCY``) or number (200)."""


class _In(msgspec.Struct, kw_only=True, frozen=True):
    """Base of request Structs: unknown fields are ignored, as by OpenFGA's gateway."""


# -- tuples ------------------------------------------------------------------------------------


class RelationshipCondition(_In, frozen=True):
    name: str = ""
    context: dict[str, Any] | None = None


class TupleKeyIn(_In, frozen=True):
    user: str = ""
    relation: str = ""
    object: str = ""
    condition: RelationshipCondition | None = None


class ContextualTupleKeys(_In, frozen=True):
    tuple_keys: list[TupleKeyIn] | None = None


class ConditionOut(msgspec.Struct, frozen=True):
    name: str
    context: dict[str, Any] | None


class TupleKeyOut(msgspec.Struct, frozen=True):
    user: str
    relation: str
    object: str
    condition: ConditionOut | None = None


class Tuple(msgspec.Struct, frozen=True):
    key: TupleKeyOut
    timestamp: dt.datetime


class TupleChange(msgspec.Struct, frozen=True):
    tuple_key: TupleKeyOut
    operation: str
    timestamp: dt.datetime


# -- stores ------------------------------------------------------------------------------------


class CreateStoreRequest(_In, frozen=True):
    name: str = ""


class CreateStoreResponse(msgspec.Struct, frozen=True):
    id: str
    name: str
    created_at: dt.datetime
    updated_at: dt.datetime


class Store(msgspec.Struct, frozen=True):
    id: str
    name: str
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None = None


class ListStoresResponse(msgspec.Struct, frozen=True):
    stores: list[Store]
    continuation_token: str = ""


# -- models ------------------------------------------------------------------------------------


class WriteAuthorizationModelResponse(msgspec.Struct, frozen=True):
    authorization_model_id: str


class ReadAuthorizationModelResponse(msgspec.Struct, frozen=True):
    authorization_model: dict[str, Any]


class ReadAuthorizationModelsResponse(msgspec.Struct, frozen=True):
    authorization_models: list[dict[str, Any]]
    continuation_token: str = ""


# -- write / read / changes ----------------------------------------------------------------------


class WriteRequestWrites(_In, frozen=True):
    tuple_keys: list[TupleKeyIn] | None = None
    on_duplicate: str = ""


class WriteRequestDeletes(_In, frozen=True):
    tuple_keys: list[TupleKeyIn] | None = None
    on_missing: str = ""


class WriteRequest(_In, frozen=True):
    writes: WriteRequestWrites | None = None
    deletes: WriteRequestDeletes | None = None
    authorization_model_id: str = ""


class WriteResponse(msgspec.Struct, frozen=True):
    """``{}``."""


class ReadRequestTupleKey(_In, frozen=True):
    user: str = ""
    relation: str = ""
    object: str = ""


class ReadRequest(_In, frozen=True):
    tuple_key: ReadRequestTupleKey | None = None
    page_size: int | str | None = None
    continuation_token: str = ""
    consistency: WireConsistency = None
    consistency_token: str = ""


class ReadResponse(msgspec.Struct, frozen=True):
    tuples: list[Tuple]
    continuation_token: str = ""


class ReadChangesResponse(msgspec.Struct, frozen=True):
    changes: list[TupleChange]
    continuation_token: str = ""


# -- queries -----------------------------------------------------------------------------------


class CheckRequestTupleKey(_In, frozen=True):
    user: str = ""
    relation: str = ""
    object: str = ""


class CheckRequest(_In, frozen=True):
    tuple_key: CheckRequestTupleKey | None = None
    contextual_tuples: ContextualTupleKeys | None = None
    authorization_model_id: str = ""
    trace: bool = False
    context: dict[str, Any] | None = None
    consistency: WireConsistency = None
    consistency_token: str = ""


class CheckResponse(msgspec.Struct, frozen=True):
    allowed: bool
    resolution: str = ""


class BatchCheckItem(_In, frozen=True):
    tuple_key: CheckRequestTupleKey | None = None
    contextual_tuples: ContextualTupleKeys | None = None
    context: dict[str, Any] | None = None
    correlation_id: str = ""


class BatchCheckRequest(_In, frozen=True):
    checks: list[BatchCheckItem] | None = None
    authorization_model_id: str = ""
    context: dict[str, Any] | None = None
    consistency: WireConsistency = None
    consistency_token: str = ""


class CheckError(msgspec.Struct, frozen=True, omit_defaults=True):
    """``oneof code {input_error, internal_error}`` plus ``message``."""

    input_error: str | None = None
    internal_error: str | None = None
    message: str = ""


class BatchCheckSingleResult(msgspec.Struct, frozen=True, omit_defaults=True):
    """``oneof check_result {allowed, error}``: exactly one is present."""

    allowed: bool | None = None
    error: CheckError | None = None


class BatchCheckResponse(msgspec.Struct, frozen=True):
    result: dict[str, BatchCheckSingleResult]


class ExpandRequestTupleKey(_In, frozen=True):
    relation: str = ""
    object: str = ""


class ExpandRequest(_In, frozen=True):
    tuple_key: ExpandRequestTupleKey | None = None
    authorization_model_id: str = ""
    contextual_tuples: ContextualTupleKeys | None = None
    consistency: WireConsistency = None
    consistency_token: str = ""


class ExpandResponse(msgspec.Struct, frozen=True):
    tree: dict[str, Any]


class ListObjectsRequest(_In, frozen=True):
    """OpenFGA's request plus ``page_size`` / ``continuation_token`` (permsvc paginates where
    OpenFGA truncates; OpenFGA clients never send them and get the first page, up to 1000)."""

    authorization_model_id: str = ""
    type: str = ""
    relation: str = ""
    user: str = ""
    contextual_tuples: ContextualTupleKeys | None = None
    context: dict[str, Any] | None = None
    consistency: WireConsistency = None
    consistency_token: str = ""
    page_size: int | str | None = None
    continuation_token: str = ""


class ListObjectsResponse(msgspec.Struct, frozen=True):
    objects: list[str]


class StreamedListObjectsResponse(msgspec.Struct, frozen=True):
    object: str


class StreamedListObjectsResult(msgspec.Struct, frozen=True):
    """One NDJSON line of StreamedListObjects: ``{"result":{"object":"document:1"}}``."""

    result: StreamedListObjectsResponse


class FgaObject(_In, frozen=True):
    type: str = ""
    id: str = ""


class UserTypeFilter(_In, frozen=True):
    type: str = ""
    relation: str = ""


class ListUsersRequest(_In, frozen=True):
    authorization_model_id: str = ""
    object: FgaObject | None = None
    relation: str = ""
    user_filters: list[UserTypeFilter] | None = None
    contextual_tuples: list[TupleKeyIn] | ContextualTupleKeys | None = None
    context: dict[str, Any] | None = None
    consistency: WireConsistency = None
    consistency_token: str = ""


class UsersetUser(msgspec.Struct, frozen=True):
    type: str
    id: str
    relation: str


class TypedWildcard(msgspec.Struct, frozen=True):
    type: str


class FgaObjectOut(msgspec.Struct, frozen=True):
    type: str
    id: str


class User(msgspec.Struct, frozen=True, omit_defaults=True):
    """``oneof user {object, userset, wildcard}``: exactly one is present."""

    object: FgaObjectOut | None = None
    userset: UsersetUser | None = None
    wildcard: TypedWildcard | None = None


class ListUsersResponse(msgspec.Struct, frozen=True):
    users: list[User]


# -- assertions --------------------------------------------------------------------------------


class AssertionTupleKey(_In, frozen=True):
    object: str = ""
    relation: str = ""
    user: str = ""


class AssertionIn(_In, frozen=True):
    tuple_key: AssertionTupleKey | None = None
    expectation: bool = False
    contextual_tuples: list[TupleKeyIn] | ContextualTupleKeys | None = None
    context: dict[str, Any] | None = None


class WriteAssertionsRequest(_In, frozen=True):
    assertions: list[AssertionIn] | None = None


class AssertionTupleKeyOut(msgspec.Struct, frozen=True):
    object: str
    relation: str
    user: str


class AssertionOut(msgspec.Struct, frozen=True):
    tuple_key: AssertionTupleKeyOut
    expectation: bool
    contextual_tuples: list[TupleKeyOut]
    context: dict[str, Any] | None


class ReadAssertionsResponse(msgspec.Struct, frozen=True):
    authorization_model_id: str
    assertions: list[AssertionOut]
