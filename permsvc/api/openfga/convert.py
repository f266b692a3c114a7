"""Wire -> domain for the OpenFGA surface: request validation worded as OpenFGA's, and conversions.

OpenFGA validates requests with protoc-gen-validate rules before any command runs; the messages
here follow that validator's wording (``invalid CheckRequestTupleKey.Object: value does not match
regex pattern "..."``) so error text a client logs reads the same against either server.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from permsvc.api.errors import ApiError
from permsvc.core.refs import TupleCondition, TupleKey, reject_control_characters
from permsvc.core.revision import MINIMIZE_LATENCY, Consistency
from permsvc.model.json import model_to_json
from permsvc.store.protocol import Assertion

if TYPE_CHECKING:
    from permsvc.api.openfga.schemas import (
        AssertionIn,
        ContextualTupleKeys,
        TupleKeyIn,
    )
    from permsvc.store.protocol import StoredModel

__all__ = (
    "CONSISTENCY_NAMES",
    "ID_PATTERN",
    "assertion_from_wire",
    "check_consistency",
    "check_model_id",
    "check_store_id",
    "contextual_tuples",
    "decode_body",
    "decoders",
    "model_to_wire",
    "parse_start_time",
    "require_pattern",
    "tuple_from_wire",
)

T = TypeVar("T")

ID_PATTERN = "^[ABCDEFGHJKMNPQRSTVWXYZ0-9]{26}$"
_ID = re.compile(ID_PATTERN)

CONSISTENCY_NAMES = {
    "": "UNSPECIFIED",
    "UNSPECIFIED": "UNSPECIFIED",
    "CONSISTENCY_UNSPECIFIED": "UNSPECIFIED",
    "MINIMIZE_LATENCY": "MINIMIZE_LATENCY",
    "HIGHER_CONSISTENCY": "HIGHER_CONSISTENCY",
    0: "UNSPECIFIED",
    100: "MINIMIZE_LATENCY",
    200: "HIGHER_CONSISTENCY",
}
"""``ConsistencyPreference`` names and numbers -> the canonical name."""

_PATTERNS: dict[str, re.Pattern[str]] = {}


def _invalid(message: str, code: str = "validation_error") -> ApiError:
    return ApiError(code, message)


def decoders(*kinds: type[Any]) -> dict[type[Any], msgspec.json.Decoder[Any]]:
    """A decoder per request type, for :func:`decode_body`: built once, at import (msgspec's
    advice), by each route group for its request types."""
    return {kind: msgspec.json.Decoder(kind) for kind in kinds}


def decode_body(decoder: msgspec.json.Decoder[T], body: bytes, request: str) -> T:
    """Decode a JSON body; an empty body is ``{}`` (as grpc-gateway treats it)."""
    try:
        return decoder.decode(body or b"{}")
    except msgspec.ValidationError as err:
        raise _invalid(f"invalid {request}: {err}") from err
    except msgspec.DecodeError as err:
        raise _invalid(f"invalid {request}: the body is not valid JSON ({err})") from err
    except RecursionError as err:
        raise _invalid(f"invalid {request}: the JSON body is nested too deeply") from err


def require_pattern(
    value: str, pattern: str, field: str, *, code: str = "validation_error"
) -> None:
    """``value`` must match ``pattern`` (OpenFGA's validate rule for ``field``). A control
    character is refused first, as such (``ControlCharacterError``, ``validation_error``): the
    patterns would refuse only the whitespace ones, and only with a vague message."""
    reject_control_characters(field, value)
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        compiled = _PATTERNS[pattern] = re.compile(pattern)
    if not compiled.match(value):
        raise _invalid(f'invalid {field}: value does not match regex pattern "{pattern}"', code)


def check_store_id(store_id: str, request: str) -> None:
    if not _ID.match(store_id):
        raise _invalid(
            f'invalid {request}.StoreId: value does not match regex pattern "{ID_PATTERN}"'
        )


def check_model_id(model_id: str, request: str, *, field: str = "AuthorizationModelId") -> None:
    """An optional model id: empty (the latest model) or a ULID."""
    if model_id and not _ID.match(model_id):
        raise _invalid(
            f'invalid {request}.{field}: value does not match regex pattern "{ID_PATTERN}"'
        )


def check_consistency(value: str | int | None, token: str, request: str) -> Consistency:
    """The request's :class:`Consistency` from OpenFGA's ``consistency`` (by name or number) and
    permsvc's optional ``consistency_token``; the token itself is checked by the command."""
    name = CONSISTENCY_NAMES.get(value if value is not None else "")
    if name is None:
        raise _invalid(
            f"invalid {request}.Consistency: value must be one of UNSPECIFIED, MINIMIZE_LATENCY, "
            f"HIGHER_CONSISTENCY (got {value!r})"
        )
    if len(token) > _MAX_TOKEN:
        raise _invalid(
            f"invalid {request}.ConsistencyToken: value length must be at most {_MAX_TOKEN} bytes"
        )
    if name == "HIGHER_CONSISTENCY":
        return Consistency(level="HIGHER_CONSISTENCY", token=token)
    return Consistency(token=token) if token else MINIMIZE_LATENCY


_MAX_TOKEN = 200


_USER = r"^[^\s]{2,512}$"
_RELATION = r"^[^:#@\s]{1,50}$"
_OBJECT = r"^[^\s]{2,256}$"


def check_tuple_fields(user: str, relation: str, obj: str, message: str) -> None:
    """The CheckRequestTupleKey rules (also TupleKey and AssertionTupleKey). Control characters
    are named as such first (see :func:`require_pattern`)."""
    require_pattern(user, _USER, f"{message}.User")
    require_pattern(relation, _RELATION, f"{message}.Relation")
    require_pattern(obj, _OBJECT, f"{message}.Object")


def tuple_from_wire(key: TupleKeyIn, message: str = "TupleKey") -> TupleKey:
    check_tuple_fields(key.user, key.relation, key.object, message)
    condition = None
    if key.condition is not None:
        if not key.condition.name:
            raise _invalid(f"invalid {message}.Condition: the condition name is required")
        condition = TupleCondition(name=key.condition.name, context=key.condition.context or None)
    return TupleKey(object=key.object, relation=key.relation, user=key.user, condition=condition)


MAX_CONTEXTUAL_TUPLES = 100


def contextual_tuples(
    value: ContextualTupleKeys | list[TupleKeyIn] | None, *, limit: int = MAX_CONTEXTUAL_TUPLES
) -> tuple[TupleKey, ...]:
    """Contextual tuples in either shape (``{"tuple_keys":[...]}`` or a plain array)."""
    if value is None:
        return ()
    keys = value if isinstance(value, list) else (value.tuple_keys or [])
    if len(keys) > limit:
        raise _invalid(
            f"invalid ContextualTupleKeys.TupleKeys: value must contain no more than {limit} item(s)",
            "exceeded_entity_limit",
        )
    return tuple(tuple_from_wire(k) for k in keys)


def assertion_from_wire(item: AssertionIn, index: int) -> Assertion:
    tk = item.tuple_key
    if tk is None:
        raise _invalid(
            f"invalid WriteAssertionsRequest.Assertions[{index}]: embedded message failed validation "
            "| caused by: invalid Assertion.TupleKey: value is required"
        )
    check_tuple_fields(tk.user, tk.relation, tk.object, "AssertionTupleKey")
    return Assertion(
        tuple_key=TupleKey(object=tk.object, relation=tk.relation, user=tk.user),
        expectation=item.expectation,
        contextual_tuples=contextual_tuples(item.contextual_tuples),
        context=item.context or {},
    )


def parse_start_time(value: str) -> dt.datetime | None:
    """RFC 3339 ``start_time`` of ReadChanges (empty = not given)."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as err:
        raise _invalid(
            f"invalid ReadChangesRequest.StartTime: '{value}' is not an RFC 3339 timestamp"
        ) from err
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def model_to_wire(stored: StoredModel) -> dict[str, Any]:
    """A stored model in OpenFGA's response form, zero-valued parts included (EmitUnpopulated)."""
    out = model_to_json(stored.model, include_id=True)
    out["id"] = stored.id
    for td in out["type_definitions"]:
        td.setdefault("relations", {})
        td.setdefault("metadata", None)
    out.setdefault("conditions", {})
    return out
