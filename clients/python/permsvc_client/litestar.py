"""Litestar guards (``pip install 'permsvc-client[litestar]'``)::

    permsvc = Guards(AsyncPermsvc.from_env())

    @get("/documents/{doc_id:str}", guards=[permsvc.require("can_read", "document:{doc_id}")])
    async def read(doc_id: str) -> ...: ...

The object template is filled from the path parameters, or pass a callable taking the
connection (may be async). The decision is in ``connection.state.permsvc``. Several checks in one
``require`` go to permsvc as one batch. 403 when denied, 401 for a missing or refused token
(permsvc's diagnosis in ``detail`` and ``WWW-Authenticate``), 503 with ``Retry-After`` when
permsvc cannot decide.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ServiceUnavailableException,
)
from litestar.handlers.base import BaseRouteHandler

from permsvc_client import _guard as g
from permsvc_client._guard import Decision, ObjectSpec
from permsvc_client.client import AsyncPermsvc
from permsvc_client.errors import PermsvcError

__all__ = ("Decision", "Guards")

_EXCEPTIONS: dict[int, type[HTTPException]] = {
    400: ClientException,
    401: NotAuthorizedException,
    403: PermissionDeniedException,
    503: ServiceUnavailableException,
}

ClaimsGetter = Callable[[ASGIConnection[Any, Any, Any, Any]], "Mapping[str, Any] | None"]
Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


class Guards(g.GuardsBase[AsyncPermsvc, ClaimsGetter]):
    """Guards of one Litestar app around one :class:`~permsvc_client.AsyncPermsvc`."""

    def _raise(self, exc: Exception) -> HTTPException:
        f = g.failure(exc, self.realm)
        return _EXCEPTIONS[f.status](detail=f.message, headers=f.headers or None)

    async def enforce(
        self,
        connection: ASGIConnection[Any, Any, Any, Any],
        relation: str,
        object: ObjectSpec,
        *more: tuple[str, ObjectSpec],
    ) -> Decision:
        return await self._enforce(connection, g.requirements(relation, object, more))

    async def _enforce(
        self, connection: ASGIConnection[Any, Any, Any, Any], reqs: list[g.Requirement]
    ) -> Decision:
        try:
            token = g.bearer_token(connection.headers.get("authorization"))
            claims = self.token_claims(connection) if self.token_claims else None
            decision = await g.decide_async(
                self.client,
                reqs,
                connection,
                connection.path_params,
                token,
                claims,
                self.claim_name,
            )
        except PermsvcError as exc:
            raise self._raise(exc) from None
        connection.state.permsvc = decision
        return decision

    def require(self, relation: str, object: ObjectSpec, *more: tuple[str, ObjectSpec]) -> Guard:
        """A Litestar guard: ``guards=[permsvc.require("can_read", "document:{doc_id}")]``."""
        reqs = g.requirements(relation, object, more)

        async def permsvc_guard(
            connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
        ) -> None:
            await self._enforce(connection, reqs)

        return permsvc_guard
