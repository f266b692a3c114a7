"""How a route group declares its routes: once per group its OpenAPI tags and usual status, then
per handler only what differs.

    route = RouteGroup(["Admin"])

    @route("POST", "/v1/admin/grants", "AdminGrant")
    async def grant(request: Request[Any, Any, Any], body: RawBody) -> s.ChangeResponse:
        \"\"\"Grant: write tuples idempotently, as one revision\"\"\"

The handler's docstring is its operation's summary in the OpenAPI document (its first paragraph,
joined into one line). Every route answers ``status_code`` (the group's, default 200) unless it
names its own; further Litestar route options (``request_max_body_size``, ``operation_class``)
pass through.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from litestar import delete, get, post, put
from litestar.handlers import HTTPRouteHandler

__all__ = ("RouteGroup", "summary_of")

_METHODS: dict[str, type[HTTPRouteHandler]] = {
    "GET": get,
    "POST": post,
    "PUT": put,
    "DELETE": delete,
}


def summary_of(handler: Callable[..., Any]) -> str:
    """The first paragraph of ``handler``'s docstring, on one line."""
    doc = inspect.cleandoc(handler.__doc__ or "")
    return " ".join(doc.split("\n\n", 1)[0].split())


class RouteGroup:
    """The tags and the usual status of one group's routes; called, a route decorator."""

    def __init__(self, tags: list[str], *, status_code: int = 200) -> None:
        self.tags = tags
        self.status_code = status_code

    def __call__(
        self,
        method: str,
        path: str | list[str],
        operation_id: str | Callable[..., str],
        **options: Any,
    ) -> Callable[[Callable[..., Any]], HTTPRouteHandler]:
        """A decorator making the handler the route ``method path``."""
        options.setdefault("status_code", self.status_code)

        def declare(handler: Callable[..., Any]) -> HTTPRouteHandler:
            return _METHODS[method](
                path,
                operation_id=operation_id,
                tags=self.tags,
                summary=summary_of(handler),
                **options,
            )(handler)

        return declare
