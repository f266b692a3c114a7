"""Wire -> domain for the AuthZEN surface: request validation, defaults, and the decision form.

Whole-request problems (a body that is not a JSON object, a missing required entity, a bad
``evaluations_semantic``) are :class:`ApiError` 400s naming the field. In a batch, a problem of
one item is that item's error instead: it becomes ``{"decision": false, "context": {"error":
{"status", "code", "message"}}}`` in place, as the spec's Access Evaluations errors section asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from permsvc.api.authzen import schemas as s
from permsvc.api.errors import ApiError, translate
from permsvc.api.openfga.convert import check_consistency, check_model_id, check_store_id
from permsvc.commands.authzen import (
    AccessRequest,
    Decision,
    Entity,
    EvaluationItem,
    PageRequest,
    SearchParams,
    Semantic,
)
from permsvc.core.refs import ControlCharacterError, reject_control_characters

if TYPE_CHECKING:
    from collections.abc import Mapping

    from permsvc.core.revision import Consistency
    from permsvc.settings import Settings

__all__ = (
    "CONSISTENCY_HEADER",
    "CONSISTENCY_TOKEN_HEADER",
    "MODEL_ID_HEADER",
    "REVISION_HEADER",
    "SEMANTICS",
    "access_request",
    "decision_out",
    "decode_request",
    "evaluation_items",
    "request_consistency",
    "request_ids",
    "require_action",
    "require_entity",
    "search_params",
    "semantic",
)

T = TypeVar("T")

MODEL_ID_HEADER = "Openfga-Authorization-Model-Id"
"""Pins the model of a request, as on OpenFGA's AuthZEN endpoints; absent: the latest model."""
CONSISTENCY_HEADER = "X-Permsvc-Consistency"
CONSISTENCY_TOKEN_HEADER = "X-Permsvc-Consistency-Token"
REVISION_HEADER = "X-Permsvc-Revision"
"""On every answer: the store revision it was computed at."""
EXPLAIN_HEADER = "X-Permsvc-Explain"
"""``true``: each decision also carries ``context.reason_admin`` (``{"en": <why, in one line>}``).
A header rather than a body field: the request's ``context`` is the condition context."""

SEMANTICS: tuple[Semantic, ...] = ("execute_all", "deny_on_first_deny", "permit_on_first_permit")

_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def _invalid(message: str) -> ApiError:
    return ApiError("validation_error", message)


