"""Userset expansions: a dispatch into a group answered by one set lookup, when that is exact.

A check that reaches ``group:eng#member`` through a userset tuple (``document:1#viewer@group:eng#member``)
would evaluate the group node by node: the user's tuple on ``group:eng``, then every nested group
(``group:eng#member@group:backend#member``) one dispatch deeper, and so on. Denied checks walk all
of it, and the same groups are walked again by the next request.

For a relation whose rewrite is only its direct tuples, admits no conditions, and whose usersets
lead only to such relations again (an *expandable* relation, :attr:`RelationPlan.expansion_group`;
``member: [user, user:*, group#member]``), the answer of such a node for any object user is
membership in a set computed once: the plain users and typed wildcards of the node and of every
node below it, with the fit rules the checker applies (a tuple that does not fit the model is
skipped, a conditional tuple never fits). The set is kept per store and per *version* of the
relations it is computed from (:class:`~permsvc.store.protocol.SyncTupleReader` readers that offer
``relation_version_sync``, the in-memory index: the version changes with every change to the
relation's tuples), so it is never staler than the reads the checker would make instead.

It is used only where the checker's own evaluation of the node could not end otherwise than
``TRUE``/``FALSE`` by membership:

- the subgraph below the node has no cycle (the checker would report ``CYCLE`` there, a result
  exclusions treat differently from ``FALSE``): nodes that reach a cycle are marked and evaluated
  by the checker;
- its height (the longest chain of userset hops below it) keeps every dispatch under the depth
  limit (the checker would raise ``ResolutionDepthExceededError``): otherwise the checker decides;
- the user is an object or a typed wildcard (a userset user is related to itself at every level);
- the reader has no contextual tuples (the overlay offers no versions, so it never gets here).

Work per request is bounded: an expansion reads at most :data:`MAX_EXPANSION_TUPLES` tuples (the
reader's ``count_object_relation_sync`` says how many a node has before they are read), and memory
per store and model too (:data:`MAX_EXPANSION_MEMBERS` members held). A node beyond either is
marked for the version and evaluated by the checker as before. One dispatch is spent for the
node, as the checker would spend at least one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Set as AbstractSet

    from permsvc.engine.plan import RelationPlan
    from permsvc.engine.request import ResolveContext

__all__ = ("MAX_EXPANSION_MEMBERS", "MAX_EXPANSION_TUPLES", "ExpansionTable", "expansion")

MAX_EXPANSION_MEMBERS = 500_000
"""Members (set entries) one table holds at most; a node whose expansion would exceed it is not
kept and the checker evaluates it."""

MAX_EXPANSION_TUPLES = 20_000
"""Tuples one expansion reads at most; a node needing more is left to the checker."""

Entry = tuple["AbstractSet[str]", int]
"""A node's expansion: its members (plain users and typed wildcards) and its height."""

_CYCLIC = 0
_TOO_BIG = 1
_TOO_DEEP = 2
"""Expansion failures: a cycle below the node or more than the bounds allow (both kept for the
version: the checker evaluates the node every time), or a chain below it deeper than the depth
limit from where it was reached (not kept: the node may be expandable from elsewhere)."""


class ExpansionTable:
    """The expansions of one store's nodes of one group of expandable relations, at ``token`` (the
    relations' versions). Entries are immutable once stored."""

    __slots__ = ("members", "nodes", "token")

    def __init__(self, token: tuple[int, ...]) -> None:
        self.token = token
        self.nodes: dict[str, Entry | int] = {}
        self.members = 0


def table_for(ctx: ResolveContext, rp: RelationPlan) -> ExpansionTable:
    """The request's table for ``rp``'s expansion group: the plan's, if still at the current
    versions, else a new one (resolved once per request and group)."""
    group = rp.expansion_group
    tables = ctx.expansion_tables
    version = ctx.versions.relation_version_sync  # type: ignore[union-attr]  # set: expansions run only over versions
    token = tuple(version(ctx.store_id, otype, rel) for otype, rel in group)
    shared = ctx.plan.expansions
    key = (ctx.store_id, group)
    table = shared.get(key)
    if table is None or table.token != token:
        table = shared[key] = ExpansionTable(token)
    tables[group] = table
    return table


def expansion(ctx: ResolveContext, rp: RelationPlan, obj: str, node: str) -> Entry | None:
    """``node`` (``obj#rp.relation``) expanded, or ``None`` when the checker must evaluate it."""
    table = ctx.expansion_tables.get(rp.expansion_group)
    if table is None:
        table = table_for(ctx, rp)
    entry = table.nodes.get(node)
    if entry is None:
        entry = _expand(ctx, table, rp, obj, node, set(), [MAX_EXPANSION_TUPLES])
    return entry if type(entry) is tuple else None


def _expand(
    ctx: ResolveContext,
    table: ExpansionTable,
    rp: RelationPlan,
    obj: str,
    node: str,
    stack: set[str],
    work: list[int],
) -> Entry | int:
    """Depth-first expansion; ``stack`` holds the nodes being expanded (a cycle leads back to one),
    ``work[0]`` the tuples this expansion may still read."""
    if len(stack) >= ctx.limits.max_resolution_depth:
        return _TOO_DEEP
    work[0] -= ctx.versions.count_object_relation_sync(ctx.store_id, obj, rp.relation)  # type: ignore[union-attr]  # as in table_for
    if work[0] < 0:
        table.nodes[node] = _TOO_BIG
        return _TOO_BIG
    read: Callable[..., object] = ctx.read_object_relation_sync
    fit = rp.fit_conditions
    targets = rp.userset_targets
    members: set[str] = set()
    height = 0
    stack.add(node)
    try:
        for key in read(ctx.store_id, obj, rp.relation):  # type: ignore[attr-defined]
            if key.condition is not None:
                continue
            user = key.user
            uobj, sep, urel = user.partition("#")
            utype, _, uid = uobj.partition(":")
            if not sep:
                if (f"{utype}:*" if uid == "*" else utype) in fit:
                    members.add(user)
                continue
            found = targets.get((utype, urel))
            if found is None:
                continue
            target = found[0]
            if user in stack:
                table.nodes[node] = _CYCLIC
                return _CYCLIC
            child = table.nodes.get(user)
            if child is None:
                child = _expand(ctx, table, target, uobj, user, stack, work)
            if type(child) is not tuple:
                if child != _TOO_DEEP:
                    table.nodes[node] = child
                return child
            members |= child[0]
            if child[1] >= height:
                height = child[1] + 1
    finally:
        stack.discard(node)
    if table.members + len(members) > MAX_EXPANSION_MEMBERS:
        table.nodes[node] = _TOO_BIG
        return _TOO_BIG
    table.members += len(members)
    entry = (members, height)
    table.nodes[node] = entry
    return entry
