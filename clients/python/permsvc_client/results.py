"""Typed answers of permsvc's /v1 routes (plain dataclasses: no dependency beyond httpx).

Every answer says whom and where it was about and which store revision answered it; pass its
``consistency_token`` to a later request to be answered at that revision or later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = (
    "Answered",
    "BatchCheckResult",
    "BatchItem",
    "Check",
    "CheckResult",
    "ClaimsResult",
    "ItemError",
    "ObjectsPage",
    "RelationsResult",
    "TupleChange",
)


@dataclass(frozen=True, slots=True)
class Check:
    """One question of a batch: may the user ``relation`` the ``object``?"""

    relation: str
    object: str
    correlation_id: str = ""
    context: dict[str, Any] | None = None
    contextual_tuples: list[dict[str, Any]] | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"relation": self.relation, "object": self.object}
        if self.correlation_id:
            body["correlation_id"] = self.correlation_id
        if self.context is not None:
            body["context"] = self.context
        if self.contextual_tuples is not None:
            body["contextual_tuples"] = self.contextual_tuples
        return body


@dataclass(frozen=True, slots=True, kw_only=True)
class Answered:
    user: str
    store_id: str
    authorization_model_id: str
    revision: int
    consistency_token: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult(Answered):
    allowed: bool
    object: str
    relation: str
    source: str = "check"
    """``"check"`` (permsvc answered) or ``"claim"`` (the token's permission summary answered)."""

    def __bool__(self) -> bool:
        return self.allowed


@dataclass(frozen=True, slots=True)
class ItemError:
    code: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchItem:
    correlation_id: str
    object: str
    relation: str
    allowed: bool
    error: ItemError | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchCheckResult(Answered):
    results: list[BatchItem]

    def allowed(self) -> list[bool]:
        """Each item's decision, in request order (an item that failed counts as denied)."""
        return [item.allowed and item.error is None for item in self.results]

    @property
    def all_allowed(self) -> bool:
        return all(self.allowed())


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectsPage(Answered):
    objects: list[str]
    continuation_token: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RelationsResult(Answered):
    object: str
    relations: list[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimsResult:
    """``POST /v1/claims``: the claim(s) a token for this user and audience would carry."""

    claims: dict[str, Any]
    revision: int
    truncated: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class TupleChange:
    """A grant, revoke or delete through the admin API, applied as one revision."""

    store_id: str
    changed: int
    revision: int
    consistency_token: str
    audit_id: int | None = field(default=None)
