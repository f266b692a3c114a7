"""Plan a checked CEL syntax tree into Python closures and evaluate it with a cost budget.

Semantics that matter to OpenFGA and are reproduced here:

- **Partial evaluation.** A declared variable absent from the activation evaluates to
  :data:`UNKNOWN`. Strict functions propagate it; ``||``/``&&`` return the deciding operand when the
  other is unknown (``x < 100 || y < 50`` is true with only ``x = 1``), like cel-go's
  ``OptPartialEval``.
- **Error absorption.** ``true || error`` is true and ``false && error`` is false, as in CEL.
- **Runtime cost.** cel-go's ``CostTracker`` rules (``interpreter/runtimecost.go``): 1 per
  identifier, field selection or index; 1 per function call, except string and list operations
  whose cost grows with the size of their operands; 10 per non-constant list literal and 30 per
  non-constant map literal; the loop bookkeeping of the comprehension macros. OpenFGA cancels an
  evaluation whose running cost exceeds its limit (100), so a hostile expression or context stops
  after a bounded amount of work.
- **Constant folding.** As cel-go's ``OptOptimize`` does: list/map literals of constants and
  type conversions of a constant (``timestamp("2023-10-11T10:00:00Z")``) are computed once, cost
  nothing at runtime, and an invalid constant conversion fails at compile time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from permsvc.model.cel.checker import TYPE_IDENTIFIERS, qualified_name
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
from permsvc.model.cel.runtime import LIBRARY, map_get
from permsvc.model.cel.values import CelEvalError, TypeValue, UInt, type_name

__all__ = (
    "UNKNOWN",
    "CostLimitExceededError",
    "Frame",
    "Program",
    "plan",
)

SELECT_AND_IDENT_COST = 1
LIST_CREATE_BASE_COST = 10
MAP_CREATE_BASE_COST = 30

_UNDECLARED = "@undeclared"
_TYPE_NAMES = {"list": "list", "map": "map", "null_type": "null_type", "type": "type"}


class _Unknown:
    """The value of an expression that depends on a variable missing from the activation."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


class CostLimitExceededError(Exception):
    """The running cost passed the limit; evaluation was cancelled (not absorbable by ``||``)."""


class Frame:
    """Mutable per-evaluation state: variable bindings and the running cost."""

    __slots__ = ("cost", "limit", "vars")

    def __init__(self, variables: dict[str, Any], limit: int) -> None:
        self.vars = variables
        self.cost = 0
        self.limit = limit


Node = Callable[[Frame], Any]
_NOT_CONST = object()


class Program:
    """A planned expression. ``run(variables, limit)`` returns a value, :data:`UNKNOWN`, or raises
    :class:`CelEvalError` / :class:`CostLimitExceededError`."""

    __slots__ = ("_root",)

    def __init__(self, root: Node) -> None:
        self._root = root

    def run(self, variables: dict[str, Any], limit: int) -> tuple[Any, int]:
        """Evaluate with ``variables`` bound; returns ``(value, actual cost)``."""
        frame = Frame(variables, limit)
        return self._root(frame), frame.cost


def _charge(frame: Frame, amount: int) -> None:
    frame.cost += amount
    if frame.cost > frame.limit:
        raise CostLimitExceededError("operation cancelled: actual cost limit exceeded")


def _outcome(node: Node, frame: Frame) -> Any:
    try:
        return node(frame)
    except CelEvalError as exc:
        return exc


def _finish(outcome: Any) -> Any:
    if isinstance(outcome, CelEvalError):
        raise outcome
    return outcome


def _logical(left: Any, right: Any, decisive: bool) -> Any:
    """``left || right`` (``decisive`` is ``True``) or ``left && right`` (``False``), commutative
    as in CEL: the decisive value on either side wins over anything on the other; then unknown
    wins over an error, then the first error; otherwise an operand was not a boolean."""
    if left is decisive or right is decisive:
        return decisive
    if type(left) is bool and type(right) is bool:
        return left
    if left is UNKNOWN or right is UNKNOWN:
        return UNKNOWN
    if isinstance(left, CelEvalError):
        return left
    if isinstance(right, CelEvalError):
        return right
    return CelEvalError("no such overload")


