"""Object, subject and tuple references, and their string forms.

The string forms are OpenFGA's:

- object: ``type:id`` (``document:readme``; ids may contain ``|``, ``@``, spaces, ``:``)
- subject (the *user* field of a tuple): an object ``user:auth0|42``, a userset
  ``group:eng#member``, or a wildcard ``user:*``
- tuple: ``object#relation@user`` (``document:readme#viewer@user:auth0|42``)

Everything here is a pure value type; validation against a model lives in ``permsvc.model``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from permsvc.core.errors import PermsvcError

__all__ = (
    "InvalidRefError",
    "ObjectRef",
    "SubjectRef",
    "TupleCondition",
    "TupleKey",
    "format_tuple",
    "parse_object",
    "parse_subject",
    "parse_tuple",
    "split_object",
)

WILDCARD = "*"


class InvalidRefError(PermsvcError):
    """A string is not a well-formed object, subject or tuple."""


class ObjectRef(msgspec.Struct, frozen=True):
    """An object ``type:id``."""

    type: str
    id: str

    def __str__(self) -> str:
        return f"{self.type}:{self.id}"


class SubjectRef(msgspec.Struct, frozen=True):
    """The user side of a tuple: an object, a userset (``relation`` set) or a wildcard (``id == '*'``)."""

    type: str
    id: str
    relation: str = ""

    @property
    def is_wildcard(self) -> bool:
        return self.id == WILDCARD and not self.relation

    @property
    def is_userset(self) -> bool:
        return bool(self.relation)

    def __str__(self) -> str:
        if self.relation:
            return f"{self.type}:{self.id}#{self.relation}"
        return f"{self.type}:{self.id}"


class TupleCondition(msgspec.Struct, frozen=True, kw_only=True):
    """A condition attached to a tuple: its name and the persisted part of its context."""

    name: str
    context: dict[str, Any] | None = None


class TupleKey(msgspec.Struct, frozen=True, kw_only=True):
    """A relationship tuple ``object#relation@user``, optionally conditional.

    The fields hold OpenFGA's string forms so that tuples flow from the wire to storage to the
    engine without re-encoding; use :func:`split_object` / :func:`parse_subject` to take them apart.
    """

    object: str
    relation: str
    user: str
    condition: TupleCondition | None = None

    def __str__(self) -> str:
        return format_tuple(self)

    @property
    def key(self) -> tuple[str, str, str]:
        """The identity of the tuple (the condition is not part of it)."""
        return (self.object, self.relation, self.user)


def split_object(value: str) -> tuple[str, str]:
    """Split ``type:id`` at the first colon; raises :class:`InvalidRefError` when malformed."""
    type_, sep, id_ = value.partition(":")
    if not sep or not type_ or not id_:
        raise InvalidRefError(f"invalid object '{value}': expected 'type:id'")
    if "#" in type_ or " " in type_:
        raise InvalidRefError(f"invalid object '{value}': the type may not contain '#' or spaces")
    return type_, id_


def parse_object(value: str) -> ObjectRef:
    """Parse ``type:id`` into an :class:`ObjectRef`."""
    type_, id_ = split_object(value)
    if "#" in id_:
        raise InvalidRefError(f"invalid object '{value}': an object id may not contain '#'")
    return ObjectRef(type_, id_)


def parse_subject(value: str) -> SubjectRef:
    """Parse a tuple's user field: ``type:id``, ``type:id#relation`` or ``type:*``."""
    obj, sep, relation = value.rpartition("#") if "#" in value else (value, "", "")
    if sep and not relation:
        raise InvalidRefError(f"invalid user '{value}': empty relation after '#'")
    type_, id_ = split_object(obj)
    if "#" in id_:
        raise InvalidRefError(f"invalid user '{value}': more than one '#'")
    if id_ == WILDCARD and relation:
        raise InvalidRefError(f"invalid user '{value}': a wildcard cannot carry a relation")
    return SubjectRef(type_, id_, relation)


def format_tuple(key: TupleKey) -> str:
    """``object#relation@user``."""
    return f"{key.object}#{key.relation}@{key.user}"


def parse_tuple(value: str) -> TupleKey:
    """Parse ``object#relation@user``.

    Object ids cannot contain ``#`` and relation names cannot contain ``@``, so the first ``#``
    ends the object and the first ``@`` after it ends the relation; the user (``alice@example.com``,
    ``group:eng#member``) is everything after that.
    """
    obj, sep, rest = value.partition("#")
    relation, sep2, user = rest.partition("@")
    if not sep or not sep2 or not obj or not relation or not user:
        raise InvalidRefError(f"invalid tuple '{value}': expected 'object#relation@user'")
    parse_object(obj)
    parse_subject(user)
    return TupleKey(object=obj, relation=relation, user=user)
