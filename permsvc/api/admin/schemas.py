"""Wire Structs of the admin API. Requests refuse unknown fields; tuples use the import/export
line shape ``{"object", "relation", "user", "condition"?}``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from permsvc.commands.admin import TupleLine

__all__ = (
    "ApiKeyOut",
    "AuditEntryOut",
    "AuditResponse",
    "ChangeResponse",
    "CreateKeyRequest",
    "CreatedKeyResponse",
    "DeleteByFilterRequest",
    "GrantsResponse",
    "ImportErrorResponse",
    "ImportResponse",
    "KeysResponse",
    "ModelDiffResponse",
    "ModelRequest",
    "ModelUploadResponse",
    "ModelValidationResponse",
    "StoredTupleOut",
    "TraceOut",
    "TraceResponse",
    "TuplesRequest",
)


class _In(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    pass


class TuplesRequest(_In, frozen=True):
    """Grant or revoke: one or many tuples, applied as one revision."""

    tuples: list[TupleLine]
    store_id: str | None = None
    authorization_model_id: str = ""
    """Grants are validated against this model; default: the store's latest."""


class DeleteByFilterRequest(_In, frozen=True):
    object: str = ""
    """``type:id`` or ``type:`` (every object of the type)."""
    relation: str = ""
    user: str = ""
    """An exact user: ``user:anne``, ``group:eng#member``, ``user:*``."""
    all: bool = False
    """Required to delete with an empty filter (every tuple of the store)."""
    store_id: str | None = None


class ChangeResponse(msgspec.Struct, frozen=True, kw_only=True):
    store_id: str
    changed: int
    """Tuples actually written or deleted (existing grants and missing revokes are skipped)."""
    revision: int
    consistency_token: str
    audit_id: int | None = None


class StoredTupleOut(msgspec.Struct, frozen=True, kw_only=True):
    object: str
    relation: str
    user: str
    condition: Any = None
    timestamp: dt.datetime


class GrantsResponse(msgspec.Struct, frozen=True, kw_only=True):
    store_id: str
    tuples: list[StoredTupleOut]
    continuation_token: str = ""


class ImportResponse(msgspec.Struct, frozen=True, kw_only=True):
    store_id: str
    lines: int
    imported: int
    revision: int
    consistency_token: str
    authorization_model_id: str
    audit_id: int | None = None


class LineErrorOut(msgspec.Struct, frozen=True):
    line: int
    error: str


class ImportErrorResponse(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    message: str
    lines: int
    failed: int
    errors: list[LineErrorOut]


class ModelRequest(_In, frozen=True):
    """A model as DSL text (``dsl``) or in OpenFGA's JSON form (``model``)."""

    dsl: str = ""
    model: dict[str, Any] | None = None
    store_id: str | None = None
    base_model_id: str = ""
    """Diff against this model; default: the store's latest."""
    force: bool = False
    """Upload even when stored tuples would be orphaned (they stay stored and are ignored)."""


class IssueOut(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    message: str
    line: int = 0
    column: int = 0
    object_type: str = ""
    relation: str = ""


class ModelValidationResponse(msgspec.Struct, frozen=True, kw_only=True):
    valid: bool
    issues: list[IssueOut]
    model: dict[str, Any] | None = None
    """The model in OpenFGA's JSON form, when valid."""


class ModelDiffResponse(msgspec.Struct, frozen=True, kw_only=True):
    store_id: str
    base_model_id: str
    diff: dict[str, Any]
    breaking: bool
    orphaned_tuples: list[TupleLine]
    orphaned_count: int
    tuples_scanned: int


class ModelUploadResponse(msgspec.Struct, frozen=True, kw_only=True):
    store_id: str
    authorization_model_id: str
    diff: ModelDiffResponse
    audit_id: int | None = None


class CreateKeyRequest(_In, frozen=True):
    roles: list[str] | None = None
    """The key's roles: ``check``, ``read``, ``write``, ``admin``, ``claims`` (see docs/security.md)."""
    scope: str | None = None
    """Before roles: one role name. Send ``roles`` instead."""
    store_id: str | None = None
    name: str = ""


class ApiKeyOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    roles: list[str]
    scope: str
    """The roles, space-separated (the field predates roles)."""
    store_id: str | None
    name: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None


class CreatedKeyResponse(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    """The API key. Shown this once: only a hash is stored."""
    info: ApiKeyOut


class KeysResponse(msgspec.Struct, frozen=True, kw_only=True):
    keys: list[ApiKeyOut]


class AuditEntryOut(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    store_id: str
    at: dt.datetime
    actor: str
    actor_kind: str
    action: str
    detail: dict[str, Any]
    request_id: str
    revision: int | None


class AuditResponse(msgspec.Struct, frozen=True, kw_only=True):
    entries: list[AuditEntryOut]
    continuation_token: str = ""


class TraceOut(msgspec.Struct, frozen=True, kw_only=True):
    operation: str
    """``write`` or ``delete``."""
    revision: int
    timestamp: dt.datetime
    audit: list[AuditEntryOut]


class TraceResponse(msgspec.Struct, frozen=True, kw_only=True):
    store_id: str
    tuple: TupleLine
    changes: list[TraceOut]
