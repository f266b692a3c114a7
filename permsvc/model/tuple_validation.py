"""Validate relationship tuples against a model, as OpenFGA's ``ValidateTupleForWrite`` /
``ValidateTupleForRead`` (internal/validation/validation.go) do.

:func:`validate_tuple` is what Write and contextual tuples go through: a failure raises
:class:`TupleValidationError` (OpenFGA ``invalid_tuple``, 2027) with OpenFGA's message
``Invalid tuple '<object>#<relation>@<user>'. Reason: <reason>``. :func:`tuple_fits_model` is the
read-time predicate: tuples written under an older model that no longer fit are ignored.

Before any rule: no name may hold a control character (:func:`~permsvc.core.refs.check_tuple_text`,
``ControlCharacterError``, ``400 validation_error``), for every caller of this module alike.

Rules, in OpenFGA's order:

1. the user is ``type:id``, ``type:id#relation`` or ``type:*``; its type exists; a userset's
   relation exists on its type;
2. the object is ``type:id`` (not a wildcard) of an existing type, and the relation exists on it;
3. a tupleset relation (``parent`` in ``viewer from parent``) holds only plain objects: no
   wildcard, no userset;
4. the user matches one of the relation's direct type restrictions (``user``, ``group#member``,
   ``user:*``);
5. a tuple without a condition needs a matching restriction without one (``[user with c]`` alone
   requires the condition); a tuple's condition must exist and be named by a restriction of its
   user type; its persisted context may only name the condition's parameters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from permsvc.core.errors import PermsvcError
from permsvc.core.refs import check_tuple_text, reject_control_characters
from permsvc.model.conditions import (
    ConditionCompileError,
    ConditionEvaluationError,
    compile_condition,
)
from permsvc.model.schema import This, TupleToUserset, leaves

if TYPE_CHECKING:
    from permsvc.core.refs import TupleKey
    from permsvc.model.schema import Condition
    from permsvc.model.typesystem import TypeSystem

__all__ = (
    "TupleValidationError",
    "context_type_problem",
    "invalid_tuple_message",
    "object_relation_problem",
    "tuple_fits_model",
    "tuple_problem",
    "user_problem",
    "validate_tuple",
)


class TupleValidationError(PermsvcError):
    """A tuple does not fit the model: OpenFGA ``invalid_tuple`` (2027), also for contextual tuples.

    ``contextual`` marks a contextual tuple (the conformance suites expect 2027 for those in Check,
    ListObjects and ListUsers too); ``reason`` is the rule that failed.
    """

    openfga_code = 2027
    openfga_name = "invalid_tuple"

    def __init__(
        self, detail: str, *, tuple_str: str, reason: str, contextual: bool = False
    ) -> None:
        super().__init__(detail)
        self.tuple_str = tuple_str
        self.reason = reason
        self.contextual = contextual


_OBJECT = re.compile(r"[^\s:#@]+:[^\s#]+")
"""``type:id``: no whitespace or ``#`` anywhere, no ``@`` in the type (the id may hold ``:``)."""
_WHITESPACE = re.compile(r"\s")
_RELATION = re.compile(r"[^\s:#@]+")


def _is_valid_object(value: str) -> bool:
    return _OBJECT.fullmatch(value) is not None


@lru_cache(maxsize=256)
def _tuplesets(ts: TypeSystem) -> frozenset[tuple[str, str]]:
    """``(type, relation)`` of every relation used as the tupleset of some ``x from <relation>``.

    Cached per TypeSystem (immutable, compared by identity): contextual tuples are validated on
    every request.
    """
    return frozenset(
        (td.name, leaf.tupleset)
        for td in ts.model.type_definitions
        for rd in td.relations.values()
        for leaf in leaves(rd.rewrite)
        if isinstance(leaf, TupleToUserset)
    )


def user_problem(ts: TypeSystem, user: str) -> str:
    reject_control_characters("user", user)
    if not user or _WHITESPACE.search(user):
        return "the 'user' field is malformed"
    obj, sep, urel = user.partition("#")
    if sep and (not urel or "#" in urel):
        return "the 'user' field is malformed"
    if not _is_valid_object(obj):
        return (
            "the 'user' field must be an object (e.g. document:1) or an 'object#relation' or a typed "
            "wildcard (e.g. group:*)"
        )
    utype = obj.partition(":")[0]
    if not ts.has_type(utype):
        return f"type '{utype}' not found"
    if sep and ts.get_relation(utype, urel) is None:
        return f"relation '{utype}#{urel}' not found"
    return ""


