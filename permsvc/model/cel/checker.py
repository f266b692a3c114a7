"""Static type checking of a CEL syntax tree against declared variables.

Follows cel-go's checker as OpenFGA configures it: the signatures of the function library
(:mod:`permsvc.model.cel.runtime`: cel-go's standard declarations, with no cross-type numeric
comparisons or equality, so ``x < 1.5`` with ``x: int`` does not compile, plus OpenFGA's
``ipaddress(string)`` and ``IPAddress.in_cidr(string)``). ``dyn`` (OpenFGA's ``any``) is assignable
to and from every type. Every error is reported, sorted by position, in cel-go's wording, e.g.
``found no matching overload for '_<_' applied to '(int, double)'`` and
``undeclared reference to 'y' (in container '')``. Types: :mod:`permsvc.model.cel.types`.
"""

from __future__ import annotations

from collections.abc import Mapping

from permsvc.model.cel.parser import (
    Call,
    Comprehension,
    Const,
    Expr,
    Ident,
    ListLit,
    MapLit,
    Select,
)
from permsvc.model.cel.runtime import LIBRARY
from permsvc.model.cel.types import (
    ANY,
    BOOL,
    BYTES,
    DOUBLE,
    DURATION,
    DYN,
    INT,
    IPADDRESS,
    NULL,
    STRING,
    TIMESTAMP,
    TYPE,
    UINT,
    CelType,
    list_of,
    map_of,
)

__all__ = ("TYPE_IDENTIFIERS", "CelTypeError", "check", "format_type", "qualified_name")

ERROR: CelType = ("*error*",)
"""The type of a sub-expression that did not check: assignable to anything, so one mistake is
reported once, not again by every call around it (cel-go's error type)."""


