"""How route groups declare their routes (permsvc.api.routing)."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from permsvc.api.routing import RouteGroup, summary_of


def test_the_summary_is_the_docstring_s_first_paragraph_on_one_line() -> None:
    def handler() -> None:
        """Grant: write tuples
        idempotently, as one revision

        Not part of the summary."""

    assert summary_of(handler) == "Grant: write tuples idempotently, as one revision"


def test_a_route_takes_its_group_s_tags_and_status_unless_it_names_its_own() -> None:
    route = RouteGroup(["Group"])

    @route("POST", "/things", "CreateThing", request_max_body_size=10)
    async def create() -> dict[str, Any]:
        """Create a thing"""
        return {}

    @route("DELETE", "/things/{id:str}", "DeleteThing", status_code=204)
    async def remove(id: str) -> None:
        """Delete a thing"""

    assert (create.tags, create.status_code, create.operation_id) == (["Group"], 200, "CreateThing")
    assert create.summary == "Create a thing"
    assert create.http_methods == {"POST"}
    assert create.request_max_body_size == 10
    assert (remove.status_code, remove.summary, remove.http_methods) == (
        204,
        "Delete a thing",
        {"DELETE"},
    )


async def test_the_routes_answer_with_their_status_and_are_documented() -> None:
    route = RouteGroup(["Group"], status_code=202)

    @route("POST", "/things", "CreateThing")
    async def create() -> dict[str, Any]:
        """Create a thing"""
        return {"ok": True}

    async with AsyncTestClient(Litestar([create])) as client:
        response = await client.post("/things")
        assert (response.status_code, response.json()) == (202, {"ok": True})
        operation = (await client.get("/schema/openapi.json")).json()["paths"]["/things"]["post"]
        assert (operation["operationId"], operation["summary"], operation["tags"]) == (
            "CreateThing",
            "Create a thing",
            ["Group"],
        )