def plan(expr: Expr, variables: frozenset[str] = frozenset()) -> Program:
    """Plan a type-checked expression; ``variables`` are the declared variable names (an
    identifier that is not one of them and names a type, like ``int``, is that type's value).

    Raises:
        CelEvalError: a constant sub-expression that is always an error (e.g. an invalid
            ``timestamp("...")`` literal), which cel-go reports when building the program.
    """
    node, _ = _plan(_bind_type_identifiers(expr, variables))
    return Program(node)


def _bind_type_identifiers(expr: Expr, bound: frozenset[str]) -> Expr:
    """Replace identifiers that name types (and are not variables in scope) by type constants."""
    match expr:
        case Ident(name=name) if name not in bound:
            if name in TYPE_IDENTIFIERS:
                return Const("type", TypeValue(_TYPE_NAMES.get(name, name)), expr.offset)
            # Only an unchecked expression gets here (the checker refuses undeclared names).
            return Call(_UNDECLARED, (Const("string", name),), None, expr.offset)
        case Select(test_only=False) if (
            (qualified := qualified_name(expr)) is not None
            and qualified in TYPE_IDENTIFIERS
            and qualified.split(".", 1)[0] not in bound
        ):
            return Const("type", TypeValue(qualified), expr.offset)
        case Select(operand=operand):
            return msgspec.structs.replace(expr, operand=_bind_type_identifiers(operand, bound))
        case Call(args=args, target=target):
            return msgspec.structs.replace(
                expr,
                args=tuple(_bind_type_identifiers(a, bound) for a in args),
                target=None if target is None else _bind_type_identifiers(target, bound),
            )
        case ListLit(elements=elements):
            return ListLit(tuple(_bind_type_identifiers(e, bound) for e in elements), expr.offset)
        case MapLit(entries=entries):
            return MapLit(
                tuple(
                    (_bind_type_identifiers(k, bound), _bind_type_identifiers(v, bound))
                    for k, v in entries
                ),
                expr.offset,
            )
        case Comprehension(var=var, predicate=predicate):
            inner = bound | {var}
            return msgspec.structs.replace(
                expr,
                iter_range=_bind_type_identifiers(expr.iter_range, bound),
                body=_bind_type_identifiers(expr.body, inner),
                predicate=None if predicate is None else _bind_type_identifiers(predicate, inner),
            )
    return expr


def _const_node(value: Any) -> Node:
    return lambda frame: value


def _plan(expr: Expr) -> tuple[Node, Any]:
    """Returns (node, constant value or _NOT_CONST)."""
    match expr:
        case Const(kind=kind, value=value):
            if kind == "uint":
                value = UInt(value)
            return _const_node(value), value
        case Ident(name=name):
            return _plan_ident(name), _NOT_CONST
        case Select():
            return _plan_select(expr), _NOT_CONST
        case ListLit(elements=elements):
            return _plan_list(elements)
        case MapLit(entries=entries):
            return _plan_map(entries)
        case Comprehension():
            return _plan_comprehension(expr), _NOT_CONST
        case Call():
            return _plan_call(expr)
    raise CelEvalError(f"unsupported expression node {type(expr).__name__}")


def _plan_ident(name: str) -> Node:
    def ident(frame: Frame) -> Any:
        frame.cost += SELECT_AND_IDENT_COST
        if frame.cost > frame.limit:
            raise CostLimitExceededError("operation cancelled: actual cost limit exceeded")
        return frame.vars.get(name, UNKNOWN)

    return ident


def _computed_operand_cost(operand: Expr) -> int:
    """Measured against OpenFGA: selecting, or indexing with a constant, into a computed value (a
    literal, a call: ``[p][0]``, ``{"k": p}.k``) costs 1 more than into a variable or a selection
    chain from one (cel-go evaluates the former as a relative attribute, charged once more).
    Indexing with a computed key (``[p][i]``) is a plain call."""
    if isinstance(operand, (Ident, Select)):
        return 0
    if isinstance(operand, Call) and operand.function == "_[_]" and operand.target is None:
        return 0
    return 1


