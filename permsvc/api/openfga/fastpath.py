"""A plain-ASGI fast path for ``POST /stores/{store_id}/check``, the one hot route.

Litestar's per-request machinery (routing, signature model, kwargs, response objects) costs
about as much as a check answered from the in-memory index, so :class:`ObservedApp
<permsvc.api.ops.ObservedApp>` hands exactly this route to :class:`CheckFastPath` instead. It
does what the framework route does, with the same code: the front door's :func:`admit
<permsvc.api.security.door.admit>` under the route's own row of the permission table, the body-size limit, :func:`run_check` (shared with the
Litestar route, which stays for the OpenAPI document and for paths the matcher declines) and
:func:`render_error` for every failure. Responses are byte-identical to the framework route's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from permsvc.api.errors import ApiError, render_error
from permsvc.api.openfga.routes import run_check, services_of
from permsvc.api.security.door import admit
from permsvc.api.security.table import ROUTE_RULES

if TYPE_CHECKING:
    from litestar import Litestar

    from permsvc.api.ops import Receive, Scope, Send

__all__ = ("CHECK_TEMPLATE", "CheckFastPath")

CHECK_TEMPLATE = "/stores/{store_id}/check"
"""The route template the fast path reports to metrics and logs (the framework route's)."""

_PREFIX = "/stores/"
_SUFFIX = "/check"
_JSON = (b"content-type", b"application/json")
_encode = msgspec.json.Encoder().encode
_RULE = ROUTE_RULES[f"POST {CHECK_TEMPLATE}"]


class CheckFastPath:
    """``match(scope)`` picks the requests it serves; calling it serves one."""

    def __init__(self, app: Litestar, *, max_body_bytes: int) -> None:
        self._app = app
        self._max_body = max_body_bytes

    def match(self, scope: Scope) -> str | None:
        """The store id of a ``POST /stores/<id>/check``, else ``None`` (the framework serves it)."""
        if scope["method"] != "POST":
            return None
        path: str = scope["path"]
        if not path.startswith(_PREFIX) or not path.endswith(_SUFFIX):
            return None
        store_id = path[len(_PREFIX) : -len(_SUFFIX)]
        return store_id if store_id and "/" not in store_id else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send, store_id: str) -> None:
        scope["path_template"] = CHECK_TEMPLATE
        state = self._app.state
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        try:
            await admit(state.deps.security, _RULE, "POST", headers, store_id)
            body = await _read_body(headers, receive, self._max_body)
            response, extra = await run_check(services_of(state), store_id, body)
            status, payload = 200, _encode(response)
        except Exception as exc:  # noqa: BLE001 - every failure becomes its error response
            status, payload, extra = render_error(exc, state=state, scope=scope)
        out = [_JSON, (b"content-length", str(len(payload)).encode())]
        out.extend(
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in extra.items()
        )
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": payload})


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def _too_large() -> ApiError:
    return ApiError("resource_exhausted", "request body too large", status=413)


async def _read_body(headers: list[tuple[bytes, bytes]], receive: Receive, limit: int) -> bytes:
    """The whole body, refusing (413) anything over ``limit`` before or while reading it."""
    declared = _header(headers, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
