"""Helpers every backend shares: the column form of a tuple, OpenFGA's write-error wording, and the
continuation-token payloads of the SQL backends.

A tuple is stored as ``object_type, object_id, relation, user_type, user_id, user_relation``
(``user_relation`` is ``''`` unless the user is a userset) plus an optional condition name and
JSON context. Splitting the user lets the forward index (object#relation -> users) and the
reverse index (user -> objects) be plain b-tree prefixes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from permsvc.core.refs import TupleCondition, TupleKey, split_object
from permsvc.core.revision import Revision
from permsvc.model.json import model_from_json, model_to_json
from permsvc.model.schema import AuthorizationModel
from permsvc.store.errors import InvalidContinuationTokenError, TupleConditionConflictError
from permsvc.store.protocol import Assertion, ManyKeys, ManyReads
from permsvc.store.tokens import decode_page_token, encode_page_token

__all__ = (
    "TupleColumns",
    "changes_token",
    "condition_conflict",
    "decode_assertions",
    "decode_changes_token",
    "decode_context",
    "decode_model",
    "describe_tuple",
    "encode_assertions",
    "encode_context",
    "encode_model",
    "exists_message",
    "from_micros",
    "identity_key",
    "key_from_columns",
    "many_reads",
    "missing_message",
    "read_many_params",
    "split_filter_user",
    "to_columns",
    "to_micros",
)

TupleColumns = tuple[str, str, str, str, str, str]
"""``(object_type, object_id, relation, user_type, user_id, user_relation)``."""

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_assertions_decoder = msgspec.json.Decoder(list[Assertion])


def describe_tuple(key: TupleKey) -> str:
    """OpenFGA's wording for a tuple inside write errors."""
    return f"user: '{key.user}', relation: '{key.relation}', object: '{key.object}'"


def exists_message(key: TupleKey) -> str:
    return (
        f"cannot write a tuple which already exists: {describe_tuple(key)}: "
        "tuple to be written already existed or the tuple to be deleted did not exist"
    )


def missing_message(key: TupleKey) -> str:
    return (
        f"cannot delete a tuple which does not exist: {describe_tuple(key)}: "
        "tuple to be written already existed or the tuple to be deleted did not exist"
    )


def condition_conflict(key: TupleKey) -> TupleConditionConflictError:
    return TupleConditionConflictError(
        f"attempted to write a tuple that already exists with a different condition: {describe_tuple(key)}"
    )


def _split_user(user: str) -> tuple[str, str, str]:
    obj, sep, relation = user.rpartition("#")
    if not sep:
        obj, relation = user, ""
    user_type, _, user_id = obj.partition(":")
    return user_type, user_id, relation


def to_columns(key: TupleKey) -> TupleColumns:
    """The identity columns of ``key``. The caller has validated the strings (``type:id`` forms)."""
    object_type, object_id = split_object(key.object)
    user_type, user_id, user_relation = _split_user(key.user)
    return (object_type, object_id, key.relation, user_type, user_id, user_relation)


def split_filter_user(user: str) -> tuple[str, str, str]:
    """The user columns a Read filter's exact ``user`` string matches."""
    return _split_user(user)


def encode_context(condition: TupleCondition | None) -> str | None:
    """The stored JSON of a condition's context, keys sorted so equal contexts store equal text."""
    if condition is None or condition.context is None:
        return None
    return msgspec.json.encode(condition.context, order="sorted").decode()


def decode_context(raw: str | None) -> dict[str, Any] | None:
    return None if raw is None else msgspec.json.decode(raw)


def key_from_columns(
    object_type: str,
    object_id: str,
    relation: str,
    user_type: str,
    user_id: str,
    user_relation: str,
    condition_name: str | None,
    condition_context: str | None,
) -> TupleKey:
    user = f"{user_type}:{user_id}#{user_relation}" if user_relation else f"{user_type}:{user_id}"
    condition = (
        None
        if condition_name is None
        else TupleCondition(name=condition_name, context=decode_context(condition_context))
    )
    return TupleKey(
        object=f"{object_type}:{object_id}", relation=relation, user=user, condition=condition
    )


def read_many_params(keys: ManyKeys) -> tuple[str, str, str]:
    """The keys of :meth:`~permsvc.store.protocol.MultiKeyTupleReader.read_many` as the three JSON
    arrays the SQL backends' ``READ_MANY`` takes: ``users`` as identity columns (as
    :func:`to_columns`), the others as ``[object_type, object_id, relation]``."""
    encode = msgspec.json.encode
    return (
        encode(
            [to_columns(TupleKey(object=o, relation=r, user=u)) for o, r, u in keys.users]
        ).decode(),
        encode([(*o.partition(":")[::2], r) for o, r in keys.usersets]).decode(),
        encode([(*o.partition(":")[::2], r) for o, r in keys.object_relations]).decode(),
    )


def many_reads(rows: Iterable[Sequence[Any]]) -> ManyReads:
    """``READ_MANY`` rows (which read, then the tuple columns) as :class:`ManyReads`."""
    found: tuple[list[TupleKey], ...] = ([], [], [])
    for row in rows:
        found[row[0]].append(key_from_columns(*row[1:9]))
    return ManyReads(users=found[0], usersets=found[1], object_relations=found[2])


def identity_key(columns: Sequence[str]) -> TupleKey:
    """The tuple named by the six identity columns (no condition), e.g. for an error message."""
    object_type, object_id, relation, user_type, user_id, user_relation = columns[:6]
    return key_from_columns(
        object_type, object_id, relation, user_type, user_id, user_relation, None, None
    )


def encode_model(model: AuthorizationModel) -> str:
    """The stored form of a model: OpenFGA's JSON (the wire and storage form, without the id)."""
    return msgspec.json.encode(model_to_json(model)).decode()


def decode_model(raw: str, model_id: str) -> AuthorizationModel:
    return model_from_json(msgspec.json.decode(raw), model_id=model_id)


def encode_assertions(assertions: list[Assertion] | tuple[Assertion, ...]) -> str:
    return msgspec.json.encode(list(assertions)).decode()


def decode_assertions(raw: str) -> list[Assertion]:
    return _assertions_decoder.decode(raw)


def to_micros(value: dt.datetime) -> int:
    """Microseconds since the epoch; naive datetimes are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=value)


def changes_token(object_type: str, revision: Revision, seq: int) -> str:
    """ReadChanges token of the SQL backends: the position after change ``(revision, seq)``."""
    return encode_page_token({"k": "changes", "r": revision, "q": seq, "t": object_type})


def decode_changes_token(token: str, object_type: str) -> tuple[Revision, int]:
    payload = decode_page_token(token, kind="changes")
    if payload.get("t", "") != object_type:
        raise InvalidContinuationTokenError(
            "continuation token was generated for a different object type"
        )
    revision, seq = payload.get("r"), payload.get("q")
    if not isinstance(revision, int) or not isinstance(seq, int):
        raise InvalidContinuationTokenError()
    return revision, seq
