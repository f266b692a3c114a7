"""Wire Structs of the AuthZEN Authorization API 1.0 (field names exactly as the spec's).

Unknown fields are ignored everywhere (the spec: receivers MUST ignore unknown fields), so
``forbid_unknown_fields`` stays off. Request entities have every field optional at the wire
level: which fields are required differs by endpoint (a search ignores the searched entity's id,
an evaluations item may take any field from the defaults), and :mod:`permsvc.api.authzen.convert`
says precisely which one is missing. Types are still checked here: ``"type": 5`` is a 400 naming
the path (``$.subject.type``).

Responses omit what is unset (``omit_defaults``): the spec says null-valued properties SHOULD be
omitted and a successful decision needs no ``context``.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

__all__ = (
    "ActionIn",
    "ActionOut",
    "ActionSearchResponse",
    "DecisionOut",
    "EntityIn",
    "EntityOut",
    "EvaluationRequest",
    "EvaluationsOptions",
    "EvaluationsRequest",
    "EvaluationsResponse",
    "PageIn",
    "PageOut",
    "PdpConfiguration",
    "SearchRequest",
    "SearchResponse",
)


class EntityIn(msgspec.Struct, frozen=True, kw_only=True):
    """A subject or resource: ``type`` and ``id`` strings, free-form ``properties``."""

    type: str | None = None
    id: str | None = None
    properties: dict[str, Any] | None = None


class ActionIn(msgspec.Struct, frozen=True, kw_only=True):
    name: str | None = None
    properties: dict[str, Any] | None = None


class EvaluationRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Access Evaluation; also the shape of one ``evaluations`` item."""

    # Access Evaluations (as its defaults) and the searches start with these fields too.
    subject: EntityIn | None = None
    action: ActionIn | None = None
    resource: EntityIn | None = None
    context: dict[str, Any] | None = None


class EvaluationsOptions(msgspec.Struct, frozen=True, kw_only=True):
    """Batch options; unknown options are ignored."""

    evaluations_semantic: str | None = None


class EvaluationsRequest(EvaluationRequest, frozen=True, kw_only=True):
    """Access Evaluations: top-level defaults, the items, options.

    Items are kept as raw JSON values and converted one by one, so that one malformed item is that
    item's error (200, ``decision: false``) rather than a 400 for the whole batch.
    """

    evaluations: list[Any] | None = None
    options: EvaluationsOptions | None = None


class PageIn(msgspec.Struct, frozen=True, kw_only=True):
    token: str | None = None
    limit: Annotated[int, msgspec.Meta(ge=0)] | None = None
    properties: dict[str, Any] | None = None


class SearchRequest(EvaluationRequest, frozen=True, kw_only=True):
    """Subject, Resource and Action Search (Action Search has no ``action``)."""

    page: PageIn | None = None


class DecisionOut(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    decision: bool
    context: dict[str, Any] | None = None


class EvaluationsResponse(msgspec.Struct, frozen=True, kw_only=True):
    evaluations: list[DecisionOut]


class EntityOut(msgspec.Struct, frozen=True):
    type: str
    id: str


class ActionOut(msgspec.Struct, frozen=True):
    name: str


class PageOut(msgspec.Struct, frozen=True, kw_only=True):
    """``next_token`` is ``""`` on the last page; ``count`` is the number of results in this page."""

    next_token: str
    count: int


class SearchResponse(msgspec.Struct, frozen=True, kw_only=True):
    """Subject and Resource Search; ``page`` first, as the spec recommends."""

    page: PageOut
    results: list[EntityOut]


class ActionSearchResponse(msgspec.Struct, frozen=True, kw_only=True):
    page: PageOut
    results: list[ActionOut]


class PdpConfiguration(msgspec.Struct, frozen=True, kw_only=True):
    """The PDP metadata document (``/.well-known/authzen-configuration``)."""

    policy_decision_point: str
    access_evaluation_endpoint: str
    access_evaluations_endpoint: str
    search_subject_endpoint: str
    search_resource_endpoint: str
    search_action_endpoint: str
