"""ReverseGraph: the model's edges walked backwards, from a user towards the objects it reaches.

ListObjects expands *from the user*: which relations admit this user directly, which relations
are computed from those, which relations reach them through ``X from tupleset``. Like OpenFGA's
reverse expansion (driven from the target relation's edges towards the user type), the walk only
follows edges into relations the target relation depends on (:meth:`ReverseGraph.relevant`): a
tuple of an unrelated relation is never read, so its condition is never evaluated and cannot
fail the listing. The walk over-approximates (an intersection or exclusion is walked like a union, conditions are not
evaluated): every candidate it finds is then confirmed by Check, which keeps ListObjects exactly
consistent with Check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from permsvc.model.schema import (
    ComputedUserset,
    Difference,
    Intersection,
    This,
    TupleToUserset,
    Union,
)

if TYPE_CHECKING:
    from permsvc.engine.plan import ModelPlan
    from permsvc.model.schema import Rewrite

__all__ = ("ReverseGraph",)


def _granting(rewrite: Rewrite) -> list[Rewrite]:
    """Leaves of a rewrite that can grant membership (the subtracted side of ``but not`` cannot)."""
    match rewrite:
        case Union(children=children) | Intersection(children=children):
            return [leaf for child in children for leaf in _granting(child)]
        case Difference(base=base):
            return _granting(base)
        case This() | ComputedUserset() | TupleToUserset():
            return [rewrite]
    return []


class ReverseGraph:
    """Reverse edges of one model.

    - ``direct[user_key]``: relations ``(type, relation)`` whose direct restrictions admit
      ``user_key`` (``user``, ``user:*``, ``group#member``);
    - ``computed[(type, relation)]``: relations of the same type computed from it;
    - ``ttu[(parent_type, relation)]``: ``(type, relation, tupleset)`` with ``relation from
      tupleset`` where the tupleset can hold objects of ``parent_type``.
    """

    __slots__ = ("_plan", "_relevant", "computed", "direct", "ttu")

    def __init__(self, plan: ModelPlan) -> None:
        self._plan = plan
        self._relevant: dict[tuple[str, str], frozenset[tuple[str, str]]] = {}
        self.direct: dict[str, list[tuple[str, str]]] = {}
        self.computed: dict[tuple[str, str], list[str]] = {}
        self.ttu: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
        for (otype, relation), rp in plan.relations.items():
            for key in rp.direct_keys:
                self.direct.setdefault(key, []).append((otype, relation))
            for leaf in _granting(rp.rewrite):
                match leaf:
                    case ComputedUserset(relation=source):
                        self.computed.setdefault((otype, source), []).append(relation)
                    case TupleToUserset(tupleset=ts, computed_relation=cr):
                        tsp = plan.relations.get((otype, ts))
                        if tsp is None:
                            continue
                        for parent in tsp.tupleset_types:
                            self.ttu.setdefault((parent, cr), []).append((otype, relation, ts))

    def relevant(self, object_type: str, relation: str) -> frozenset[tuple[str, str]]:
        """The relations ``object_type#relation`` can be granted through, itself included.

        The closure over granting leaves (the subtracted side of ``but not`` grants nothing):
        computed usersets, the parents' relation of ``X from tupleset``, and the userset types
        admitted directly (``[group#member]``). Cached per target; the graph is immutable.
        """
        target = (object_type, relation)
        found = self._relevant.get(target)
        if found is not None:
            return found
        relations = self._plan.relations
        seen = {target}
        todo = [target]
        while todo:
            otype, rel = todo.pop()
            rp = relations.get((otype, rel))
            if rp is None:
                continue
            nexts: list[tuple[str, str]] = []
            for leaf in _granting(rp.rewrite):
                match leaf:
                    case This():
                        nexts.extend(rp.userset_refs)
                    case ComputedUserset(relation=source):
                        nexts.append((otype, source))
                    case TupleToUserset(tupleset=ts, computed_relation=cr):
                        tsp = relations.get((otype, ts))
                        if tsp is not None:
                            nexts.extend((parent, cr) for parent in tsp.tupleset_types)
            for nxt in nexts:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        found = self._relevant[target] = frozenset(seen)
        return found
