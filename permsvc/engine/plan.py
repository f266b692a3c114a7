"""Per-model evaluation plans: everything about a model the engine would otherwise recompute per check.

A :class:`ModelPlan` is built once per :class:`~permsvc.model.typesystem.TypeSystem` (models are
immutable) and answers, in O(1):

- which *user keys* a relation can ever reach (OpenFGA's ``PathExists``): ``"user"`` for objects of
  type ``user``, ``"user:*"`` for the typed wildcard, ``"group#member"`` for usersets (every
  relation reaches its own userset: ``group:x#member`` is a member of ``group:x``). A branch
  whose relation cannot reach the queried user's key is pruned before any read;
- whether a stored tuple still fits the model (:meth:`ModelPlan.fits`), so tuples written under an
  older model are ignored rather than crash a check; the synchronous checker reads the same
  facts precomputed per relation (:attr:`RelationPlan.fit_conditions`,
  :attr:`RelationPlan.userset_targets`, :class:`TtuPlan`), without re-deriving a tuple's key;
- a relation whose rewrite is a union reaching other relations of the same object only through
  computed usersets, flattened (:attr:`RelationPlan.flat`): ``viewer: [user] or editor`` with
  ``editor: [user] or owner`` is evaluated as one union of three direct relations;
- the compiled form of each condition, compiled on first use.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from permsvc.engine.errors import ConditionEvaluationFailedError, ConditionMissingParametersError
from permsvc.model import schema

if TYPE_CHECKING:
    from permsvc.core.refs import TupleKey
    from permsvc.model.schema import RelationDefinition, Rewrite
    from permsvc.model.typesystem import TypeSystem

__all__ = (
    "LEAF_COMPUTED",
    "LEAF_DIRECT",
    "LEAF_TTU",
    "FlatUnion",
    "ModelPlan",
    "RelationPlan",
    "TtuPlan",
    "plan_for",
    "user_keys",
)

LEAF_DIRECT = 0
LEAF_COMPUTED = 1
LEAF_TTU = 2

_PLAN_CACHE_SIZE = 256


def user_keys(user: str) -> tuple[str, ...]:
    """The reach keys a query user matches: ``user:anne`` -> ``("user", "user:*")``,
    ``user:*`` -> ``("user:*",)``, ``group:eng#member`` -> ``("group#member",)``."""
    obj, _, rel = user.partition("#")
    utype, _, uid = obj.partition(":")
    if rel:
        return (f"{utype}#{rel}",)
    if uid == "*":
        return (f"{utype}:*",)
    return (utype, f"{utype}:*")


def tuple_user_key(user: str) -> str:
    """The restriction key a tuple's user needs: ``user``, ``user:*`` or ``group#member``."""
    obj, _, rel = user.partition("#")
    utype, _, uid = obj.partition(":")
    if rel:
        return f"{utype}#{rel}"
    if uid == "*":
        return f"{utype}:*"
    return utype


_NO_CONDITIONS: frozenset[str] = frozenset()
_UNCONDITIONAL: frozenset[str] = frozenset(("",))


class TtuPlan:
    """One ``computed from tupleset`` leaf: for each parent type a tupleset tuple may name, the
    relation to dispatch to on the parent and the condition names a tupleset tuple with that
    parent type may carry (``""`` for none) and still fit the model."""

    __slots__ = ("targets", "tupleset")

    def __init__(
        self, tupleset: str, targets: dict[str, tuple[RelationPlan, frozenset[str]]]
    ) -> None:
        self.tupleset = tupleset
        self.targets = targets


