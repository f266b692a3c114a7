"""Object, subject and tuple references, and their string forms.

The string forms are OpenFGA's:

- object: ``type:id`` (``document:readme``; ids may contain ``|``, ``@``, spaces, ``:``)
- subject (the *user* field of a tuple): an object ``user:auth0|42``, a userset
  ``group:eng#member``, or a wildcard ``user:*``
- tuple: ``object#relation@user`` (``document:readme#viewer@user:auth0|42``)

Everything here is a pure value type; validation against a model lives in ``permsvc.model``.

**Control characters.** No id, type, relation or condition name may contain a character of
Unicode category ``Cc`` (the C0 controls U+0000-U+001F, DEL U+007F and the C1 controls
U+0080-U+009F; NUL included) or ``Cs`` (a lone surrogate, U+D800-U+DFFF, which has no UTF-8
form). PostgreSQL cannot store NUL in text, no backend can encode a lone surrogate, and none of
them can be typed, printed or logged unambiguously; refusing them everywhere (``400
validation_error``, :func:`reject_control_characters`) keeps every backend accepting exactly the
same tuples, so an export from one always imports into another. Other invisible characters
(format characters such as U+200B, U+200D, bidi marks) are accepted: scripts and emoji use them,
and every backend stores them faithfully.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from permsvc.core.errors import PermsvcError

__all__ = (
    "CONTROL_CHARACTERS",
    "ControlCharacterError",
    "InvalidRefError",
    "ObjectRef",
    "SubjectRef",
    "TupleCondition",
    "TupleKey",
    "check_tuple_text",
    "format_tuple",
    "parse_object",
    "parse_subject",
    "parse_tuple",
    "reject_control_characters",
    "split_object",
)

WILDCARD = "*"


class InvalidRefError(PermsvcError):
    """A string is not a well-formed object, subject or tuple."""


CONTROL_CHARACTERS = r"\x00-\x1f\x7f-\x9f\ud800-\udfff"
"""The refused characters (categories Cc and Cs, see the module docstring), as a regex class body."""

_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
_SHOWN = 120


class ControlCharacterError(InvalidRefError):
    """An id, type, relation or condition name holds a control character: ``400 validation_error``
    on every surface and backend. ``field`` names the field, ``position`` the first offending
    character (0-based) and ``codepoint`` it."""

    openfga_name = "validation_error"

    def __init__(self, field: str, value: str, position: int) -> None:
        codepoint = ord(value[position])
        shown = _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", value[:_SHOWN])
        super().__init__(
            f"invalid {field} '{shown}{'...' if len(value) > _SHOWN else ''}': it contains the control "
            f"character U+{codepoint:04X} at position {position}; ids, types, relations and condition "
            "names may not contain control characters (Unicode categories Cc and Cs)"
        )
        self.field = field
        self.position = position
        self.codepoint = codepoint


def reject_control_characters(field: str, value: str) -> None:
    """Raise :class:`ControlCharacterError` if ``value`` holds a refused character (see the module
    docstring); ``field`` names it in the message (``TupleKey.object``)."""
    found = _CONTROL.search(value)
    if found is not None:
        raise ControlCharacterError(field, value, found.start())


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


def check_tuple_text(key: TupleKey, message: str = "TupleKey") -> None:
    """:func:`reject_control_characters` on every string of a tuple that names something: object,
    relation, user and condition name (the condition's context holds values, not names)."""
    reject_control_characters(f"{message}.object", key.object)
    reject_control_characters(f"{message}.relation", key.relation)
    reject_control_characters(f"{message}.user", key.user)
    if key.condition is not None:
        reject_control_characters(f"{message}.condition.name", key.condition.name)


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
