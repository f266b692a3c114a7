"""The function library's machinery: one :class:`Function` entry per CEL function or operator.

An entry holds everything about a function: its overloads (what the checker accepts and what it
returns), its implementation (over evaluated arguments, see :mod:`permsvc.model.cel.runtime`) and
its run-time cost (cel-go's ``CostTracker.costCall``). The checker, the interpreter and the cost
tracker all read the same entry, so a new function is one :func:`define` call next to its
implementation in :mod:`permsvc.model.cel.runtime`::

    @define("startsWith", member=[((STRING, STRING), BOOL)], cost=suffix_cost)
    def _starts_with(s, prefix): ...

Operators use cel-go's names (``_+_``, ``_[_]``, ``@in``); ``_&&_``, ``_||_`` and ``_?_:_`` have
no implementation because the interpreter evaluates them lazily.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from permsvc.model.cel.types import CelType

__all__ = (
    "LIBRARY",
    "Function",
    "Overload",
    "concat_cost",
    "contains_cost",
    "define",
    "equality_cost",
    "membership_cost",
    "ordering_cost",
    "regex_cost",
    "suffix_cost",
    "traversal_cost",
    "unit_cost",
)

STRING_TRAVERSAL_COST_FACTOR = 0.1
REGEX_STRING_LENGTH_COST_FACTOR = 0.25

Signature = tuple[tuple[CelType, ...], CelType]
"""(argument types, result type); a member call's receiver is the first argument."""


class Overload(msgspec.Struct, frozen=True):
    args: tuple[CelType, ...]
    result: CelType
    member: bool = False


class Function(msgspec.Struct, frozen=True, kw_only=True):
    """One CEL function: overloads, implementation, cost.

    Attributes:
        name: the name in the syntax tree (``size``, ``_+_``, ``in_cidr``).
        overloads: every signature, global and member.
        impl: the implementation over evaluated arguments (receiver first); raises
            :class:`~permsvc.model.cel.values.CelEvalError`. None for the lazy operators.
        cost: the run-time cost of a call, given its evaluated arguments.
        foldable: a type conversion, computed once when its argument is a constant (cel-go's
            ``OptOptimize``), so an invalid constant fails when the model is written.
    """

    name: str
    overloads: tuple[Overload, ...]
    impl: Callable[..., Any] | None = None
    cost: Callable[[tuple[Any, ...]], int]
    foldable: bool = False


LIBRARY: dict[str, Function] = {}
"""Function name -> entry. Filled by :func:`define` when :mod:`permsvc.model.cel.runtime` loads."""


def define(
    name: str,
    signatures: Iterable[Signature] = (),
    *,
    member: Iterable[Signature] = (),
    cost: Callable[[tuple[Any, ...]], int] | None = None,
    foldable: bool = False,
) -> Callable[[Callable[..., Any] | None], Callable[..., Any] | None]:
    """Register ``name`` with its global and member signatures; decorates the implementation
    (None for the operators the interpreter evaluates itself).

    Raises:
        ValueError: the name is already defined (one entry per function).
    """

    def register(impl: Callable[..., Any] | None) -> Callable[..., Any] | None:
        if name in LIBRARY:
            raise ValueError(f"CEL function {name!r} is defined twice")
        LIBRARY[name] = Function(
            name=name,
            overloads=(
                *(Overload(args, result) for args, result in signatures),
                *(Overload(args, result, member=True) for args, result in member),
            ),
            impl=impl,
            cost=cost or unit_cost,
            foldable=foldable,
        )
        return impl

    return register


# ---------------------------------------------------------------------------------------------
# Costs (cel-go interpreter/runtimecost.go): 1 per call, except string and list operations.


def _size(value: Any) -> int:
    if isinstance(value, (str, bytes, list, tuple, dict)):
        return len(value)
    return 1


def traversal_cost(n: int) -> int:
    return math.ceil(n * STRING_TRAVERSAL_COST_FACTOR)


def unit_cost(args: tuple[Any, ...]) -> int:
    return 1


def suffix_cost(args: tuple[Any, ...]) -> int:
    """``startsWith``/``endsWith``; measured against OpenFGA: the prefix or suffix counts."""
    return traversal_cost(_size(args[1]))


def contains_cost(args: tuple[Any, ...]) -> int:
    return traversal_cost(_size(args[0])) * traversal_cost(_size(args[1]))


def regex_cost(args: tuple[Any, ...]) -> int:
    str_cost = math.ceil((1.0 + _size(args[0])) * STRING_TRAVERSAL_COST_FACTOR)
    return str_cost * math.ceil(_size(args[1]) * REGEX_STRING_LENGTH_COST_FACTOR)


def equality_cost(args: tuple[Any, ...]) -> int:
    return traversal_cost(min(_size(args[0]), _size(args[1])))


def ordering_cost(args: tuple[Any, ...]) -> int:
    if type(args[0]) in (str, bytes):
        return traversal_cost(min(_size(args[0]), _size(args[1])))
    return 1


def concat_cost(args: tuple[Any, ...]) -> int:
    if type(args[0]) in (str, bytes):
        return traversal_cost(_size(args[0]) + _size(args[1]))
    return 1


def membership_cost(args: tuple[Any, ...]) -> int:
    return len(args[1]) if isinstance(args[1], (list, tuple)) else 1


def conversion_cost(source: type) -> Callable[[tuple[Any, ...]], int]:
    """``string(bytes)`` and ``bytes(string)`` traverse their argument; other conversions are 1."""

    def cost(args: tuple[Any, ...]) -> int:
        return traversal_cost(_size(args[0])) if type(args[0]) is source else 1

    return cost