class FlatUnion:
    """A relation's rewrite as one union over the same object: the relations whose direct
    tuples grant (``direct``), the tuple-to-userset leaves (``ttus``) and the computed relations
    that are not flat themselves (``others``, evaluated as nodes of their own).

    ``lookups[user_key]`` lists, for a restriction key (``user``, ``user:*``, ``group#member``),
    the direct relations admitting it with the conditions such a tuple may carry: the point
    lookups a check for a user of that key makes. ``usersets`` are the direct relations
    admitting usersets.

    The same facts keyed for reads of several relations at once: ``lookup_relations[user_key]``
    (those relations, in order, each once), ``lookup_conditions[user_key][relation]`` (the
    conditions a tuple of that relation with such a user may carry), ``userset_relations`` and
    ``userset_targets_of[relation]`` (that relation's :attr:`RelationPlan.userset_targets`)."""

    __slots__ = (
        "direct",
        "lookup_conditions",
        "lookup_relations",
        "lookups",
        "others",
        "ttus",
        "userset_relations",
        "userset_targets_of",
        "usersets",
    )

    def __init__(
        self,
        direct: tuple[RelationPlan, ...],
        ttus: tuple[TtuPlan, ...],
        others: tuple[RelationPlan, ...],
    ) -> None:
        self.direct = direct
        self.ttus = ttus
        self.others = others
        lookups: dict[str, list[tuple[str, frozenset[str]]]] = {}
        for rp in direct:
            for user_key, conditions in rp.fit_conditions.items():
                lookups.setdefault(user_key, []).append((rp.relation, conditions))
        self.lookups: dict[str, tuple[tuple[str, frozenset[str]], ...]] = {
            k: tuple(v) for k, v in lookups.items()
        }
        self.usersets = tuple(rp for rp in direct if rp.userset_targets)
        self.lookup_conditions: dict[str, dict[str, frozenset[str]]] = {}
        for user_key, pairs in self.lookups.items():
            by_relation = self.lookup_conditions[user_key] = {}
            for relation, conditions in pairs:
                by_relation[relation] = by_relation.get(relation, _NO_CONDITIONS) | conditions
        self.lookup_relations = {k: tuple(v) for k, v in self.lookup_conditions.items()}
        self.userset_targets_of = {rp.relation: rp.userset_targets for rp in self.usersets}
        self.userset_relations = tuple(self.userset_targets_of)


class RelationPlan:
    """Precomputed facts about one relation, used on every evaluation of it."""

    __slots__ = (
        "definition",
        "direct_keys",
        "expansion_group",
        "fit_conditions",
        "flat",
        "key",
        "leaves",
        "object_type",
        "reach",
        "relation",
        "rewrite",
        "tupleset_types",
        "userset_refs",
        "userset_targets",
        "userset_targets_of",
        "wildcard_types",
    )

    def __init__(self, object_type: str, definition: RelationDefinition) -> None:
        self.object_type = object_type
        self.relation = definition.name
        self.key = (object_type, definition.name)
        self.definition = definition
        self.rewrite: Rewrite = definition.rewrite
        keys: set[str] = set()
        wildcards: set[str] = set()
        usersets: dict[tuple[str, str], None] = {}
        plain: list[str] = []
        for ref in definition.directly_related:
            keys.add(ref.user_key)
            if ref.wildcard:
                wildcards.add(ref.type)
            elif ref.relation:
                usersets[(ref.type, ref.relation)] = None
            else:
                plain.append(ref.type)
        self.direct_keys = frozenset(keys)
        """Restriction keys a tuple's user may have on this relation (``user``, ``user:*``, ``group#member``)."""
        self.wildcard_types = frozenset(wildcards)
        self.userset_refs = tuple(usersets)
        self.tupleset_types = tuple(dict.fromkeys(plain))
        """Object types this relation can hold when it is used as the tupleset of ``X from <this>``."""
        self.reach: frozenset[str] = frozenset()
        self.leaves: tuple[tuple[int, Any], ...] | None = None
        """The rewrite as a flat union of leaves, when it is one (the common shape ``[..] or a or b from
        c``): ``(LEAF_DIRECT, None)``, ``(LEAF_COMPUTED, RelationPlan | None)``, ``(LEAF_TTU,
        schema.TupleToUserset)``. ``None`` for rewrites with intersections or exclusions."""
        self.fit_conditions: dict[str, frozenset[str]] = {}
        """Restriction key -> condition names (``""``: none) a tuple of this relation with a user of
        that key may carry and still fit the model."""
        self.userset_targets: dict[tuple[str, str], tuple[RelationPlan, frozenset[str]]] = {}
        """``(type, relation)`` of an admitted userset -> its relation plan and fitting conditions."""
        self.userset_targets_of = {self.relation: self.userset_targets}
        """``userset_targets`` by this relation (the shape :func:`~permsvc.engine.reduce.userset_hops` takes)."""
        self.flat: FlatUnion | None = None
        """The rewrite flattened (see :class:`FlatUnion`); ``None`` unless it is a union of leaves."""
        self.expansion_group: tuple[tuple[str, str], ...] = ()
        """For an expandable relation (see :mod:`permsvc.engine.expansion`), the relations its
        nodes' expansions are computed from (itself and every relation its usersets lead to),
        sorted; empty otherwise."""

    def reaches(self, keys: tuple[str, ...]) -> bool:
        reach = self.reach
        for k in keys:
            if k in reach:
                return True
        return False


