"""Starlette and FastAPI guards (``pip install 'permsvc-client[fastapi]'`` or ``[starlette]``).

FastAPI::

    permsvc = Guards(AsyncPermsvc.from_env())

    @app.get("/documents/{doc_id}")
    async def read(doc_id: str, ok: Decision = Depends(permsvc.require("can_read", "document:{doc_id}"))):
        ...

Starlette (no dependency injection): ``decision = await permsvc.enforce(request, "can_read",
"document:{doc_id}")`` at the top of the endpoint.

The request's bearer token is forwarded as ``subject_token``. Several checks in one ``require``
(``permsvc.require("can_read", "document:{doc_id}", ("can_read", "folder:{folder}"))``) go to
permsvc as one batch. A denied check is ``403``, a missing or refused token ``401`` (with
permsvc's diagnosis, e.g. the no-audience JWE, in ``detail`` and ``WWW-Authenticate``), permsvc
unreachable or refusing this service ``503`` with ``Retry-After``: the guard never lets a request
through that permsvc did not allow.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

from permsvc_client import _guard as g
from permsvc_client._guard import Decision, ObjectSpec
from permsvc_client.client import AsyncPermsvc
from permsvc_client.errors import PermsvcError

__all__ = ("Decision", "Guards")

ClaimsGetter = Callable[[Request], "Mapping[str, Any] | None"]


class Guards(g.GuardsBase[AsyncPermsvc, ClaimsGetter]):
    """Guards of one app around one :class:`~permsvc_client.AsyncPermsvc`."""

    def _raise(self, exc: Exception) -> HTTPException:
        f = g.failure(exc, self.realm)
        return HTTPException(f.status, detail=f.message, headers=f.headers or None)

    async def enforce(
        self, request: Request, relation: str, object: ObjectSpec, *more: tuple[str, ObjectSpec]
    ) -> Decision:
        """Decide every check for ``request`` now; raise ``HTTPException`` unless all are allowed."""
        return await self._enforce(request, g.requirements(relation, object, more))

    async def _enforce(self, request: Request, reqs: list[g.Requirement]) -> Decision:
        try:
            token = g.bearer_token(request.headers.get("authorization"))
            claims = self.token_claims(request) if self.token_claims else None
            return await g.decide_async(
                self.client, reqs, request, request.path_params, token, claims, self.claim_name
            )
        except PermsvcError as exc:
            raise self._raise(exc) from None

    def require(
        self, relation: str, object: ObjectSpec, *more: tuple[str, ObjectSpec]
    ) -> Callable[[Request], Awaitable[Decision]]:
        """A FastAPI dependency: ``Depends(permsvc.require("can_read", "document:{doc_id}"))``."""
        reqs = g.requirements(relation, object, more)

        async def permsvc_requirement(request: Request) -> Decision:
            return await self._enforce(request, reqs)

        return permsvc_requirement

    async def token(self, request: Request) -> str:
        """A dependency returning the request's bearer token (401 without one), to pass on as
        ``subject_token`` in your own client calls (``list_objects``, ``filter_allowed``)."""
        try:
            return g.bearer_token(request.headers.get("authorization"))
        except PermsvcError as exc:
            raise self._raise(exc) from None

    def errors(self) -> Any:
        """A context manager turning client errors raised inside an endpoint into the same HTTP
        answers as the guards: ``with permsvc.errors(): await client.list_objects(...)``."""
        return _Translate(self)


class _Translate:
    def __init__(self, guards: Guards) -> None:
        self.guards = guards

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if isinstance(exc, PermsvcError):
            raise self.guards._raise(exc) from None
