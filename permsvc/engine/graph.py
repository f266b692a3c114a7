"""ReverseGraph: the model's edges walked backwards, from a user towards the objects it reaches.

ListObjects expands *from the user*: which relations admit this user directly, which relations
are computed from those, which relations reach them through ``X from tupleset``. The walk
over-approximates (an intersection or exclusion is walked like a union, conditions are not
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

    __slots__ = ("computed", "direct", "ttu")

    def __init__(self, plan: ModelPlan) -> None:
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
