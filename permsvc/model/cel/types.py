"""CEL types as the checker and the function library spell them.

Types are tuples: ``("int",)``, ``("list", elem)``, ``("map", key, value)``; a name starting with
``$`` is a type parameter of an overload (:data:`A`, :data:`B`).
"""

from __future__ import annotations

from typing import Any, TypeAlias

__all__ = (
    "ANY",
    "BOOL",
    "BYTES",
    "DOUBLE",
    "DURATION",
    "DYN",
    "INT",
    "IPADDRESS",
    "NULL",
    "STRING",
    "TIMESTAMP",
    "TYPE",
    "UINT",
    "A",
    "B",
    "CelType",
    "list_of",
    "map_of",
)

CelType: TypeAlias = tuple[Any, ...]
"""``("int",)`` | ``("list", CelType)`` | ``("map", CelType, CelType)`` | ``("$A",)``."""

BOOL: CelType = ("bool",)
INT: CelType = ("int",)
UINT: CelType = ("uint",)
DOUBLE: CelType = ("double",)
STRING: CelType = ("string",)
BYTES: CelType = ("bytes",)
NULL: CelType = ("null",)
TIMESTAMP: CelType = ("timestamp",)
DURATION: CelType = ("duration",)
IPADDRESS: CelType = ("IPAddress",)
DYN: CelType = ("dyn",)
ANY: CelType = ("google.protobuf.Any",)
"""OpenFGA's ``any`` parameter type (cel-go ``cel.AnyType``): checked like ``dyn``, named apart."""
TYPE: CelType = ("type",)
A: CelType = ("$A",)
B: CelType = ("$B",)


def list_of(elem: CelType) -> CelType:
    return ("list", elem)


def map_of(key: CelType, value: CelType) -> CelType:
    return ("map", key, value)
