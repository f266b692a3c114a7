"""List queries only evaluate tuples that can contribute to the answer.

A conditional grant on a relation the queried relation does not depend on must not fail the
listing when the request carries no context for it. Expectations cross-checked with OpenFGA
(``fga model test``): ListObjects(document, viewer, user:anne) is ``[document:1]`` and
ListUsers(document:1#viewer, user) is ``[user:anne]``, while listing ``limited`` itself, or
``gviewer`` (which reaches the conditional ``group#member`` tuple), fails with 2000 in OpenFGA too.
"""

from __future__ import annotations

from typing import Any

import pytest

from permsvc.commands.list_relations import ListRelationsParams
from permsvc.core.refs import TupleCondition, TupleKey
from permsvc.engine.errors import ConditionMissingParametersError

MODEL = """
model
  schema 1.1
type user
type group
  relations
    define member: [user, user with cond]
type document
  relations
    define viewer: [user]
    define limited: [user with cond]
    define gviewer: [group#member]
    define reader: viewer or gviewer
condition cond(x: int) {
  x < 10
}
"""

COND = TupleCondition(name="cond")

TUPLES = [
    "document:1#viewer@user:anne",
    TupleKey(object="document:2", relation="limited", user="user:anne", condition=COND),
    TupleKey(object="group:g", relation="member", user="user:anne", condition=COND),
    "document:3#gviewer@group:g#member",
]


async def test_list_objects_ignores_conditions_on_relations_it_does_not_depend_on(
    make_env: Any,
) -> None:
    env = await make_env(MODEL, TUPLES)
    assert await env.objects("document", "viewer", "user:anne") == ["document:1"]


async def test_list_objects_still_fails_on_a_condition_it_depends_on(make_env: Any) -> None:
    env = await make_env(MODEL, TUPLES)
    with pytest.raises(ConditionMissingParametersError):
        await env.objects("document", "limited", "user:anne")
    with pytest.raises(ConditionMissingParametersError):
        await env.objects("document", "gviewer", "user:anne")
    with pytest.raises(ConditionMissingParametersError):
        await env.objects("document", "reader", "user:anne")
    assert await env.objects("document", "reader", "user:anne", context={"x": 1}) == [
        "document:1",
        "document:3",
    ]


async def test_list_users_ignores_conditions_on_relations_it_does_not_depend_on(
    make_env: Any,
) -> None:
    env = await make_env(MODEL, TUPLES)
    assert await env.users("document:1", "viewer", "user") == ["user:anne"]
    with pytest.raises(ConditionMissingParametersError):
        await env.users("document:2", "limited", "user")


async def test_list_relations_fails_when_a_requested_relation_cannot_be_decided(
    make_env: Any,
) -> None:
    """ListRelations is one Check per relation, as OpenFGA's SDKs emulate it (``list_relations``
    runs a client batch check and raises the first check error): naming only relations that can
    be decided answers; asking for every relation of the type includes ``limited``, whose check
    needs ``x``, so the query fails rather than report ``limited`` as absent."""
    env = await make_env(MODEL, TUPLES)
    query = env.queries()["relations"]
    out = await query.execute(
        ListRelationsParams(
            store_id=env.store_id,
            object="document:1",
            user="user:anne",
            relations=("viewer", "reader"),
        )
    )
    assert out.relations == ["viewer", "reader"]
    with pytest.raises(ConditionMissingParametersError):
        await query.execute(
            ListRelationsParams(store_id=env.store_id, object="document:2", user="user:anne")
        )
    out = await query.execute(
        ListRelationsParams(
            store_id=env.store_id,
            object="document:2",
            user="user:anne",
            context={"x": 1},
        )
    )
    assert out.relations == ["limited"]
