"""An end user's own token learns, through ``/v1/explain``, only facts about itself.

A denial tree lists every branch the model tried, and a branch through a userset or a parent
names the tuples of *other* subjects (``document:plan#viewer@group:board#member``,
``folder:finance#viewer@user:ceo``), which no check an end user may ask would tell it. So for an
end user the tree keeps only the nodes on the asked object whose tuple (if any) is its own. The
test asks, as a user granted nothing, about every relation of every object of a store whose
model has usersets, parents (tuple-to-userset), conditions, intersections and exclusions, with
every path and the largest tree, and checks that no other subject or intermediate object appears.
A service asking with the same user's ``subject_token`` still gets the whole tree.
"""

from __future__ import annotations

from permsvc.model.compile import dsl_to_json
from tests.security.kit import ROOT, World, bearer

MODEL = dsl_to_json(
    """
model
  schema 1.1
type user
type group
  relations
    define member: [user, group#member]
type folder
  relations
    define viewer: [user, group#member]
    define parent: [folder]
type document
  relations
    define parent: [folder]
    define blocked: [user]
    define approved: [user, group#member]
    define viewer: [user, group#member] or viewer from parent
    define can_view: viewer but not blocked
    define can_sign: viewer and approved
"""
)
FOREIGN = ["board", "ceo", "finance", "carol", "auditors", "dave"]
"""Every id of the store's tuples that is neither the asker nor the objects it asks about."""
TUPLES = [
    ("document:plan", "viewer", "group:board#member"),
    ("group:board", "member", "user:ceo"),
    ("document:plan", "parent", "folder:finance"),
    ("folder:finance", "viewer", "user:carol"),
    ("document:plan", "approved", "group:auditors#member"),
    ("group:auditors", "member", "user:dave"),
    ("document:plan", "blocked", "user:dave"),
    ("document:memo", "viewer", "user:carol"),
    ("document:memo", "parent", "folder:finance"),
]
RELATIONS = ["viewer", "can_view", "can_sign", "approved", "blocked", "parent"]


async def test_an_end_users_explanation_names_no_one_else(world: World) -> None:
    store = world.store_a
    client = world.client
    model = await client.post(f"/stores/{store}/authorization-models", json=MODEL, headers=ROOT)
    assert model.status_code == 201, model.text
    writes = [{"object": o, "relation": r, "user": u} for o, r, u in TUPLES]
    written = await client.post(
        f"/stores/{store}/write", json={"writes": {"tuple_keys": writes}}, headers=ROOT
    )
    assert written.status_code == 200, written.text
    bob = world.issuer.user("bob")
    service = bearer(await world.key("check"))
    asked, told_service = 0, set()
    for obj in ("document:plan", "document:memo"):
        for relation in RELATIONS:
            body = {
                "store_id": store,
                "object": obj,
                "relation": relation,
                "all_paths": True,
                "max_denial_nodes": 1000,
            }
            own = await client.post("/v1/explain", json=body, headers=bearer(bob))
            assert own.status_code == 200, own.text
            assert own.json()["allowed"] is False
            shown = [name for name in FOREIGN if name in own.text]
            assert not shown, f"{obj}#{relation}: an end user is told of {shown}: {own.text}"
            asked += 1
            full = await client.post(
                "/v1/explain", json={**body, "subject_token": bob}, headers=service
            )
            assert full.status_code == 200, full.text
            told_service.update(name for name in FOREIGN if name in full.text)
    assert asked == 12
    # The service sees the branches through other subjects (the tree is only cut for end users).
    assert {"board", "finance", "auditors"} <= told_service


async def test_an_end_users_own_witness_is_kept(world: World) -> None:
    store = world.store_a
    client = world.client
    model = await client.post(f"/stores/{store}/authorization-models", json=MODEL, headers=ROOT)
    assert model.status_code == 201, model.text
    writes = [
        {"object": "document:plan", "relation": "parent", "user": "folder:team"},
        {"object": "folder:team", "relation": "viewer", "user": "user:bob"},
    ]
    written = await client.post(
        f"/stores/{store}/write", json={"writes": {"tuple_keys": writes}}, headers=ROOT
    )
    assert written.status_code == 200, written.text
    own = await client.post(
        "/v1/explain",
        json={"store_id": store, "object": "document:plan", "relation": "viewer"},
        headers=bearer(world.issuer.user("bob")),
    )
    assert own.status_code == 200 and own.json()["allowed"] is True, own.text
    assert "folder:team" in own.text
