"""Expand: one level of the userset tree of ``object#relation``, in OpenFGA's JSON shape.

``{"root": Node}``; a Node has ``name`` (``document:1#viewer``) and one of
``leaf.users.users`` (direct tuples' users), ``leaf.computed.userset`` (a computed userset),
``leaf.tupleToUserset`` (``tupleset`` plus the ``computed`` usersets of each parent),
``union.nodes`` / ``intersection.nodes``, or ``difference.base`` / ``difference.subtract``.
Usersets found are not expanded further (a client expands them with another call). Tuples that
no longer fit the model are left out; conditions are not evaluated (the tree shows the tuples).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from permsvc.model import schema

if TYPE_CHECKING:
    from permsvc.engine.request import ResolveContext
    from permsvc.model.schema import Rewrite

__all__ = ("expand",)


async def expand(ctx: ResolveContext, object_: str, relation: str) -> dict[str, Any]:
    """The tree of ``object_#relation`` (object and relation must exist in the model)."""
    otype = object_.partition(":")[0]
    rp = ctx.plan.relations[(otype, relation)]
    return {"root": await _node(ctx, object_, relation, rp.rewrite)}


async def _node(ctx: ResolveContext, obj: str, relation: str, rewrite: Rewrite) -> dict[str, Any]:
    name = f"{obj}#{relation}"
    plan = ctx.plan
    match rewrite:
        case schema.This():
            tuples = await ctx.reader.read_object_relation(ctx.store_id, obj, relation)
            users = [t.user for t in tuples if plan.fits(t)]
            return {"name": name, "leaf": {"users": {"users": users}}}
        case schema.ComputedUserset(relation=other):
            return {"name": name, "leaf": {"computed": {"userset": f"{obj}#{other}"}}}
        case schema.TupleToUserset(tupleset=ts, computed_relation=cr):
            computed = []
            for t in await ctx.reader.read_object_relation(ctx.store_id, obj, ts):
                parent = t.user
                if "#" in parent or parent.endswith(":*") or not plan.fits(t):
                    continue
                if (parent.partition(":")[0], cr) in plan.relations:
                    computed.append({"userset": f"{parent}#{cr}"})
            return {
                "name": name,
                "leaf": {"tupleToUserset": {"tupleset": f"{obj}#{ts}", "computed": computed}},
            }
        case schema.Union(children=children):
            return {
                "name": name,
                "union": {"nodes": [await _node(ctx, obj, relation, c) for c in children]},
            }
        case schema.Intersection(children=children):
            return {
                "name": name,
                "intersection": {"nodes": [await _node(ctx, obj, relation, c) for c in children]},
            }
        case schema.Difference(base=base, subtract=subtract):
            return {
                "name": name,
                "difference": {
                    "base": await _node(ctx, obj, relation, base),
                    "subtract": await _node(ctx, obj, relation, subtract),
                },
            }
    return {"name": name, "leaf": {"users": {"users": []}}}