def object_relation_problem(ts: TypeSystem, key: TupleKey) -> str:
    reject_control_characters("object", key.object)
    reject_control_characters("relation", key.relation)
    if not _is_valid_object(key.object):
        return "invalid 'object' field format"
    otype, _, oid = key.object.partition(":")
    if oid == "*":
        return "the 'object' field cannot reference a typed wildcard"
    if not ts.has_type(otype):
        return f"type '{otype}' not found"
    if not _RELATION.fullmatch(key.relation):
        return "the 'relation' field is malformed"
    if ts.get_relation(otype, key.relation) is None:
        return f"relation '{otype}#{key.relation}' not found"
    return ""


def _restriction_problem(ts: TypeSystem, key: TupleKey) -> str:
    otype = key.object.partition(":")[0]
    relation = key.relation
    user = key.user
    uobj, sep, urel = user.partition("#")
    utype, _, uid = uobj.partition(":")
    wildcard = uid == "*" and not sep
    rd = ts.relation(otype, relation)
    if (otype, relation) in _tuplesets(ts):
        if not isinstance(rd.rewrite, This):
            return f"unexpected rewrite encountered with tupleset relation '{otype}#{relation}'"
        if wildcard:
            return f"unexpected wildcard relationship with tupleset relation '{otype}#{relation}'"
        if sep:
            return f"unexpected user '{user}' with tupleset relation '{otype}#{relation}'"
    refs = rd.directly_related
    if sep:
        if not any(r.type == utype and r.relation == urel for r in refs):
            return f"'{utype}#{urel}' is not an allowed type restriction for '{otype}#{relation}'"
    elif wildcard:
        if not any(r.type == utype and r.wildcard for r in refs):
            return f"the typed wildcard '{user}' is not an allowed type restriction for '{otype}#{relation}'"
    elif not any(r.type == utype and not r.wildcard and not r.relation for r in refs):
        return f"type '{utype}' is not an allowed type restriction for '{otype}#{relation}'"
    cond = key.condition
    if cond is None:
        for r in refs:
            if r.condition or r.type != utype:
                continue
            if r.relation and r.relation != urel:
                continue
            if r.wildcard and not wildcard:
                continue
            if not r.wildcard and not r.relation and wildcard:
                continue
            return ""
        return "condition is missing"
    definition = ts.condition(cond.name)
    if definition is None:
        return "undefined condition"
    if not any(r.type == utype and r.condition == cond.name for r in refs):
        return "invalid condition for type restriction"
    if cond.context:
        typed = context_type_problem(definition, cond.context)
        if typed:
            return typed
    for name in cond.context or {}:
        if name not in definition.parameters:
            return f"found invalid context parameter: {name}"
    return ""


def context_type_problem(definition: Condition, context: Mapping[str, Any]) -> str:
    """Why a tuple's persisted context does not convert to its condition's parameter types.

    OpenFGA casts the context to the typed parameters when a tuple is written (and when it is
    read back), so ``{"x": "ten"}`` for ``x: int`` is an invalid tuple, not an evaluation error
    on every later check.
    """
    try:
        compile_condition(definition).convert_context(context)
    except ConditionEvaluationError as exc:
        return str(exc).removeprefix("failed to evaluate relationship condition: ")
    except ConditionCompileError:
        return ""  # a model that does not compile was refused when it was written
    return ""


def tuple_problem(ts: TypeSystem, key: TupleKey) -> str:
    """Why a tuple cannot be written under the model (``""`` when it can).

    Raises:
        ControlCharacterError: a name holds a control character (not a model mismatch: no model
            can make it writable).
    """
    check_tuple_text(key)
    return (
        user_problem(ts, key.user)
        or object_relation_problem(ts, key)
        or _restriction_problem(ts, key)
    )


def invalid_tuple_message(key: TupleKey, reason: str) -> str:
    """OpenFGA's message for a tuple that cannot be written."""
    return f"Invalid tuple '{key.object}#{key.relation}@{key.user}'. Reason: {reason}"


def validate_tuple(ts: TypeSystem, key: TupleKey, *, contextual: bool = False) -> None:
    """OpenFGA's ``ValidateTupleForWrite``; raises :class:`TupleValidationError` with OpenFGA's message."""
    reason = tuple_problem(ts, key)
    if reason:
        raise TupleValidationError(
            invalid_tuple_message(key, reason),
            tuple_str=f"{key.object}#{key.relation}@{key.user}",
            reason=reason,
            contextual=contextual,
        )


def tuple_fits_model(ts: TypeSystem, key: TupleKey) -> bool:
    """Whether a stored tuple still fits the model (the read-time filter: stale tuples are ignored)."""
    try:
        return not tuple_problem(ts, key)
    except Exception:  # noqa: BLE001 - any malformed stored value simply does not fit
        return False
