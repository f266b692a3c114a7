"""OpenFGA's semantic rules for an authorization model, reporting every problem at once.

The rules are those OpenFGA's server applies when a model is written (``typesystem.NewAndValidate``
plus the API's field rules in ``openfga/v1/authzmodel.proto``):

- schema version ``1.1`` (``1.2`` for modular models); at most :data:`MAX_TYPES` types,
  :data:`MAX_CONDITIONS` conditions and parameters per condition, :data:`MAX_MODEL_BYTES` in
  protobuf form (:func:`model_proto_size`), :data:`MAX_EXPRESSION_BYTES` per condition expression;
- names: types ``^[^:#@\\s]{1,254}$``, relations, conditions and parameters ``^[^:#@\\s]{1,50}$``;
  ``self`` and ``this`` are reserved; no duplicate types;
- rewrites: a computed relation must exist and may not be the relation itself; in ``X from Y``,
  ``Y`` must be a relation of the type defined only as ``[...]`` (direct), and ``X`` must be a
  relation of at least one of ``Y``'s types;
- type restrictions: a relation has ``[...]`` exactly when its rewrite assigns directly; every
  restricted type, ``type#relation`` and ``with`` condition must exist; a tupleset relation may
  only list plain types (no ``type:*``, no ``type#relation``);
- reachability: every relation needs an entrypoint (some path to a directly assignable type),
  and computed relations must not form a cycle;
- conditions: the key matches the name, parameter types are known (``map``/``list`` take exactly
  one element type), and, when :mod:`permsvc.model.conditions` is available, the CEL expression
  compiles.

OpenFGA's server stops at the first problem; we report all of them. Reachability is analysed
only once the model is otherwise well-formed, because it walks through the references the other
rules check. Each issue is located through the :data:`~permsvc.model.compile.SourceMap` when the
model came from DSL, else names ``type#relation``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from permsvc.core.errors import PermsvcError
from permsvc.core.refs import CONTROL_CHARACTERS
from permsvc.model.errors import ModelError, ModelIssue, ModelValidationError
from permsvc.model.schema import (
    CONDITION_TYPE_NAMES,
    PROTO_TYPE_NAMES,
    ComputedUserset,
    Difference,
    Intersection,
    This,
    TupleToUserset,
    Union,
    leaves,
)

if TYPE_CHECKING:
    from permsvc.model.schema import (
        AuthorizationModel,
        RelationDefinition,
        Rewrite,
        SourcePos,
        TypeDefinition,
    )

__all__ = (
    "MAX_CONDITIONS",
    "MAX_EXPRESSION_BYTES",
    "MAX_MODEL_BYTES",
    "MAX_TYPES",
    "SUPPORTED_SCHEMA_VERSIONS",
    "collect_issues",
    "model_proto_size",
    "validate_model",
)

SUPPORTED_SCHEMA_VERSIONS = ("1.1", "1.2")
MAX_TYPES = 100
MAX_CONDITIONS = 25
MAX_PARAMETERS = 25
MAX_EXPRESSION_BYTES = 512
MAX_MODEL_BYTES = 256 * 1024
_MAX_ANALYSIS_STEPS = 50_000

_TYPE_NAME = re.compile(rf"[^:#@\s{CONTROL_CHARACTERS}]{{1,254}}")
_SHORT_NAME = re.compile(rf"[^:#@\s{CONTROL_CHARACTERS}]{{1,50}}")
"""Type, relation, condition and parameter names: OpenFGA's patterns, and no control characters
(:data:`~permsvc.core.refs.CONTROL_CHARACTERS`)."""
_RESERVED = ("self", "this")
_CONTAINERS = ("TYPE_NAME_MAP", "TYPE_NAME_LIST")
_KNOWN_PARAM_TYPES = frozenset(CONDITION_TYPE_NAMES.values())
_BREAKS_REACHABILITY = frozenset({"undefined-relation", "undefined-type", "duplicate-type"})

Locations = Mapping[tuple[str, ...], "SourcePos"]


class _AnalysisBudgetError(Exception):
    """The reachability analysis exceeded its step budget."""


def _condition_compiler() -> Callable[[Any], Any] | None:
    try:
        module = importlib.import_module("permsvc.model.conditions")
    except ModuleNotFoundError as err:
        if err.name == "permsvc.model.conditions":
            return None
        raise
    return getattr(module, "compile_condition", None)


class _Validator:
    def __init__(self, model: AuthorizationModel, locations: Locations) -> None:
        self.model = model
        self.locations = locations
        self.issues: list[ModelIssue] = []
        self.types: dict[str, TypeDefinition] = {}
        for td in model.type_definitions:
            self.types.setdefault(td.name, td)
        self.steps = 0

    # -- reporting -------------------------------------------------------------------------

    def add(
        self,
        message: str,
        *,
        rule: str,
        key: tuple[str, ...] = (),
        object_type: str = "",
        relation: str = "",
        pos: SourcePos | None = None,
    ) -> None:
        where = self.locations.get(key) if key else None
        if where is None:
            where = pos
        if where is None and object_type:
            rd = (
                self.types[object_type].relations.get(relation)
                if relation and object_type in self.types
                else None
            )
            where = (rd.pos if rd else None) or (
                self.types[object_type].pos if object_type in self.types else None
            )
        if where is None:
            subject = f"{object_type}#{relation}" if relation else object_type
            if subject and f"'{subject}'" not in message:
                message = f"{subject}: {message}"
            self.issues.append(
                ModelIssue(message=message, object_type=object_type, relation=relation, rule=rule)
            )
            return
        self.issues.append(
            ModelIssue(
                message=message,
                line=where.line,
                column=where.column,
                file=where.file,
                object_type=object_type,
                relation=relation,
                rule=rule,
            )
        )

    # -- model-wide rules ------------------------------------------------------------------

    def run(self) -> list[ModelIssue]:
        m = self.model
        if m.schema_version not in SUPPORTED_SCHEMA_VERSIONS:
            self.add(
                f"unsupported schema version '{m.schema_version}': write 'schema 1.1' "
                "(modular models use 1.2)",
                rule="invalid-schema",
                key=("schema",),
            )
        if len(m.type_definitions) > MAX_TYPES:
            self.add(
                f"the model defines {len(m.type_definitions)} types; OpenFGA allows at most {MAX_TYPES}",
                rule="limit",
                key=("schema",),
            )
        size = model_proto_size(m)
        if size > MAX_MODEL_BYTES:
            self.add(
                f"the model is {size} bytes in OpenFGA's binary (protobuf) form; OpenFGA allows at most "
                f"{MAX_MODEL_BYTES} (256 KiB)",
                rule="limit",
                key=("schema",),
            )
        self.names()
        for td in m.type_definitions:
            if self.types[td.name] is not td:
                continue
            for name, rd in td.relations.items():
                self.rewrite(td.name, name, rd.rewrite, rd)
                self.restrictions(td.name, name, rd)
        self.conditions()
        if not any(i.rule in _BREAKS_REACHABILITY for i in self.issues):
            self.reachability()
        return self.issues

    def names(self) -> None:
        seen: set[str] = set()
        for td in self.model.type_definitions:
            key = ("type", td.name)
            if td.name in seen:
                self.add(
                    f"type '{td.name}' is defined more than once; each type may be defined only once",
                    rule="duplicate-type",
                    pos=td.pos,
                    object_type=td.name,
                )
                continue
            seen.add(td.name)
            if td.name in _RESERVED:
                self.add(
                    f"a type cannot be named '{td.name}': 'self' and 'this' are reserved",
                    rule="reserved-name",
                    key=key,
                    object_type=td.name,
                )
            elif not _TYPE_NAME.fullmatch(td.name):
                self.add(
                    f"type name '{_short(td.name)}' is invalid: it must be 1 to 254 characters without "
                    "':', '#', '@', whitespace or control characters",
                    rule="invalid-name",
                    key=key,
                    object_type=td.name,
                )
            for rel in td.relations:
                rkey = ("relation", td.name, rel)
                if rel in _RESERVED:
                    self.add(
                        f"a relation cannot be named '{rel}': 'self' and 'this' are reserved",
                        rule="reserved-name",
                        key=rkey,
                        object_type=td.name,
                        relation=rel,
                    )
                elif not _SHORT_NAME.fullmatch(rel):
                    self.add(
                        f"relation name '{_short(rel)}' of type '{td.name}' is invalid: it must be 1 to 50 "
                        "characters without ':', '#', '@', whitespace or control characters",
                        rule="invalid-name",
                        key=rkey,
                        object_type=td.name,
                        relation=rel,
                    )

    # -- relations -------------------------------------------------------------------------

    def relation_of(self, object_type: str, relation: str) -> RelationDefinition | None:
        td = self.types.get(object_type)
        return td.relations.get(relation) if td else None

    def rewrite(self, t: str, rel: str, rw: Rewrite, rd: RelationDefinition) -> None:
        add = partial(self.add, object_type=t, relation=rel)
        match rw:
            case This():
                return
            case ComputedUserset(relation=target):
                key: tuple[str, ...] = ("computed", t, rel, target)
                if target == rel:
                    add(
                        f"'{t}#{rel}' cannot be defined as just itself: a relation that only refers to "
                        "itself can never be satisfied (invalid userset rewrite)",
                        rule="invalid-rewrite",
                        key=key,
                    )
                elif self.relation_of(t, target) is None:
                    add(
                        f"relation '{target}' is not defined on type '{t}' (used in the definition of "
                        f"'{rel}')",
                        rule="undefined-relation",
                        key=key,
                    )
            case TupleToUserset(tupleset=ts, computed_relation=target):
                key = ("ttu", t, rel, ts, target)
                ts_def = self.relation_of(t, ts)
                if ts_def is None:
                    add(
                        f"'{target} from {ts}': '{ts}' is not a relation of type '{t}'",
                        rule="undefined-relation",
                        key=("tupleset", t, rel, ts),
                    )
                    return
                if not isinstance(ts_def.rewrite, This):
                    add(
                        f"'{target} from {ts}': '{t}#{ts}' is used after 'from', so it must be defined only "
                        f"by direct type restrictions (e.g. 'define {ts}: [folder]'), with no 'or'/'and'/"
                        "'but not' or computed relations",
                        rule="tupleset-not-direct",
                        key=("tupleset", t, rel, ts),
                    )
                    return
                if not any(self.relation_of(r.type, target) for r in ts_def.directly_related):
                    listed = ", ".join(sorted({r.type for r in ts_def.directly_related})) or "none"
                    add(
                        f"'{target} from {ts}': none of the types that '{t}#{ts}' can hold ({listed}) "
                        f"defines a relation '{target}'",
                        rule="undefined-relation",
                        key=key,
                    )
            case Union(children=children) | Intersection(children=children):
                for child in children:
                    self.rewrite(t, rel, child, rd)
            case Difference(base=base, subtract=subtract):
                self.rewrite(t, rel, base, rd)
                self.rewrite(t, rel, subtract, rd)

    def is_tupleset(self, t: str, rel: str) -> bool:
        td = self.types[t]
        return any(
            isinstance(leaf, TupleToUserset) and leaf.tupleset == rel
            for r in td.relations.values()
            for leaf in leaves(r.rewrite)
        )

    def restrictions(self, t: str, rel: str, rd: RelationDefinition) -> None:
        add = partial(self.add, object_type=t, relation=rel)
        assignable = any(isinstance(leaf, This) for leaf in leaves(rd.rewrite))
        if assignable and not rd.directly_related:
            add(
                f"'{t}#{rel}' is directly assignable but lists no types: add at least one type "
                "restriction (directly_related_user_types)",
                rule="assignable-without-types",
            )
        if not assignable and rd.directly_related:
            add(
                f"'{t}#{rel}' lists directly related types but its rewrite has no direct assignment "
                "('this'): remove the types or add 'this'",
                rule="types-without-assignable",
            )
        tupleset = None
        seen: set[str] = set()
        for ref in rd.directly_related:
            text = str(ref)
            key = ("restriction", t, rel, text)
            if text in seen:
                continue
            seen.add(text)
            if ref.type not in self.types:
                add(
                    f"type '{ref.type}' in the type restrictions of '{t}#{rel}' is not defined in the model",
                    rule="undefined-type",
                    key=key,
                )
                continue
            if ref.relation or ref.wildcard:
                if tupleset is None:
                    tupleset = self.is_tupleset(t, rel)
                if tupleset:
                    add(
                        f"'{t}#{rel}' is used after 'from', so its type restrictions may only name plain "
                        f"types such as '{ref.type}', not '{text}'",
                        rule="invalid-tupleset-restriction",
                        key=key,
                    )
                if ref.relation and self.relation_of(ref.type, ref.relation) is None:
                    add(
                        f"'{ref.type}#{ref.relation}' in the type restrictions of '{t}#{rel}': type "
                        f"'{ref.type}' has no relation '{ref.relation}'",
                        rule="undefined-relation",
                        key=key,
                    )
            if ref.condition and ref.condition not in self.model.conditions:
                add(
                    f"condition '{ref.condition}' used in '{text}' on '{t}#{rel}' is not defined in the model",
                    rule="undefined-condition",
                    key=("restriction_condition", t, rel, text),
                )

    # -- conditions ------------------------------------------------------------------------

    def conditions(self) -> None:
        conds = self.model.conditions
        if len(conds) > MAX_CONDITIONS:
            self.add(
                f"the model defines {len(conds)} conditions; OpenFGA allows at most {MAX_CONDITIONS}",
                rule="limit",
                key=("schema",),
            )
        compiler = _condition_compiler()
        for key, cond in conds.items():
            ckey = ("condition", key)
            add = partial(self.add, pos=cond.pos)
            ok = True
            if key != cond.name:
                add(
                    f"condition key '{key}' does not match condition name '{cond.name}'",
                    rule="condition-name-mismatch",
                    key=ckey,
                )
                ok = False
            if not _SHORT_NAME.fullmatch(key):
                add(
                    f"condition name '{_short(key)}' is invalid: it must be 1 to 50 characters without ':', "
                    "'#', '@', whitespace or control characters",
                    rule="invalid-name",
                    key=ckey,
                )
                ok = False
            if len(cond.parameters) > MAX_PARAMETERS:
                add(
                    f"condition '{key}' has {len(cond.parameters)} parameters; OpenFGA allows at most "
                    f"{MAX_PARAMETERS}",
                    rule="limit",
                    key=ckey,
                )
            if len(cond.expression.encode()) > MAX_EXPRESSION_BYTES:
                add(
                    f"the expression of condition '{key}' is {len(cond.expression.encode())} bytes; OpenFGA "
                    f"allows at most {MAX_EXPRESSION_BYTES}",
                    rule="limit",
                    key=ckey,
                )
            for pname, param in cond.parameters.items():
                pkey = ("param", key, pname)
                if not _SHORT_NAME.fullmatch(pname):
                    add(
                        f"parameter name '{_short(pname)}' of condition '{key}' is invalid",
                        rule="invalid-name",
                        key=pkey,
                    )
                    ok = False
                problem = _param_problem(param.type_name, param.generic_types)
                if problem:
                    add(
                        f"parameter '{pname}' of condition '{key}': {problem}",
                        rule="invalid-parameter-type",
                        key=pkey,
                    )
                    ok = False
            if not ok:
                continue
            if compiler is not None:
                self.compile_condition(compiler, key, cond)
            elif not cond.expression.strip():
                add(
                    f"condition '{key}' has an empty expression",
                    rule="condition",
                    key=ckey,
                )

    def compile_condition(self, compiler: Callable[[Any], Any], key: str, cond: Any) -> None:
        try:
            compiler(cond)
        except ModelError as err:
            messages = [issue.message for issue in err.issues]
        except (PermsvcError, ValueError) as err:
            messages = [str(err)]
        else:
            return
        for message in messages:
            # One line per issue: the issue is already located at the condition, so CEL's caret
            # drawing of the expression is dropped.
            first = message.strip().splitlines()[0] if message.strip() else "invalid expression"
            if f"'{key}'" not in first:
                first = f"condition '{key}': {first}"
            self.add(first, rule="condition", key=("condition", key), pos=cond.pos)

    # -- reachability ----------------------------------------------------------------------

    def reachability(self) -> None:
        rels = {t: td.relations for t, td in self.types.items()}
        faulty = {(i.object_type, i.relation) for i in self.issues}
        cyclic = self.relations_reaching_a_cycle()
        fixpoint: dict[tuple[str, str], bool] | None = None
        for td in self.model.type_definitions:
            for name, rd in td.relations.items():
                if (td.name, name) in faulty:
                    continue
                key = ("relation", td.name, name)
                try:
                    if self.steps > _MAX_ANALYSIS_STEPS:
                        raise _AnalysisBudgetError
                    has, loop = self.entrypoints(rels, td.name, name, rd.rewrite, {})
                except (_AnalysisBudgetError, RecursionError):
                    # Too deep or too branching for the faithful port of OpenFGA's walk: decide
                    # with the equivalent least fixpoint instead, which is linear in the model.
                    if fixpoint is None:
                        fixpoint = _entrypoint_fixpoint(rels)
                    has, loop = fixpoint[(td.name, name)], False
                node = f"'{td.name}#{name}'"
                if not has and loop:
                    rule = "no-entrypoint"
                    message = (
                        f"{node} is impossible to satisfy: its definition loops back to itself "
                        "before reaching any directly assignable type (potential loop)"
                    )
                elif not has:
                    rule = "no-entrypoint"
                    message = (
                        f"{node} is impossible to satisfy: no path from it reaches a directly "
                        "assignable type such as [user] (no entrypoint)"
                    )
                elif (td.name, name) in cyclic:
                    rule = "cycle"
                    message = (
                        f"{node} is part of a cycle of computed relations; an authorization model "
                        "cannot contain a cycle"
                    )
                else:
                    continue
                self.add(message, rule=rule, key=key, object_type=td.name, relation=name)

    def relations_reaching_a_cycle(self) -> set[tuple[str, str]]:
        """Find the relations whose computed references lead into a cycle (OpenFGA's ``HasCycle``).

        A computed reference is ``define a: b``, also inside ``or``/``and``/``but not``. All
        relations are decided at once, by peeling off those whose references all end.
        """
        out: set[tuple[str, str]] = set()
        for t, td in self.types.items():
            edges = {
                name: {
                    leaf.relation
                    for leaf in leaves(rd.rewrite)
                    if isinstance(leaf, ComputedUserset) and leaf.relation in td.relations
                }
                for name, rd in td.relations.items()
            }
            pending = {name: len(targets) for name, targets in edges.items()}
            referrers: dict[str, list[str]] = {name: [] for name in edges}
            for name, targets in edges.items():
                for target in targets:
                    referrers[target].append(name)
            done = [name for name, n in pending.items() if n == 0]
            while done:
                name = done.pop()
                for referrer in referrers[name]:
                    pending[referrer] -= 1
                    if pending[referrer] == 0:
                        done.append(referrer)
            out.update((t, name) for name, n in pending.items() if n > 0)
        return out

    def tick(self) -> None:
        self.steps += 1
        if self.steps > _MAX_ANALYSIS_STEPS:
            raise _AnalysisBudgetError

    def entrypoints(
        self,
        rels: dict[str, dict[str, RelationDefinition]],
        t: str,
        rel: str,
        rw: Rewrite,
        visited: dict[str, dict[str, bool]],
    ) -> tuple[bool, bool]:
        """OpenFGA's ``hasEntrypoints``: (has an entrypoint, failed because of a loop).

        ``visited`` is copied shallowly on entry, exactly as the Go code's ``maps.Clone``: the
        per-type inner maps are shared between siblings, which decides some verdicts.
        """
        self.tick()
        v = dict(visited)
        if t in v:
            v[t][rel] = False
        else:
            v[t] = {rel: False}
        relation = rels[t][rel]
        match rw:
            case This():
                for ref in relation.directly_related:
                    if not ref.relation or ref.wildcard:
                        v[t][rel] = True
                        return True, False
                    target = rels[ref.type][ref.relation]
                    if ref.relation in v.get(ref.type, {}):
                        continue
                    has, _ = self.entrypoints(rels, ref.type, ref.relation, target.rewrite, v)
                    if has:
                        return True, False
                return False, False
            case ComputedUserset(relation=target):
                if target in v.get(t, {}):
                    return v[t][target], True
                return self.entrypoints(rels, t, target, rels[t][target].rewrite, v)
            case TupleToUserset(tupleset=ts, computed_relation=target):
                for ref in rels[t][ts].directly_related:
                    candidate = rels.get(ref.type, {}).get(target)
                    if candidate is None:
                        continue
                    seen = v.get(ref.type, {})
                    if target in seen:
                        if seen[target]:
                            return True, False
                        continue
                    has, _ = self.entrypoints(rels, ref.type, target, candidate.rewrite, v)
                    if has:
                        return True, False
                return False, False
            case Union(children=children):
                loop = False
                for child in children:
                    has, child_loop = self.entrypoints(rels, t, rel, child, visited)
                    if has:
                        return True, False
                    loop = loop or child_loop
                return False, loop
            case Intersection(children=children):
                for child in children:
                    has, child_loop = self.entrypoints(rels, t, rel, child, visited)
                    if not has:
                        return False, child_loop
                return True, False
            case Difference(base=base, subtract=subtract):
                for part in (base, subtract):
                    has, loop = self.entrypoints(rels, t, rel, part, visited)
                    if not has:
                        return False, loop
                return True, False
        return False, False


def _varint_len(n: int) -> int:
    size = 1
    while n >= 0x80:
        n >>= 7
        size += 1
    return size


def _field(body: int) -> int:
    """A length-delimited field (field number below 16) around a body of ``body`` bytes."""
    return 1 + _varint_len(body) + body


def _string(value: str) -> int:
    return _field(len(value.encode("utf-8", "surrogatepass"))) if value else 0


def _userset_size(rw: Rewrite) -> int:
    match rw:
        case This():
            return _field(0)
        case ComputedUserset(relation=rel):
            return _field(_string(rel))
        case TupleToUserset(tupleset=ts, computed_relation=rel):
            return _field(_field(_string(ts)) + _field(_string(rel)))
        case Union(children=children) | Intersection(children=children):
            return _field(sum(_field(_userset_size(c)) for c in children))
        case Difference(base=base, subtract=subtract):
            return _field(_field(_userset_size(base)) + _field(_userset_size(subtract)))
    return 0


def _source_size(module: str, file: str) -> int:
    return _string(module) + (_field(_string(file)) if file else 0)


def _param_size(param: Any) -> int:
    number = PROTO_TYPE_NAMES.index(param.type_name) if param.type_name in PROTO_TYPE_NAMES else 0
    return (1 + _varint_len(number) if number else 0) + sum(
        _field(_param_size(g)) for g in param.generic_types
    )


def model_proto_size(model: AuthorizationModel) -> int:
    """The model's size in OpenFGA's protobuf encoding (without an id): what its 256 KiB limit counts.

    Matches the ``size_kb`` that ``fga model validate`` reports.
    """
    size = _string(model.schema_version)
    for td in model.type_definitions:
        body = _string(td.name)
        meta = _source_size(td.module, td.source_file)
        for name, rd in td.relations.items():
            body += _field(_string(name) + _field(_userset_size(rd.rewrite)))
            refs = sum(
                _field(
                    _string(r.type)
                    + _string(r.relation)
                    + (_field(0) if r.wildcard else 0)
                    + _string(r.condition)
                )
                for r in rd.directly_related
            )
            meta += _field(_string(name) + _field(refs + _source_size(rd.module, rd.source_file)))
        if meta:
            body += _field(meta)
        size += _field(body)
    for key, cond in model.conditions.items():
        body = _string(cond.name) + _string(cond.expression)
        body += sum(
            _field(_string(name) + _field(_param_size(p))) for name, p in cond.parameters.items()
        )
        if cond.module or cond.source_file:
            body += _field(
                _string(cond.module)
                + (_field(_string(cond.source_file)) if cond.source_file else 0)
            )
        size += _field(_string(key) + _field(body))
    return size


def _entrypoint_fixpoint(
    rels: Mapping[str, Mapping[str, RelationDefinition]],
) -> dict[tuple[str, str], bool]:
    """Decide which relations have an entrypoint, as a least fixpoint.

    The rules are those OpenFGA's walk applies: a direct plain type or wildcard; a userset,
    computed relation or ``from`` target that has one; any child of ``or``, every child of ``and``
    and ``but not``. A worklist over the relations each definition reads keeps it linear.
    """
    has: dict[tuple[str, str], bool] = {(t, r): False for t, rs in rels.items() for r in rs}
    readers: dict[tuple[str, str], list[tuple[str, str]]] = {key: [] for key in has}

    def reads(t: str, rd: RelationDefinition, rw: Rewrite) -> list[tuple[str, str]]:
        match rw:
            case This():
                return [
                    (r.type, r.relation)
                    for r in rd.directly_related
                    if r.relation and not r.wildcard
                ]
            case ComputedUserset(relation=target):
                return [(t, target)]
            case TupleToUserset(tupleset=ts, computed_relation=target):
                return [(r.type, target) for r in rels[t][ts].directly_related]
            case Union(children=children) | Intersection(children=children):
                return [k for c in children for k in reads(t, rd, c)]
            case Difference(base=base, subtract=subtract):
                return reads(t, rd, base) + reads(t, rd, subtract)
        return []

    def holds(t: str, rd: RelationDefinition, rw: Rewrite) -> bool:
        match rw:
            case This():
                return any(
                    not r.relation or r.wildcard or has.get((r.type, r.relation), False)
                    for r in rd.directly_related
                )
            case ComputedUserset(relation=target):
                return has.get((t, target), False)
            case TupleToUserset(tupleset=ts, computed_relation=target):
                return any(has.get((r.type, target), False) for r in rels[t][ts].directly_related)
            case Union(children=children):
                return any(holds(t, rd, c) for c in children)
            case Intersection(children=children):
                return all(holds(t, rd, c) for c in children)
            case Difference(base=base, subtract=subtract):
                return holds(t, rd, base) and holds(t, rd, subtract)
        return False

    for t, rs in rels.items():
        for r, rd in rs.items():
            for key in reads(t, rd, rd.rewrite):
                if key in readers:
                    readers[key].append((t, r))
    work = list(has)
    while work:
        t, r = work.pop()
        if has[(t, r)]:
            continue
        rd = rels[t][r]
        if holds(t, rd, rd.rewrite):
            has[(t, r)] = True
            work.extend(readers[(t, r)])
    return has


def _short(name: str) -> str:
    return name if len(name) <= 60 else name[:57] + "..."


def _param_problem(type_name: str, generics: tuple[Any, ...]) -> str:
    if type_name not in _KNOWN_PARAM_TYPES:
        return (
            f"unknown type '{type_name}'; expected one of {', '.join(sorted(_KNOWN_PARAM_TYPES))}"
        )
    if type_name in _CONTAINERS:
        if len(generics) != 1:
            word = "map" if type_name == "TYPE_NAME_MAP" else "list"
            return f"'{word}' needs exactly one element type, e.g. {word}<string>"
        inner = generics[0]
        return _param_problem(inner.type_name, inner.generic_types)
    if generics:
        return f"type '{type_name}' takes no element type"
    return ""


def collect_issues(
    model: AuthorizationModel, locations: Locations | None = None
) -> list[ModelIssue]:
    """Every semantic problem of ``model`` (empty when valid), in source order where located."""
    issues = _Validator(model, locations or {}).run()
    return sorted(issues, key=lambda i: (i.file, i.line, i.column) if i.line else ("", 0, 0))


def validate_model(model: AuthorizationModel, *, locations: Locations | None = None) -> None:
    """Check ``model`` against OpenFGA's server rules.

    Args:
        model: the model to check.
        locations: where its elements were written (from :func:`permsvc.model.compile.compile_dsl`),
            so each issue carries a line and column; without it, issues use the positions stored
            on the model's nodes, or name ``type#relation``.

    Raises:
        ModelValidationError: listing every problem found.
    """
    issues = collect_issues(model, locations)
    if issues:
        raise ModelValidationError(issues)