def _plan_computed_index(planned: list[tuple[Node, Any]], *, const_key: bool) -> tuple[Node, Any]:
    """``operand[key]`` on a computed operand (see :func:`_computed_operand_cost`): 2 with a
    constant key; with a computed key 2 when it succeeds and 1 when it fails, as measured."""
    (container_node, _), (key_node, _) = planned
    index = LIBRARY["_[_]"].impl
    assert index is not None

    def computed_index(frame: Frame) -> Any:
        container = container_node(frame)
        key = key_node(frame)
        if container is UNKNOWN or key is UNKNOWN:
            _charge(frame, 1)
            return UNKNOWN
        try:
            result = index(container, key)
        except CelEvalError:
            _charge(frame, 2 if const_key else 1)
            raise
        _charge(frame, 2)
        return result

    return computed_index, _NOT_CONST


def _plan_select(expr: Select) -> Node:
    operand, _ = _plan(expr.operand)
    field = expr.field
    select_cost = 1 + _computed_operand_cost(expr.operand)

    if expr.test_only:

        def has(frame: Frame) -> Any:
            value = operand(frame)
            _charge(frame, select_cost)
            if value is UNKNOWN:
                return UNKNOWN
            if isinstance(value, dict):
                return map_get(value, field)[0]
            return False  # cel-go: a value without fields has none of them

        return has

    def select(frame: Frame) -> Any:
        value = operand(frame)
        _charge(frame, select_cost)
        if value is UNKNOWN:
            return UNKNOWN
        if isinstance(value, dict):
            found, result = map_get(value, field)
            if not found:
                raise CelEvalError(f"no such key: {field}")
            return result
        raise CelEvalError(f"no such key: {field}")

    return select


def _plan_list(elements: tuple[Expr, ...]) -> tuple[Node, Any]:
    planned = [_plan(e) for e in elements]
    if all(c is not _NOT_CONST for _, c in planned):
        value = tuple(c for _, c in planned)
        return _const_node(value), value
    nodes = [n for n, _ in planned]

    def make_list(frame: Frame) -> Any:
        values = _elements(nodes, frame, LIST_CREATE_BASE_COST)
        return values if values is UNKNOWN else tuple(values)

    return make_list, _NOT_CONST


def _plan_map(entries: tuple[tuple[Expr, Expr], ...]) -> tuple[Node, Any]:
    planned = [(_plan(k), _plan(v)) for k, v in entries]
    if all(kc is not _NOT_CONST and vc is not _NOT_CONST for (_, kc), (_, vc) in planned):
        return _const_node(_build_map([(kc, vc) for (_, kc), (_, vc) in planned])), _NOT_CONST
    nodes = [(kn, vn) for (kn, _), (vn, _) in planned]

    flat_nodes = [n for pair in nodes for n in pair]

    def make_map(frame: Frame) -> Any:
        flat = _elements(flat_nodes, frame, MAP_CREATE_BASE_COST)
        if flat is UNKNOWN:
            return UNKNOWN
        return _build_map(list(zip(flat[::2], flat[1::2], strict=True)))

    return make_map, _NOT_CONST


def _elements(nodes: list[Node], frame: Frame, create_cost: int) -> Any:
    """The values of an aggregate literal's elements, or UNKNOWN. As measured against OpenFGA:
    the first error stops the evaluation (later elements are not evaluated), an unknown does
    not (a later error still wins), and the creation is charged either way."""
    values = []
    unknown = False
    try:
        for node in nodes:
            value = node(frame)
            if value is UNKNOWN:
                unknown = True
            values.append(value)
    finally:
        _charge(frame, create_cost)
    return UNKNOWN if unknown else values