class ModelPlan:
    """The evaluation plan of one model. Immutable after construction except the condition cache."""

    __slots__ = ("_compiled", "_fits", "_graph", "_ttus", "expansions", "relations", "typesystem")

    def __init__(self, typesystem: TypeSystem) -> None:
        self.typesystem = typesystem
        model = typesystem.model
        self.relations: dict[tuple[str, str], RelationPlan] = {}
        fits: set[tuple[str, str, str, str]] = set()
        for td in model.type_definitions:
            for name, rd in td.relations.items():
                self.relations[(td.name, name)] = RelationPlan(td.name, rd)
                for ref in rd.directly_related:
                    if ref.condition and ref.condition not in model.conditions:
                        continue
                    fits.add((td.name, name, ref.user_key, ref.condition))
        self._fits = frozenset(fits)
        self._compiled: dict[str, Any] = {}
        self._graph: Any = None
        self._ttus: dict[tuple[str, str, str, str], TtuPlan] = {}
        self._compute_reach()
        by_key: dict[tuple[str, str, str], set[str]] = {}
        for otype, name, key, cond in fits:
            by_key.setdefault((otype, name, key), set()).add(cond)
        for (otype, name, key), conds in by_key.items():
            self.relations[(otype, name)].fit_conditions[key] = frozenset(conds)
        for rp in self.relations.values():
            rp.leaves = self._leaves(rp)
            for ut, ur in rp.userset_refs:
                target = self.relations.get((ut, ur))
                if target is not None:
                    rp.userset_targets[(ut, ur)] = (
                        target,
                        rp.fit_conditions.get(f"{ut}#{ur}", _NO_CONDITIONS),
                    )
        for rp in self.relations.values():
            rp.flat = self._flatten(rp)
        self._mark_expandable()
        self.expansions: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}
        """Per store and expansion group, the :class:`~permsvc.engine.expansion.ExpansionTable`
        of the relations' current versions (replaced when they change)."""

    def _mark_expandable(self) -> None:
        """Relations whose nodes a check may answer by expansion: only direct tuples, no
        conditions admitted, and usersets leading only to such relations again."""
        candidates = {
            key
            for key, rp in self.relations.items()
            if type(rp.rewrite) is schema.This
            and rp.fit_conditions
            and all(conds == _UNCONDITIONAL for conds in rp.fit_conditions.values())
        }
        changed = True
        while changed:
            changed = False
            for key in list(candidates):
                if any(
                    target.key not in candidates
                    for target, _ in self.relations[key].userset_targets.values()
                ):
                    candidates.discard(key)
                    changed = True
        for key in candidates:
            group: set[tuple[str, str]] = set()
            todo = [key]
            while todo:
                current = todo.pop()
                if current not in group:
                    group.add(current)
                    todo.extend(
                        target.key for target, _ in self.relations[current].userset_targets.values()
                    )
            self.relations[key].expansion_group = tuple(sorted(group))

    def _flatten(self, rp: RelationPlan) -> FlatUnion | None:
        if rp.leaves is None:
            return None
        direct: list[RelationPlan] = []
        ttus: list[TtuPlan] = []
        others: list[RelationPlan] = []
        seen: set[tuple[str, str]] = set()

        def walk(current: RelationPlan) -> None:
            seen.add(current.key)
            for kind, arg in current.leaves or ():
                if kind == LEAF_DIRECT:
                    direct.append(current)
                elif kind == LEAF_TTU:
                    ttus.append(self.ttu_plan(current, arg))
                elif arg is None or arg.key in seen:
                    continue
                elif arg.leaves is None:
                    seen.add(arg.key)
                    others.append(arg)
                else:
                    walk(arg)

        walk(rp)
        return FlatUnion(tuple(direct), tuple(ttus), tuple(others))

    def ttu_plan(self, rp: RelationPlan, rewrite: schema.TupleToUserset) -> TtuPlan:
        """The :class:`TtuPlan` of ``rewrite`` (a leaf of ``rp``), built once."""
        cache_key = (rp.object_type, rp.relation, rewrite.tupleset, rewrite.computed_relation)
        found = self._ttus.get(cache_key)
        if found is None:
            found = self._ttus[cache_key] = self._ttu_plan(rp, rewrite)
        return found

    def _ttu_plan(self, rp: RelationPlan, rewrite: schema.TupleToUserset) -> TtuPlan:
        targets: dict[str, tuple[RelationPlan, frozenset[str]]] = {}
        tupleset = self.relations.get((rp.object_type, rewrite.tupleset))
        if tupleset is not None:
            for parent in tupleset.tupleset_types:
                target = self.relations.get((parent, rewrite.computed_relation))
                if target is not None:
                    targets[parent] = (target, tupleset.fit_conditions.get(parent, _NO_CONDITIONS))
        return TtuPlan(rewrite.tupleset, targets)

    def _leaves(self, rp: RelationPlan) -> tuple[tuple[int, Any], ...] | None:
        children = rp.rewrite.children if isinstance(rp.rewrite, schema.Union) else (rp.rewrite,)
        out: list[tuple[int, Any]] = []
        for child in children:
            match child:
                case schema.This():
                    out.append((LEAF_DIRECT, None))
                case schema.ComputedUserset(relation=rel):
                    out.append((LEAF_COMPUTED, self.relations.get((rp.object_type, rel))))
                case schema.TupleToUserset():
                    out.append((LEAF_TTU, child))
                case _:
                    return None
        return tuple(out)

    def _compute_reach(self) -> None:
        reach: dict[tuple[str, str], set[str]] = {k: {f"{k[0]}#{k[1]}"} for k in self.relations}
        changed = True
        while changed:
            changed = False
            for key, rp in self.relations.items():
                found = self._reach_of(rp.object_type, rp.rewrite, rp, reach)
                if not found <= reach[key]:
                    reach[key] |= found
                    changed = True
        for key, rp in self.relations.items():
            rp.reach = frozenset(reach[key])

    def _reach_of(
        self,
        object_type: str,
        rewrite: Rewrite,
        rp: RelationPlan,
        reach: dict[tuple[str, str], set[str]],
    ) -> set[str]:
        match rewrite:
            case schema.This():
                out = set(rp.direct_keys)
                for ut, ur in rp.userset_refs:
                    out |= reach.get((ut, ur), set())
                return out
            case schema.ComputedUserset(relation=rel):
                return set(reach.get((object_type, rel), ()))
            case schema.TupleToUserset(tupleset=ts, computed_relation=cr):
                out = set()
                tsp = self.relations.get((object_type, ts))
                if tsp is not None:
                    for parent in tsp.tupleset_types:
                        out |= reach.get((parent, cr), set())
                return out
            case schema.Union(children=children) | schema.Intersection(children=children):
                out = set()
                for child in children:
                    out |= self._reach_of(object_type, child, rp, reach)
                return out
            case schema.Difference(base=base):
                return self._reach_of(object_type, base, rp, reach)
        return set()

    @property
    def graph(self) -> Any:
        """The model's reverse edges for list queries (:class:`permsvc.engine.graph.ReverseGraph`)."""
        if self._graph is None:
            from permsvc.engine.graph import ReverseGraph

            self._graph = ReverseGraph(self)
        return self._graph

    def relation(self, object_type: str, relation: str) -> RelationPlan | None:
        return self.relations.get((object_type, relation))

    def fits(self, key: TupleKey) -> bool:
        """Whether a stored tuple still fits the model's type restrictions (and condition rules).

        Mirrors OpenFGA's read-time filter (``ValidateTupleForRead``): the tuple's user must match a
        restriction of its relation whose condition equals the tuple's condition (none for none).
        """
        otype = key.object.partition(":")[0]
        cond = key.condition.name if key.condition is not None else ""
        return (otype, key.relation, tuple_user_key(key.user), cond) in self._fits

    def condition_holds(self, key: TupleKey, request_context: dict[str, Any] | None) -> bool:
        """Evaluate the tuple's condition (``True`` for an unconditional tuple).

        Raises:
            ConditionMissingParametersError: a parameter is in neither context (OpenFGA errors too).
            ConditionEvaluationFailedError: the expression failed at run time.
        """
        cond = key.condition
        if cond is None:
            return True
        from permsvc.model import conditions as _conditions

        compiled = self._compiled.get(cond.name)
        if compiled is None:
            definition = self.typesystem.condition(cond.name)
            if definition is None:
                raise ConditionEvaluationFailedError(
                    cond.name, str(key), "condition is not defined in the model"
                )
            try:
                compiled = _conditions.compile_condition(definition)
            except (_conditions.ConditionEvaluationError, _conditions.ConditionCompileError) as err:
                raise ConditionEvaluationFailedError(cond.name, str(key), str(err)) from err
            self._compiled[cond.name] = compiled
        merged = _conditions.merge_context(cond.context, request_context)
        try:
            result = compiled.evaluate(merged)
        except _conditions.ConditionEvaluationError as err:
            raise ConditionEvaluationFailedError(cond.name, str(key), str(err)) from err
        if result.missing_parameters:
            raise ConditionMissingParametersError(
                cond.name, str(key), tuple(result.missing_parameters)
            )
        return bool(result.allowed)


_plans: OrderedDict[int, tuple[TypeSystem, ModelPlan]] = OrderedDict()


def plan_for(typesystem: TypeSystem) -> ModelPlan:
    """The (cached) plan of a TypeSystem; TypeSystems are immutable, so plans never go stale."""
    entry = _plans.get(id(typesystem))
    if entry is not None and entry[0] is typesystem:
        return entry[1]
    plan = ModelPlan(typesystem)
    _plans[id(typesystem)] = (typesystem, plan)
    if len(_plans) > _PLAN_CACHE_SIZE:
        _plans.popitem(last=False)
    return plan
