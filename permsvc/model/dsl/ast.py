"""The syntax tree of one OpenFGA DSL file, with a source position on every node.

The tree mirrors the text, not the model: parentheses survive as nested :class:`Operation`
nodes (OpenFGA keeps them as nested ``union``/``intersection`` in the JSON too), direct type
restrictions stay where they were written, and ``extend type`` blocks are kept apart from
``type`` blocks. :mod:`permsvc.model.compile` turns a tree into an
:class:`~permsvc.model.schema.AuthorizationModel`.

DSL syntax -> node:

- ``[user, group#member, user:*, user with c]`` -> ``Direct((Restriction(...), ...))``
- ``editor``                                    -> ``Computed(Name("editor"))``
- ``viewer from parent``                        -> ``FromParent(Name("viewer"), Name("parent"))``
- ``a or b`` / ``a and b`` / ``a but not b``     -> ``Operation("union" | "intersection" | "difference", (...))``
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import msgspec

from permsvc.model.schema import SourcePos

__all__ = (
    "Computed",
    "ConditionDecl",
    "Direct",
    "DslFile",
    "FromParent",
    "Name",
    "Operation",
    "Param",
    "RelationDecl",
    "RelationExpr",
    "Restriction",
    "TypeDecl",
)


class Name(msgspec.Struct, frozen=True, kw_only=True):
    """An identifier as written, with where it starts."""

    text: str
    pos: SourcePos


class Restriction(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of ``[...]``: ``user``, ``group#member``, ``user:*``, optionally ``with cond``."""

    type: Name
    relation: Name | None = None
    wildcard: bool = False
    condition: Name | None = None
    pos: SourcePos


class Direct(msgspec.Struct, frozen=True, kw_only=True, tag="direct"):
    restrictions: tuple[Restriction, ...]
    pos: SourcePos


class Computed(msgspec.Struct, frozen=True, kw_only=True, tag="computed"):
    relation: Name
    pos: SourcePos


class FromParent(msgspec.Struct, frozen=True, kw_only=True, tag="from"):
    """``relation from tupleset``."""

    relation: Name
    tupleset: Name
    pos: SourcePos


class Operation(msgspec.Struct, frozen=True, kw_only=True, tag="operation"):
    """``or`` / ``and`` (two or more children) or ``but not`` (exactly two: base, subtract)."""

    op: Literal["union", "intersection", "difference"]
    children: tuple[RelationExpr, ...]
    pos: SourcePos


RelationExpr: TypeAlias = "Direct | Computed | FromParent | Operation"


class RelationDecl(msgspec.Struct, frozen=True, kw_only=True):
    name: Name
    expr: RelationExpr
    pos: SourcePos


class TypeDecl(msgspec.Struct, frozen=True, kw_only=True):
    """``type name`` or, in a module file, ``extend type name``."""

    name: Name
    relations: tuple[RelationDecl, ...] = ()
    extend: bool = False
    pos: SourcePos


class Param(msgspec.Struct, frozen=True, kw_only=True):
    """A condition parameter: ``name: type`` or ``name: map<type>`` / ``list<type>``."""

    name: Name
    type_name: str
    generic: str = ""
    pos: SourcePos


class ConditionDecl(msgspec.Struct, frozen=True, kw_only=True):
    name: Name
    params: tuple[Param, ...]
    expression: str
    pos: SourcePos


class DslFile(msgspec.Struct, frozen=True, kw_only=True):
    """A whole file: a ``model`` header with a schema version, or a ``module`` header."""

    schema_version: str = ""
    module: str = ""
    types: tuple[TypeDecl, ...] = ()
    conditions: tuple[ConditionDecl, ...] = ()
    file: str = ""
    pos: SourcePos
