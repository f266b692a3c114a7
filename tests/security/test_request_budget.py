"""A request that runs several checks has one work budget, not one per check.

Batch checks (OpenFGA and ``/v1``), AuthZEN evaluations, ``/v1/relations`` and AuthZEN action
search each evaluate many checks in one request. Each check used to get a fresh dispatch
allowance and deadline, so a 50-item batch could work 50 times the per-request bound (measured
live: a 50-item batch of a check-role key ran 14.6 s against a 3 s check deadline). With a
dispatch allowance that one check fits in but fifty do not, every multi-check route must stop
spending once the request's allowance is gone: its later items answer ``resource_exhausted``.
"""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from permsvc.model.compile import dsl_to_json
from permsvc.settings import EngineLimits
from tests.api.conftest import make_settings
from tests.unit.engine.test_list_objects_definite import DEEP

MODEL = dsl_to_json(DEEP)  # folders with parents: viewer from parent, DEPTH deep
DEPTH = 12
ITEMS = 50


def _folder(level: int) -> str:
    return f"folder:f{level}"


async def _world(client: AsyncTestClient[Any]) -> str:
    store = (await client.post("/stores", json={"name": "budget"})).json()["id"]
    model = await client.post(f"/stores/{store}/authorization-models", json=MODEL)
    assert model.status_code == 201, model.text
    keys = [
        {"object": _folder(i + 1), "relation": "parent", "user": _folder(i)} for i in range(DEPTH)
    ]
    written = await client.post(f"/stores/{store}/write", json={"writes": {"tuple_keys": keys}})
    assert written.status_code == 200, written.text
    return str(store)


def _requests(store: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every multi-check route, each asking ITEMS deep checks that all miss."""
    top = _folder(DEPTH)
    return {
        "batch-check": (
            f"/stores/{store}/batch-check",
            {
                "checks": [
                    {
                        "tuple_key": {"object": top, "relation": "viewer", "user": f"user:u{i}"},
                        "correlation_id": str(i),
                    }
                    for i in range(ITEMS)
                ]
            },
        ),
        "/v1/check/batch": (
            "/v1/check/batch",
            {
                "store_id": store,
                "user": "user:u",
                "checks": [
                    {"object": _folder(DEPTH - i % 3), "relation": "viewer", "context": {"i": i}}
                    for i in range(ITEMS)
                ],
            },
        ),
        "AuthZEN evaluations": (
            f"/stores/{store}/access/v1/evaluations",
            {
                "action": {"name": "viewer"},
                "resource": {"type": "folder", "id": f"f{DEPTH}"},
                "evaluations": [{"subject": {"type": "user", "id": f"u{i}"}} for i in range(ITEMS)],
            },
        ),
    }


def _exhausted(answer: Any) -> int:
    """How many items of an answer report an exhausted budget."""
    text = str(answer)
    return text.count("resource_exhausted") + text.count("4006")


async def test_one_check_fits_but_a_batch_shares_one_allowance() -> None:
    # One deep miss takes DEPTH-odd dispatches; the allowance fits about three of them.
    limits = EngineLimits(max_dispatches=4 * DEPTH, check_deadline_s=60.0)
    async with AsyncTestClient(create_app(make_settings(limits=limits))) as client:
        store = await _world(client)
        one = await client.post(
            f"/stores/{store}/check",
            json={"tuple_key": {"object": _folder(DEPTH), "relation": "viewer", "user": "user:x"}},
        )
        assert one.status_code == 200 and one.json()["allowed"] is False, one.text
        for name, (url, body) in _requests(store).items():
            answer = await client.post(url, json=body)
            assert answer.status_code < 500, (name, answer.text)
            exhausted = _exhausted(answer.json()) if answer.status_code == 200 else ITEMS
            assert exhausted >= ITEMS // 2, (
                f"{name}: every item got its own allowance: {answer.text[:300]}"
            )
