"""The authorization model as typed, frozen values.

A model is a set of types; each type has relations; each relation has a *rewrite* that says how
membership is computed. DSL syntax -> rewrite node (OpenFGA JSON key in brackets):

- ``define viewer: [user, group#member]``            -> ``This()``                       (``this``)
- ``define viewer: editor``                          -> ``ComputedUserset("editor")``   (``computedUserset``)
- ``define viewer: viewer from parent``              -> ``TupleToUserset("parent", "viewer")`` (``tupleToUserset``)
- ``define viewer: [user] or editor``                -> ``Union((This(), ComputedUserset("editor")))``
- ``define viewer: editor and member``               -> ``Intersection((...,))``
- ``define viewer: editor but not blocked``          -> ``Difference(base, subtract)``

The direct type restrictions of ``[...]`` are not part of the rewrite: they are the relation's
``directly_related`` list of :class:`RelationReference` (``user``, ``group#member``, ``user:*``,
``user with cond``), as in OpenFGA's ``metadata.relations[*].directly_related_user_types``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeAlias

import msgspec

__all__ = (
    "CONDITION_TYPE_NAMES",
    "PROTO_TYPE_NAMES",
    "AuthorizationModel",
    "ComputedUserset",
    "Condition",
    "ConditionParam",
    "Difference",
    "Intersection",
    "Leaf",
    "RelationDefinition",
    "RelationReference",
    "Rewrite",
    "SourcePos",
    "This",
    "TupleToUserset",
    "TypeDefinition",
    "Union",
    "leaves",
)

CONDITION_TYPE_NAMES: dict[str, str] = {
    "any": "TYPE_NAME_ANY",
    "bool": "TYPE_NAME_BOOL",
    "string": "TYPE_NAME_STRING",
    "int": "TYPE_NAME_INT",
    "uint": "TYPE_NAME_UINT",
    "double": "TYPE_NAME_DOUBLE",
    "duration": "TYPE_NAME_DURATION",
    "timestamp": "TYPE_NAME_TIMESTAMP",
    "map": "TYPE_NAME_MAP",
    "list": "TYPE_NAME_LIST",
    "ipaddress": "TYPE_NAME_IPADDRESS",
}
"""DSL parameter type -> OpenFGA ``type_name``."""

PROTO_TYPE_NAMES = (
    "TYPE_NAME_UNSPECIFIED",
    "TYPE_NAME_ANY",
    "TYPE_NAME_BOOL",
    "TYPE_NAME_STRING",
    "TYPE_NAME_INT",
    "TYPE_NAME_UINT",
    "TYPE_NAME_DOUBLE",
    "TYPE_NAME_DURATION",
    "TYPE_NAME_TIMESTAMP",
    "TYPE_NAME_MAP",
    "TYPE_NAME_LIST",
    "TYPE_NAME_IPADDRESS",
)
"""OpenFGA's ``TypeName`` protobuf enum: a ``type_name``'s number is its index here."""


class SourcePos(msgspec.Struct, frozen=True):
    """A 1-based position in a source file (``file`` empty for a single-file model)."""

    line: int
    column: int
    file: str = ""


class This(msgspec.Struct, frozen=True, tag="this"):
    """Direct assignment: the tuples written for this relation (``[...]`` in the DSL)."""


class ComputedUserset(msgspec.Struct, frozen=True, tag="computed"):
    """Another relation of the same object."""

    relation: str


class TupleToUserset(msgspec.Struct, frozen=True, tag="ttu"):
    """``computed_relation from tupleset``: follow ``tupleset`` tuples, then check ``computed_relation``."""

    tupleset: str
    computed_relation: str


class Union(msgspec.Struct, frozen=True, tag="union"):
    children: tuple[Rewrite, ...]


class Intersection(msgspec.Struct, frozen=True, tag="intersection"):
    children: tuple[Rewrite, ...]


class Difference(msgspec.Struct, frozen=True, tag="difference"):
    """``base but not subtract``."""

    base: Rewrite
    subtract: Rewrite


Rewrite: TypeAlias = "This | ComputedUserset | TupleToUserset | Union | Intersection | Difference"
Leaf: TypeAlias = "This | ComputedUserset | TupleToUserset"


def leaves(rewrite: Rewrite) -> Iterator[Leaf]:
    """The leaves of ``rewrite``, left to right, under every ``or`` and ``and`` and on both sides
    of ``but not``."""
    match rewrite:
        case Union(children=children) | Intersection(children=children):
            for child in children:
                yield from leaves(child)
        case Difference(base=base, subtract=subtract):
            yield from leaves(base)
            yield from leaves(subtract)
        case _:
            yield rewrite


class RelationReference(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of a direct type restriction: ``user``, ``group#member``, ``user:*``, ``user with c``."""

    type: str
    relation: str = ""
    wildcard: bool = False
    condition: str = ""

    @property
    def user_key(self) -> str:
        """What a tuple's user must be to match it, without the condition: ``user``,
        ``group#member`` or ``user:*``."""
        if self.wildcard:
            return f"{self.type}:*"
        if self.relation:
            return f"{self.type}#{self.relation}"
        return self.type

    def __str__(self) -> str:
        base = self.user_key
        return f"{base} with {self.condition}" if self.condition else base


class RelationDefinition(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    rewrite: Rewrite
    directly_related: tuple[RelationReference, ...] = ()
    module: str = ""
    source_file: str = ""
    pos: SourcePos | None = None


class TypeDefinition(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    relations: dict[str, RelationDefinition] = msgspec.field(default_factory=dict)
    module: str = ""
    source_file: str = ""
    pos: SourcePos | None = None


class ConditionParam(msgspec.Struct, frozen=True, kw_only=True):
    """A condition parameter's type: ``type_name`` is OpenFGA's ``TYPE_NAME_*``."""

    type_name: str
    generic_types: tuple[ConditionParam, ...] = ()


class Condition(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    expression: str
    parameters: dict[str, ConditionParam] = msgspec.field(default_factory=dict)
    module: str = ""
    source_file: str = ""
    pos: SourcePos | None = None


class AuthorizationModel(msgspec.Struct, frozen=True, kw_only=True):
    """A whole model. ``id`` is empty until the model is stored."""

    schema_version: str = "1.1"
    type_definitions: tuple[TypeDefinition, ...] = ()
    conditions: dict[str, Condition] = msgspec.field(default_factory=dict)
    id: str = ""

    def type(self, name: str) -> TypeDefinition | None:
        for td in self.type_definitions:
            if td.name == name:
                return td
        return None
