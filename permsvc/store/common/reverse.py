"""The reverse lookup over tuples held in memory by user, shared by the memory backend and the
contextual-tuple overlay."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from permsvc.core.refs import TupleKey
    from permsvc.store.protocol import StartingWithUser

__all__ = ("starting_with_user",)


def starting_with_user(
    by_user: Mapping[tuple[str, str, str], Mapping[str, TupleKey]], filter: StartingWithUser
) -> list[TupleKey]:
    """The tuples ``filter`` names, from ``by_user[(object type, relation, user)]`` = the tuples
    of that user by object id (each user once, in ``filter.users`` order)."""
    wanted = None if filter.object_ids is None else set(filter.object_ids)
    out: list[TupleKey] = []
    for user in dict.fromkeys(filter.users):
        objects = by_user.get((filter.object_type, filter.relation, user))
        if not objects:
            continue
        if wanted is None:
            out.extend(objects.values())
        else:
            out.extend(k for oid, k in objects.items() if oid in wanted)
    return out