def _build_map(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    result: dict[Any, Any] = {}
    for key, value in pairs:
        if type(key) not in (str, int, UInt, bool):
            raise CelEvalError(f"unsupported map key type: {type_name(key)}")
        for existing in list(result):  # a repeated key: the later entry wins, as in cel-go
            if type(existing) is type(key) and existing == key:
                del result[existing]
        result[key] = value
    return result


def _plan_call(expr: Call) -> tuple[Node, Any]:
    function = expr.function
    if function == "_||_" or function == "_&&_":
        return _plan_logical(expr), _NOT_CONST
    if function == "_?_:_":
        return _plan_ternary(expr), _NOT_CONST
    arg_exprs = expr.args if expr.target is None else (expr.target, *expr.args)
    planned = [_plan(a) for a in arg_exprs]
    entry = LIBRARY.get(function)
    if entry is None or entry.impl is None:
        # Unreachable from a checked expression; cel-go makes it an error value at runtime.
        message = (
            f"undeclared reference to '{expr.args[0].value}'"  # type: ignore[union-attr]
            if function == _UNDECLARED
            else "no such overload"
        )

        def unbound(frame: Frame) -> Any:
            raise CelEvalError(message)

        return unbound, _NOT_CONST
    impl, cost = entry.impl, entry.cost
    if function == "_[_]" and _computed_operand_cost(arg_exprs[0]):
        return _plan_computed_index(planned, const_key=isinstance(arg_exprs[1], Const))
    if entry.foldable and len(planned) == 1 and planned[0][1] is not _NOT_CONST:
        value = impl(planned[0][1])
        return _const_node(value), value
    if function == "@in" and planned[1][1] is not _NOT_CONST:
        membership = _plan_set_membership(planned[0], planned[1][1])
        if membership is not None:
            return membership
    nodes = tuple(n for n, _ in planned)

    # As measured against OpenFGA: arguments are evaluated left to right and the first error stops
    # the call (later arguments are not evaluated) and is its result, even beside an unknown
    # argument (``x + [][1]`` fails without ``x``); a call that passes an error on is not
    # charged. A call with an unknown argument is charged as usual and is unknown.
    if len(nodes) == 1:
        (only,) = nodes

        def call1(frame: Frame) -> Any:
            arg = only(frame)
            if arg is UNKNOWN:
                _charge(frame, 1)
                return UNKNOWN
            try:
                result = impl(arg)
            finally:
                _charge(frame, cost((arg,)))
            return result

        return call1, _NOT_CONST

    if len(nodes) == 2:
        first, second = nodes

        def call2(frame: Frame) -> Any:
            a = first(frame)
            b = second(frame)
            if a is UNKNOWN or b is UNKNOWN:
                _charge(frame, 1)
                return UNKNOWN
            try:
                result = impl(a, b)
            finally:
                _charge(frame, cost((a, b)))
            return result

        return call2, _NOT_CONST

    def call(frame: Frame) -> Any:
        args = tuple(n(frame) for n in nodes)
        if any(a is UNKNOWN for a in args):
            _charge(frame, 1)
            return UNKNOWN
        try:
            result = impl(*args)
        finally:
            _charge(frame, cost(args))
        return result

    return call, _NOT_CONST


def _membership_key(value: Any) -> tuple[str, Any] | None:
    t = type(value)
    if t is bool:
        return ("bool", value)
    if t is int or t is UInt or t is float:
        return ("number", value)  # 1 == 1.0 == 1u, as CEL's heterogeneous equality
    if t is str:
        return ("string", value)
    return None


def _plan_set_membership(element: tuple[Node, Any], container: Any) -> tuple[Node, Any] | None:
    """cel-go's ``OptOptimize`` turns ``x in [constants]`` into a hash lookup: an empty list is the
    constant false, and a list of primitives costs nothing beyond evaluating ``x``."""
    if not isinstance(container, tuple):
        return None
    if not container:
        return _const_node(False), False
    keys = [_membership_key(item) for item in container]
    if any(k is None for k in keys):
        return None
    members = frozenset(keys)
    node, _ = element

    def set_membership(frame: Frame) -> Any:
        value = node(frame)
        if value is UNKNOWN:
            return UNKNOWN
        return _membership_key(value) in members

    return set_membership, _NOT_CONST


def _plan_logical(expr: Call) -> Node:
    left, _ = _plan(expr.args[0])
    right, _ = _plan(expr.args[1])
    decisive = expr.function == "_||_"  # True decides ||, False decides &&

    def logical(frame: Frame) -> Any:
        lhs = _outcome(left, frame)
        if lhs is decisive:
            return decisive
        return _finish(_logical(lhs, _outcome(right, frame), decisive))

    return logical


def _plan_branch(expr: Expr) -> Node:
    """A ternary branch. cel-go resolves a branch that is an attribute (an identifier, possibly
    followed by field selections and constant indexes) inside the conditional attribute, where
    the cost observer does not see it: such a branch costs nothing."""
    free = _plan_free_attribute(expr)
    return free if free is not None else _plan(expr)[0]


def _plan_free_attribute(expr: Expr) -> Node | None:
    if isinstance(expr, Ident):
        name = expr.name
        return lambda frame: frame.vars.get(name, UNKNOWN)
    if isinstance(expr, Select) and not expr.test_only:
        operand, key = _plan_free_attribute(expr.operand), expr.field
    elif (
        isinstance(expr, Call)
        and expr.function == "_[_]"
        and expr.target is None
        and isinstance(expr.args[1], Const)
    ):
        index_key: Any = expr.args[1].value
        if expr.args[1].kind == "uint":
            index_key = UInt(index_key)
        operand, key = _plan_free_attribute(expr.args[0]), index_key
    else:
        return None
    if operand is None:
        return None
    is_select = isinstance(expr, Select)
    index = LIBRARY["_[_]"].impl
    assert index is not None

    def attribute(frame: Frame) -> Any:
        value = operand(frame)
        if value is UNKNOWN:
            return UNKNOWN
        if is_select and not isinstance(value, dict):
            raise CelEvalError(f"no such key: {key}")
        return index(value, key)

    return attribute


def _plan_ternary(expr: Call) -> Node:
    cond, _ = _plan(expr.args[0])
    truthy = _plan_branch(expr.args[1])
    falsy = _plan_branch(expr.args[2])

    def ternary(frame: Frame) -> Any:
        c = cond(frame)
        if c is True:
            return truthy(frame)
        if c is False:
            return falsy(frame)
        if c is UNKNOWN:
            return UNKNOWN
        raise CelEvalError("no such overload")

    return ternary


def _iteration_items(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return value
    if isinstance(value, dict):
        return list(value)
    raise CelEvalError(f"cannot iterate over a value of type {type_name(value)}")


class _Binding:
    """Binds a comprehension variable in the frame, restoring any shadowed binding afterwards."""

    __slots__ = ("frame", "name", "saved")

    _ABSENT = object()

    def __init__(self, frame: Frame, name: str) -> None:
        self.frame = frame
        self.name = name
        self.saved = frame.vars.get(name, self._ABSENT)

    def set(self, value: Any) -> None:
        self.frame.vars[self.name] = value

    def restore(self) -> None:
        if self.saved is self._ABSENT:
            self.frame.vars.pop(self.name, None)
        else:
            self.frame.vars[self.name] = self.saved


def _plan_comprehension(expr: Comprehension) -> Node:
    iter_range, _ = _plan(expr.iter_range)
    body, body_const = _plan(expr.body)
    # map's step is ``__result__ + [t]``: with a constant t, cel-go folds ``[t]`` and does not
    # charge a list creation per element.
    const_body = body_const is not _NOT_CONST
    predicate = _plan(expr.predicate)[0] if expr.predicate is not None else None
    var = expr.var
    macro = expr.macro

    def comprehension(frame: Frame) -> Any:
        rng = iter_range(frame)
        if rng is UNKNOWN:
            return UNKNOWN
        items = _iteration_items(rng)
        binding = _Binding(frame, var)
        try:
            if macro == "all" or macro == "exists":
                return _fold_logical(frame, items, binding, body, macro == "all")
            if macro == "exists_one":
                return _fold_exists_one(frame, items, binding, body)
            return _fold_collect(
                frame, items, binding, body, predicate, macro == "filter", const_body
            )
        finally:
            binding.restore()

    return comprehension


def _fold_logical(frame: Frame, items: Any, binding: _Binding, body: Node, is_all: bool) -> Any:
    # all:    loop condition @not_strictly_false(__result__)  (ident + call = 2), step __result__ && p
    # exists: loop condition @not_strictly_false(!__result__) (ident + ! + call = 3), step __result__ || p
    result: Any = is_all
    stop = not is_all
    condition_cost = 2 if is_all else 3
    for item in items:
        _charge(frame, condition_cost)
        if result is stop:
            break
        binding.set(item)
        _charge(frame, SELECT_AND_IDENT_COST)
        step = _outcome(body, frame)
        result = _logical(result, step, not is_all)
    _charge(frame, SELECT_AND_IDENT_COST)
    return _finish(result)


def _fold_exists_one(frame: Frame, items: Any, binding: _Binding, body: Node) -> Any:
    # step: p ? __result__ + 1 : __result__ (ident + add = 2 when p); result: __result__ == 1.
    # The loop never stops early: an error in p becomes the accumulator (the last one wins, as
    # the step's conditional replaces it), and later steps carry it.
    count: Any = 0
    for item in items:
        binding.set(item)
        matched = _outcome(body, frame)
        if matched is True:
            failed = type(count) is CelEvalError
            _charge(frame, SELECT_AND_IDENT_COST + (0 if failed else 1))
            if type(count) is int:
                count += 1
        elif matched is False:
            pass  # the false branch is the bare accumulator: free (see _plan_branch)
        elif matched is UNKNOWN or type(matched) is CelEvalError:
            count = matched
        else:
            count = CelEvalError("no such overload")
    if type(count) is CelEvalError:
        _charge(frame, SELECT_AND_IDENT_COST)
        raise count
    _charge(frame, SELECT_AND_IDENT_COST + 1)
    return UNKNOWN if count is UNKNOWN else count == 1


def _fold_collect(
    frame: Frame,
    items: Any,
    binding: _Binding,
    body: Node,
    predicate: Node | None,
    is_filter: bool,
    const_body: bool,
) -> Any:
    # map:    step __result__ + [t]                   (ident + list literal + add = 12, plus t;
    #                                                  [t] folded when t is constant: 2)
    # filter: step p ? __result__ + [x] : __result__ (13 when p, else free)
    # An error in p replaces the accumulator (the conditional yields it); an error in t is kept
    # from then on (``error + [t]`` is the left error); neither stops the loop.
    collected: Any = []
    if is_filter:
        predicate, body = body, _plan_ident(binding.name)
    list_cost = 0 if const_body and not is_filter else LIST_CREATE_BASE_COST
    for item in items:
        binding.set(item)
        if predicate is not None:
            keep = _outcome(predicate, frame)
            if keep is UNKNOWN or type(keep) is CelEvalError:
                collected = keep
                continue
            if keep is not True and keep is not False:
                collected = CelEvalError("no such overload")
                continue
            if not keep:
                continue  # the false branch is the bare accumulator: free (see _plan_branch)
        _charge(frame, SELECT_AND_IDENT_COST)
        value = _outcome(body, frame)
        failed = type(collected) is CelEvalError or type(value) is CelEvalError
        _charge(frame, list_cost + (0 if failed else 1))
        if type(collected) is CelEvalError:
            continue
        if type(value) is CelEvalError or value is UNKNOWN:
            collected = value
        elif collected is not UNKNOWN:
            collected.append(value)
    _charge(frame, SELECT_AND_IDENT_COST)
    if type(collected) is CelEvalError:
        raise collected
    return collected if collected is UNKNOWN else tuple(collected)
