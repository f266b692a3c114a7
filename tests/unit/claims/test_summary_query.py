"""ClaimSummaryQuery on the memory datastore: paging, early stop, revision stamp, model checks."""

from __future__ import annotations

import json

import pytest

from permsvc.claims.errors import ClaimSpecModelError
from permsvc.claims.spec import parse_claim_spec
from permsvc.commands.claims import (
    ClaimSpecResolver,
    ClaimSummaryParams,
    ClaimSummaryQuery,
    PutClaimSpecCommand,
)
from permsvc.commands.errors import LatestModelNotFoundError
from permsvc.commands.models import ModelResolver
from permsvc.core.refs import TupleCondition, TupleKey
from permsvc.model.compile import parse_dsl
from permsvc.model.json import model_from_json
from permsvc.settings import EngineLimits
from permsvc.store.memory import MemoryDatastore
from tests.api.conftest import MODEL as API_MODEL
from tests.conftest import REPO_ROOT

CLAIM = "https://permsvc.example.com/perms"
MODEL = parse_dsl((REPO_ROOT / "schema" / "claims.fga").read_text())


async def _store(ds: MemoryDatastore, *grants: tuple[str, str, str]) -> str:
    store_id = (await ds.create_store("claims")).id
    await ds.write_model(store_id, MODEL)
    for start in range(0, len(grants), 50):
        await ds.write(
            store_id,
            writes=[
                TupleKey(object=o, relation=r, user=u) for o, r, u in grants[start : start + 50]
            ],
        )
    return store_id


def _spec(budget: int = 2048, relations: tuple[str, ...] = ("project#viewer",)) -> object:
    return parse_claim_spec({"claim": CLAIM, "relations": list(relations), "budget_bytes": budget})


async def test_pages_through_every_object_at_the_first_revision() -> None:
    ds = MemoryDatastore()
    grants = [(f"project:p{i:02d}", "viewer", "user:auth0|1") for i in range(23)]
    store_id = await _store(ds, *grants)
    query = ClaimSummaryQuery(
        reader=ds, resolver=ModelResolver(ds), limits=EngineLimits(list_max_results=5)
    )
    summary = await query.execute(
        ClaimSummaryParams(store_id=store_id, user_id="auth0|1", spec=_spec())
    )  # type: ignore[arg-type]
    doc = json.loads(summary.value)
    assert doc["p"]["project#viewer"] == [f"p{i:02d}" for i in range(23)]
    assert summary.revision == doc["rev"] == await ds.head_revision(store_id)
    assert not summary.truncated


async def test_listing_stops_once_past_the_budget() -> None:
    ds = MemoryDatastore()
    grants = [(f"project:p{i:04d}", "viewer", "user:auth0|1") for i in range(400)]
    grants.append(("project:owned", "owner", "user:auth0|1"))
    store_id = await _store(ds, *grants)
    seen: list[int | None] = []
    query = ClaimSummaryQuery(reader=ds, resolver=ModelResolver(ds))
    original = query._list_objects.execute

    async def spy(params):  # type: ignore[no-untyped-def]
        seen.append(params.page_size)
        return await original(params)

    query._list_objects.execute = spy  # type: ignore[method-assign]
    spec = _spec(256, ("project#owner", "project#viewer"))
    summary = await query.execute(
        ClaimSummaryParams(store_id=store_id, user_id="auth0|1", spec=spec)
    )  # type: ignore[arg-type]
    assert summary.dropped == ("project#viewer",)
    assert json.loads(summary.value)["p"] == {"project#owner": ["owned"]}
    assert seen == [65, 65]  # one page per relation: 256 // 4 + 1


async def test_spec_checked_against_model() -> None:
    ds = MemoryDatastore()
    store_id = await _store(ds)
    query = ClaimSummaryQuery(reader=ds, resolver=ModelResolver(ds))
    spec = parse_claim_spec(
        {"claim": CLAIM, "subject_type": "member", "relations": ["project#viewer", "team#lead"]}
    )
    with pytest.raises(ClaimSpecModelError) as info:
        await query.execute(ClaimSummaryParams(store_id=store_id, user_id="x", spec=spec))
    assert [key for key, _ in info.value.missing] == ["member", "team#lead"]
    assert info.value.model_id and info.value.model_id in str(info.value)


async def test_put_validates_against_model_only_when_there_is_one() -> None:
    ds = MemoryDatastore()
    empty = (await ds.create_store("no-model")).id
    bad = parse_claim_spec({"claim": CLAIM, "relations": ["project#owns"]})
    put = PutClaimSpecCommand(stores=ds, specs=ds, resolver=ModelResolver(ds))
    stored = await put.execute(empty, bad)
    resolver = ClaimSpecResolver(specs=ds, default=None)
    assert await resolver.resolve(empty) == bad
    assert await resolver.resolve("01HZZZZZZZZZZZZZZZZZZZZZZZ") is None
    assert json.loads(stored.document)["relations"] == ["project#owns"]
    with_model = await _store(ds)
    with pytest.raises(ClaimSpecModelError, match="project#owns"):
        await put.execute(with_model, bad)
    query = ClaimSummaryQuery(reader=ds, resolver=ModelResolver(ds))
    with pytest.raises(LatestModelNotFoundError):
        await query.execute(ClaimSummaryParams(store_id=empty, user_id="x", spec=bad))


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        pytest.param(None, None, id="context_needed_from_the_request_dropped"),
        pytest.param({"x": 3}, ["b"], id="context_stored_with_the_grant_kept"),
        pytest.param({"x": 30}, [], id="stored_context_false_kept_empty"),
    ],
)
async def test_conditional_grants(
    context: dict[str, int] | None, expected: list[str] | None
) -> None:
    ds = MemoryDatastore()
    store_id = (await ds.create_store("conditions")).id
    await ds.write_model(store_id, model_from_json(API_MODEL))
    condition = TupleCondition(name="small", context=context)
    await ds.write(
        store_id,
        writes=[
            TupleKey(object="document:b", relation="limited", user="user:1", condition=condition)
        ],
    )
    spec = parse_claim_spec({"claim": CLAIM, "relations": ["document#limited"]})
    summary = await ClaimSummaryQuery(reader=ds, resolver=ModelResolver(ds)).execute(
        ClaimSummaryParams(store_id=store_id, user_id="1", spec=spec)
    )
    doc = json.loads(summary.value)
    if expected is None:
        assert doc["d"] == ["document#limited"] and doc["o"] is True and doc["p"] == {}
    else:
        assert doc["p"] == {"document#limited": expected} and doc["o"] is False
