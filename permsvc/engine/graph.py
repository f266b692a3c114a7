"""ReverseGraph: the model's edges walked backwards, from a user towards the objects it reaches.

ListObjects expands *from the user*: which relations admit this user directly, which relations
are computed from those, which relations reach them through ``X from tupleset``. Like OpenFGA's
reverse expansion (driven from the target relation's edges towards the user type), the walk only
follows edges into relations the target relation depends on (:meth:`ReverseGraph.relevant`): a
tuple of an unrelated relation is never read, so its condition is never evaluated and cannot
fail the listing. The walk over-approximates: an intersection or exclusion is walked like a union.
Each edge therefore carries a *definite* flag, as OpenFGA's reverse expansion marks results that
"require further evaluation": an edge from a leaf reached from the relation's root through unions
only is definite (the child holding implies the parent holds), a leaf under an intersection or on
the base side of an exclusion is not. Candidates reached only through indefinite edges are
confirmed by Check, which keeps ListObjects exactly consistent with Check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from permsvc.model import schema

if TYPE_CHECKING:
    from permsvc.engine.plan import ModelPlan
    from permsvc.model.schema import Rewrite

__all__ = ("ReverseGraph",)


def _granting(rewrite: Rewrite, definite: bool = True) -> list[tuple[Rewrite, bool]]:
    """Leaves of a rewrite that can grant membership (the subtracted side of ``but not`` cannot),
    each with whether it grants on its own: ``True`` only when every operator between the root
    and the leaf is a union."""
    match rewrite:
        case schema.Union(children=children):
            return [leaf for child in children for leaf in _granting(child, definite)]
        case schema.Intersection(children=children):
            return [leaf for child in children for leaf in _granting(child, False)]
        case schema.Difference(base=base):
            return _granting(base, False)
        case schema.This() | schema.ComputedUserset() | schema.TupleToUserset():
            return [(rewrite, definite)]
    return []


def _merge(edges: dict[tuple[str, ...], bool], edge: tuple[str, ...], definite: bool) -> None:
    edges[edge] = edges.get(edge, False) or definite


class ReverseGraph:
    """Reverse edges of one model.

    - ``direct[user_key]``: ``(type, relation, definite)`` for the relations whose direct
      restrictions admit ``user_key`` (``user``, ``user:*``, ``group#member``);
    - ``computed[(type, relation)]``: ``(relation, definite)`` for the relations of the same type
      computed from it;
    - ``ttu[(parent_type, relation)]``: ``(type, relation, tupleset, definite)`` with ``relation
      from tupleset`` where the tupleset can hold objects of ``parent_type``.

    ``definite`` is true when the edge's leaf is joined to its relation's root by unions only, so
    that the source holding (through a tuple that fits and whose condition holds) implies the
    target holds. An edge that occurs both ways (``a or (a and b)``) is definite.
    """

    __slots__ = ("_plan", "_relevant", "computed", "direct", "ttu")

    def __init__(self, plan: ModelPlan) -> None:
        self._plan = plan
        self._relevant: dict[tuple[str, str], frozenset[tuple[str, str]]] = {}
        direct: dict[str, dict[tuple[str, ...], bool]] = {}
        computed: dict[tuple[str, str], dict[tuple[str, ...], bool]] = {}
        ttu: dict[tuple[str, str], dict[tuple[str, ...], bool]] = {}
        for (otype, relation), rp in plan.relations.items():
            for leaf, definite in _granting(rp.rewrite):
                match leaf:
                    case schema.This():
                        for key in rp.direct_keys:
                            _merge(direct.setdefault(key, {}), (otype, relation), definite)
                    case schema.ComputedUserset(relation=source):
                        _merge(computed.setdefault((otype, source), {}), (relation,), definite)
                    case schema.TupleToUserset(tupleset=ts, computed_relation=cr):
                        tsp = plan.relations.get((otype, ts))
                        if tsp is None:
                            continue
                        for parent in tsp.tupleset_types:
                            _merge(
                                ttu.setdefault((parent, cr), {}), (otype, relation, ts), definite
                            )
        self.direct: dict[str, list[tuple[str, str, bool]]] = {
            key: [(t, r, d) for (t, r), d in edges.items()] for key, edges in direct.items()
        }
        self.computed: dict[tuple[str, str], list[tuple[str, bool]]] = {
            key: [(r, d) for (r,), d in edges.items()] for key, edges in computed.items()
        }
        self.ttu: dict[tuple[str, str], list[tuple[str, str, str, bool]]] = {
            key: [(t, r, ts, d) for (t, r, ts), d in edges.items()] for key, edges in ttu.items()
        }

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
            for leaf, _ in _granting(rp.rewrite):
                match leaf:
                    case schema.This():
                        nexts.extend(rp.userset_refs)
                    case schema.ComputedUserset(relation=source):
                        nexts.append((otype, source))
                    case schema.TupleToUserset(tupleset=ts, computed_relation=cr):
                        tsp = relations.get((otype, ts))
                        if tsp is not None:
                            nexts.extend((parent, cr) for parent in tsp.tupleset_types)
            for nxt in nexts:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        found = self._relevant[target] = frozenset(seen)
        return found