def decode_request(body: bytes, content_type: str | None, kind: type[T]) -> T:
    """The body as ``kind``. The spec's binding is a JSON object with ``Content-Type:
    application/json``; a missing header is tolerated, another media type is not."""
    if content_type:
        media = content_type.split(";", 1)[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            raise _invalid(f"Content-Type must be application/json, got '{media}'")
    if not body.strip():
        raise _invalid("the request body is empty: send a JSON object")
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.json.Decoder(kind)
    try:
        decoded: T = decoder.decode(body)
        return decoded
    except msgspec.ValidationError as err:
        raise _invalid(f"invalid request: {err}") from err
    except msgspec.DecodeError as err:
        raise _invalid(f"invalid request: the body is not valid JSON ({err})") from err
    except RecursionError as err:
        raise _invalid("invalid request: the JSON is nested too deeply") from err


def request_ids(
    settings: Settings, store_id: str | None, headers: Mapping[str, str]
) -> tuple[str, str]:
    """``(store_id, model_id)``: the path's store, else the configured default store."""
    if store_id is None:
        store_id = settings.store
        if not store_id:
            raise ApiError(
                "store_id_not_found",
                "this server has no default store: set PERMSVC_STORE=<store id> and restart, "
                "or use the store-scoped endpoints /stores/{store_id}/access/v1/...",
            )
    check_store_id(store_id, "AuthZEN request")
    model_id = headers.get(MODEL_ID_HEADER.lower(), "")
    check_model_id(model_id, "AuthZEN request", field=MODEL_ID_HEADER)
    return store_id, model_id


def request_consistency(headers: Mapping[str, str]) -> Consistency:
    """The request's consistency, from headers (AuthZEN's wire format has no such field):
    ``X-Permsvc-Consistency`` (``MINIMIZE_LATENCY``, the default, or ``HIGHER_CONSISTENCY``) and
    ``X-Permsvc-Consistency-Token`` (a write's token: answered at its revision or later)."""
    return check_consistency(
        headers.get(CONSISTENCY_HEADER.lower()) or None,
        headers.get(CONSISTENCY_TOKEN_HEADER.lower(), ""),
        "AuthZEN request",
    )


def require_entity(entity: s.EntityIn | None, name: str, *, with_id: bool = True) -> Entity:
    """A subject or resource; ``with_id=False`` for the searched entity, whose id is ignored."""
    if entity is None:
        raise _invalid(f"{name} is required")
    if not entity.type:
        raise _invalid(f"{name}.type is required (a non-empty string)")
    reject_control_characters(f"{name}.type", entity.type)
    if any(c in entity.type for c in ":#") or any(c.isspace() for c in entity.type):
        raise _invalid(f"{name}.type '{entity.type}' may not contain ':', '#' or whitespace")
    if not with_id:
        return Entity(type=entity.type, properties=entity.properties)
    if not entity.id:
        raise _invalid(f"{name}.id is required (a non-empty string)")
    reject_control_characters(f"{name}.id", entity.id)
    return Entity(type=entity.type, id=entity.id, properties=entity.properties)


def require_action(action: s.ActionIn | None) -> s.ActionIn:
    if action is None:
        raise _invalid("action is required")
    if not action.name:
        raise _invalid("action.name is required (a non-empty string)")
    reject_control_characters("action.name", action.name)
    if any(c in action.name for c in ":#@") or any(c.isspace() for c in action.name):
        raise _invalid(f"action.name '{action.name}' may not contain ':', '#', '@' or whitespace")
    return action


def access_request(req: s.EvaluationRequest) -> AccessRequest:
    subject = require_entity(req.subject, "subject")
    action = require_action(req.action)
    return AccessRequest(
        subject=subject,
        action=action.name or "",
        resource=require_entity(req.resource, "resource"),
        action_properties=action.properties,
        context=req.context,
    )


def evaluation_items(req: s.EvaluationsRequest) -> tuple[EvaluationItem, ...]:
    """Each item with the defaults applied: a key present in the item replaces the top-level
    value as a whole (no merging inside ``subject``, ``context`` ...), as certification c-3-2-7
    states."""
    items: list[EvaluationItem] = []
    for index, raw in enumerate(req.evaluations or ()):
        try:
            item = msgspec.convert(raw, s.EvaluationRequest)
        except msgspec.ValidationError as err:
            items.append(EvaluationItem(error=_invalid(f"invalid evaluations[{index}]: {err}")))
            continue
        merged = s.EvaluationRequest(
            subject=item.subject if item.subject is not None else req.subject,
            action=item.action if item.action is not None else req.action,
            resource=item.resource if item.resource is not None else req.resource,
            context=item.context if item.context is not None else req.context,
        )
        try:
            items.append(EvaluationItem(request=access_request(merged)))
        except (ApiError, ControlCharacterError) as err:
            items.append(
                EvaluationItem(error=_invalid(f"invalid evaluations[{index}]: {err.detail}"))
            )
    return tuple(items)


def semantic(options: s.EvaluationsOptions | None) -> Semantic:
    value = options.evaluations_semantic if options is not None else None
    if value is None:
        return "execute_all"
    for known in SEMANTICS:
        if value == known:
            return known
    raise _invalid(
        f"options.evaluations_semantic must be one of {', '.join(SEMANTICS)}; got '{value}'"
    )


def _page_request(page: s.PageIn | None) -> PageRequest:
    if page is None:
        return PageRequest()
    return PageRequest(token=page.token or "", limit=page.limit)


def search_params(req: s.SearchRequest, searched: str) -> SearchParams:
    """A search of ``searched`` (``subject``, ``resource`` or ``action``) without its store: the
    searched entity needs only a type, Action Search ignores ``action``. Fields are checked in
    the order subject, action, resource, so the first missing one is the one reported."""
    subject = require_entity(req.subject, "subject", with_id=searched != "subject")
    action = require_action(req.action) if searched != "action" else s.ActionIn()
    return SearchParams(
        store_id="",
        subject=subject,
        resource=require_entity(req.resource, "resource", with_id=searched != "resource"),
        action=action.name or "",
        action_properties=action.properties,
        context=req.context,
        page=_page_request(req.page),
    )


def wants_explanation(headers: Mapping[str, str]) -> bool:
    """Whether the request asks for ``reason_admin`` (:data:`EXPLAIN_HEADER`); any value but
    ``true`` / ``false`` (case-insensitive) is a 400."""
    value = headers.get(EXPLAIN_HEADER)
    if value is None:
        return False
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise ApiError(
            "validation_error", f"{EXPLAIN_HEADER} must be 'true' or 'false', got {value!r}"
        )
    return lowered == "true"


def decision_out(decision: Decision) -> s.DecisionOut:
    """The wire decision; an item error goes into ``context.error`` (fail closed).

    A server fault is not an item error: it is re-raised, so the request fails with 5xx rather
    than dressing an outage up as a denial.
    """
    if decision.error is None:
        if decision.reason:
            return s.DecisionOut(
                decision=decision.allowed, context={"reason_admin": {"en": decision.reason}}
            )
        return s.DecisionOut(decision=decision.allowed)
    status, body, _ = translate(decision.error)
    if status >= 500 and body.code in ("internal_error", "unavailable"):
        raise decision.error
    return s.DecisionOut(
        decision=False,
        context={"error": {"status": status, "code": body.code, "message": body.message}},
    )