class CelTypeError(Exception):
    """The expression does not type-check. ``offset`` is the 0-based offset of the culprit;
    ``issues`` lists every problem as ``(offset, message)`` in source order (cel-go reports them
    all, sorted by position), the first being ``offset`` and ``message``."""

    def __init__(
        self, message: str, offset: int, issues: list[tuple[int, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.issues = issues or [(offset, message)]


def format_type(t: CelType, *, any_name: str = "any") -> str:
    """cel-go's spelling of a type: ``int``, ``list(string)``, ``map(string, dyn)``.

    OpenFGA's ``any`` is ``any`` in checker messages but ``google.protobuf.Any`` where OpenFGA
    prints the output type (pass ``any_name``)."""
    if t[0] == "list":
        return f"list({format_type(t[1], any_name=any_name)})"
    if t[0] == "map":
        inner = ", ".join(format_type(p, any_name=any_name) for p in t[1:])
        return f"map({inner})"
    if t == ANY:
        return any_name
    if t[0] == "type" and len(t) == 2:
        return f"type({format_type(t[1])})"
    if t[0].startswith("$"):
        return "dyn"
    return str(t[0])


_SCALARS: dict[str, CelType] = {
    "bool": BOOL,
    "int": INT,
    "uint": UINT,
    "double": DOUBLE,
    "string": STRING,
    "bytes": BYTES,
}
"""The scalar types, each by the name both a literal's kind and a type identifier use."""

CONST_TYPES: dict[str, CelType] = {**_SCALARS, "null": NULL}
"""The type of each kind of literal (:attr:`Const.kind`)."""

TYPE_IDENTIFIERS: dict[str, CelType] = {
    **_SCALARS,
    "list": list_of(DYN),
    "map": map_of(DYN, DYN),
    "null_type": NULL,
    "type": TYPE,
    "google.protobuf.Timestamp": TIMESTAMP,
    "google.protobuf.Duration": DURATION,
}
"""Identifiers that name types (``type(x) == int``) when no variable of that name is declared."""

_NUMERIC = (INT, UINT, DOUBLE)
_ORDERINGS = ("_<_", "_<=_", "_>_", "_>=_")


def _overloads(function: str, member: bool) -> list[tuple[tuple[CelType, ...], CelType]] | None:
    """The (argument types, result type) of ``function``'s global or member overloads, from the
    function library (:mod:`permsvc.model.cel.runtime`); None when it has none of that kind. A
    member call's receiver is the first argument."""
    entry = LIBRARY.get(function)
    if entry is None:
        return None
    found = [(o.args, o.result) for o in entry.overloads if o.member == member]
    return found or None


_DYNAMIC = (DYN, ANY)
_NULLABLE = (TIMESTAMP, DURATION, IPADDRESS)
"""Types cel-go implements as messages, which ``null`` is assignable to and from: ``d != null``
type-checks for a duration ``d`` (OpenFGA's sample store has one such condition per type)."""


def _is_param(t: CelType) -> bool:
    return str(t[0]).startswith("$")


def _assign(param: CelType, arg: CelType, subst: dict[str, CelType]) -> bool:
    """Whether ``arg`` may be passed where ``param`` is expected, binding type parameters."""
    if param == _FRESH or param == arg or arg == ERROR or param == ERROR:
        return True
    if (arg == NULL and param in _NULLABLE) or (param == NULL and arg in _NULLABLE):
        return True
    if _is_param(param):
        bound = subst.get(param[0])
        if bound is None or bound == _FRESH:  # a free element type takes the concrete one
            subst[param[0]] = arg
            return True
        if _assign(bound, arg, subst):
            return True
        if _assign(arg, bound, {}):
            subst[param[0]] = arg
            return True
        return False
    if param in _DYNAMIC or arg in _DYNAMIC:
        return True
    if _is_param(arg):
        return True
    if param[0] == "type" and arg[0] == "type":
        return True  # type values compare across types: type(x) == string
    if param[0] != arg[0] or len(param) != len(arg):
        return False
    return all(_assign(p, a, subst) for p, a in zip(param[1:], arg[1:], strict=True))


def _substitute(t: CelType, subst: dict[str, CelType]) -> CelType:
    if t == _FRESH:
        return t
    if _is_param(t):
        bound = subst.get(t[0])
        return DYN if bound is None else _substitute(bound, subst)
    if len(t) == 1:
        return t
    return (t[0], *(_substitute(p, subst) for p in t[1:]))


_FRESH: CelType = ("$?",)
"""The element type of an empty list or map literal: a type variable the literal's neighbours may
bind (``[[], [1]]`` is ``list(list(int))``); what is left unbound reads as ``dyn``."""


def _most_general(a: CelType, b: CelType) -> CelType | None:
    """cel-go's ``joinTypes`` of two literal elements: the more general of two assignable types
    (a free element type takes the other's), or None when neither is assignable to the other."""
    if a == b or b == _FRESH:
        return a
    if a == _FRESH or (a == NULL and b in _NULLABLE):
        return b
    if b == NULL and a in _NULLABLE:
        return a
    if a in _DYNAMIC:
        return a
    if b in _DYNAMIC:
        return b
    if a[0] != b[0] or len(a) != len(b) or len(a) == 1:
        return None
    parts = [_most_general(x, y) for x, y in zip(a[1:], b[1:], strict=True)]
    if any(p is None for p in parts):
        return None
    return (a[0], *parts)


def _join(types: list[CelType]) -> CelType:
    joined = types[0]
    for t in types[1:]:
        general = _most_general(joined, t)
        if general is None:
            return DYN
        joined = general
    return joined


def _bind_fresh(t: CelType) -> CelType:
    if t == _FRESH:
        return DYN
    if len(t) == 1:
        return t
    return (t[0], *(_bind_fresh(p) for p in t[1:]))


def qualified_name(expr: Expr) -> str | None:
    """``a.b.c`` as the dotted name it spells, or None when it is not a plain selection chain."""
    parts = []
    while isinstance(expr, Select) and not expr.test_only:
        parts.append(expr.field)
        expr = expr.operand
    if not isinstance(expr, Ident):
        return None
    parts.append(expr.name)
    return ".".join(reversed(parts))


def check(expr: Expr, variables: Mapping[str, CelType]) -> CelType:
    """Type-check ``expr`` and return its result type.

    Raises:
        CelTypeError: an undeclared reference, a call with no matching overload, a field selection
            on a type without fields, or a comprehension over a non-iterable.
    """
    checker = _Checker(variables)
    result = checker.visit(expr, {})
    if checker.issues:
        issues = sorted(
            checker.issues, key=lambda issue: issue[0]
        )  # stable: same offset in visit order
        raise CelTypeError(issues[0][1], issues[0][0], issues)
    return _bind_fresh(result)


class _Checker:
    def __init__(self, variables: Mapping[str, CelType]) -> None:
        self.variables = variables
        self.issues: list[tuple[int, str]] = []
        self.cross_numeric = False
        """cel-go quirk, reproduced because OpenFGA has it: once a comprehension's loop has been
        entered, ``<``, ``<=``, ``>`` and ``>=`` accept an int, uint and double mix for the rest of
        the check (``[1].all(v, v < 1.5)`` compiles, ``1 < 1.5`` alone does not)."""

    def error(self, message: str, offset: int) -> CelType:
        self.issues.append((offset, message))
        return ERROR

    def visit(self, expr: Expr, scope: dict[str, CelType]) -> CelType:
        match expr:
            case Const(kind=kind):
                return CONST_TYPES[kind]
            case Ident(name=name):
                if name in scope:
                    return scope[name]
                if name in self.variables:
                    return self.variables[name]
                if name in TYPE_IDENTIFIERS:
                    return ("type", TYPE_IDENTIFIERS[name])
                return self.error(
                    f"undeclared reference to '{name}' (in container '')", expr.offset
                )
            case Select(operand=operand, test_only=test_only):
                qualified = None if test_only else qualified_name(expr)
                if qualified in TYPE_IDENTIFIERS and not self._declared(
                    qualified.split(".", 1)[0], scope
                ):
                    return ("type", TYPE_IDENTIFIERS[qualified])
                operand_type = self.visit(operand, scope)
                if operand_type in _DYNAMIC or _is_param(operand_type) or operand_type == ERROR:
                    return BOOL if test_only else DYN
                if operand_type[0] == "map":
                    return BOOL if test_only else operand_type[2]
                return self.error(
                    f"type '{format_type(operand_type)}' does not support field selection",
                    expr.offset,
                )
            case ListLit(elements=elements):
                if not elements:
                    return list_of(_FRESH)
                return list_of(_join([self.visit(e, scope) for e in elements]))
            case MapLit(entries=entries):
                if not entries:
                    return map_of(_FRESH, _FRESH)
                keys = [self.visit(k, scope) for k, _ in entries]
                for key_type, (key, _) in zip(keys, entries, strict=True):
                    if key_type not in (INT, UINT, BOOL, STRING, DYN, ERROR):
                        self.error(f"unsupported map key type: {format_type(key_type)}", key.offset)
                values = [self.visit(v, scope) for _, v in entries]
                return map_of(_join(keys), _join(values))
            case Comprehension():
                return self._comprehension(expr, scope)
            case Call():
                return self._call(expr, scope)
        raise CelTypeError(f"unsupported expression node {type(expr).__name__}", 0)

    def _declared(self, name: str, scope: dict[str, CelType]) -> bool:
        return name in scope or name in self.variables

    def _comprehension(self, expr: Comprehension, scope: dict[str, CelType]) -> CelType:
        range_type = self.visit(expr.iter_range, scope)
        if range_type[0] == "list" or range_type[0] == "map":
            var_type = range_type[1]
        elif range_type in (DYN, ERROR):  # not ANY: cel-go refuses to range over Any
            var_type = range_type
        else:
            var_type = self.error(
                f"expression of type '{format_type(range_type)}' cannot be range of a "
                "comprehension (must be list, map, or dynamic)",
                expr.iter_range.offset,
            )
        self.cross_numeric = True
        inner = {**scope, expr.var: var_type}
        if expr.macro in ("all", "exists"):
            body_type = self.visit(expr.body, inner)
            if not self._is_boolish(body_type):
                self.error(
                    f"expected type 'bool' but found '{format_type(body_type)}'", expr.body.offset
                )
            return BOOL
        # exists_one, filter and map expand to `predicate ? step : __result__`.
        predicate: Expr | None
        if expr.macro == "exists_one":
            predicate, step = expr.body, INT
        elif expr.macro == "filter":
            predicate, step = expr.body, list_of(var_type)
        else:
            predicate, step = expr.predicate, list_of(self.visit(expr.body, inner))
        if predicate is not None:
            predicate_type = self.visit(predicate, inner)
            if not self._is_boolish(predicate_type):
                shown = ", ".join(format_type(t) for t in (predicate_type, step, step))
                self.error(
                    f"found no matching overload for '_?_:_' applied to '({shown})'", expr.offset
                )
        return BOOL if expr.macro == "exists_one" else step

    @staticmethod
    def _is_boolish(t: CelType) -> bool:
        return t == BOOL or t in _DYNAMIC or _is_param(t) or t == ERROR

    def _call(self, expr: Call, scope: dict[str, CelType]) -> CelType:
        if expr.function in ("_&&_", "_||_"):
            # cel-go checks each operand against bool rather than resolving an overload.
            for arg in expr.args:
                arg_type = self.visit(arg, scope)
                if not self._is_boolish(arg_type):
                    self.error(
                        f"expected type 'bool' but found '{format_type(arg_type)}'",
                        arg.offset,
                    )
            return BOOL
        is_member = expr.target is not None
        overloads = _overloads(expr.function, is_member)
        arg_types = [] if expr.target is None else [self.visit(expr.target, scope)]
        arg_types.extend(self.visit(a, scope) for a in expr.args)
        if (
            self.cross_numeric
            and expr.function in _ORDERINGS
            and arg_types[0] in _NUMERIC
            and arg_types[1] in _NUMERIC
        ):
            return BOOL
        if overloads is None:
            if _overloads(expr.function, not is_member) is None:
                return self.error(
                    f"undeclared reference to '{expr.function}' (in container '')", expr.offset
                )
            overloads = []
        results: list[CelType] = []
        for params, result in overloads:
            if len(params) != len(arg_types):
                continue
            subst: dict[str, CelType] = {}
            if all(_assign(p, a, subst) for p, a in zip(params, arg_types, strict=True)):
                results.append(_substitute(result, subst))
        if not results:
            if is_member:
                shown = (
                    f"{format_type(arg_types[0])}.("
                    + ", ".join(format_type(t) for t in arg_types[1:])
                    + ")"
                )
            else:
                shown = "(" + ", ".join(format_type(t) for t in arg_types) + ")"
            return self.error(
                f"found no matching overload for '{expr.function}' applied to '{shown}'",
                expr.offset,
            )
        return _join(results)
