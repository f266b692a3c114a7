"""Audit rows for the OpenFGA API's writes (store create/delete, Write, model and assertion
writes), called by those routes after their change has committed.

The OpenFGA surface authenticates with the preshared keys of ``PERMSVC_AUTH_METHOD``; its actor
is ``preshared:<n>`` (the 1-based position of the matching key in ``PERMSVC_API_KEYS``, never
the key), or ``anonymous`` where authentication is off.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from permsvc.api.admin.credentials import recorder_of, request_id
from permsvc.commands.admin import tuple_line
from permsvc.commands.audit import Actor, tuples_detail

if TYPE_CHECKING:
    from litestar import Request

    from permsvc.core.refs import TupleKey
    from permsvc.settings import Settings

__all__ = ("openfga_actor", "record_openfga_write")

_ANONYMOUS = Actor(id="anonymous", kind="anonymous")


def openfga_actor(request: Request[Any, Any, Any]) -> Actor:
    """Who is calling the OpenFGA API (see the module docstring)."""
    settings: Settings = request.app.state.deps.settings
    if settings.auth_method != "preshared":
        return _ANONYMOUS
    scheme, _, token = (request.headers.get("authorization") or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return _ANONYMOUS
    presented = token.strip().encode()
    position = 0
    for index, key in enumerate(settings.api_keys, start=1):
        if hmac.compare_digest(key.encode(), presented) and not position:
            position = index
    return Actor(id=f"preshared:{position}", kind="preshared_key") if position else _ANONYMOUS


def _lines(keys: Sequence[TupleKey]) -> dict[str, Any]:
    return tuples_detail([msgspec.to_builtins(tuple_line(k)) for k in keys])


async def record_openfga_write(
    request: Request[Any, Any, Any],
    action: str,
    store_id: str,
    *,
    revision: int | None = None,
    writes: Sequence[TupleKey] = (),
    deletes: Sequence[TupleKey] = (),
    **detail: Any,
) -> None:
    """Append the audit row of one OpenFGA write (``action``: ``store_create``, ``store_delete``,
    ``write``, ``model_write``, ``assertions_write``)."""
    if writes:
        detail["writes"] = _lines(writes)
    if deletes:
        detail["deletes"] = _lines(deletes)
    await recorder_of(request).record(
        actor=openfga_actor(request),
        action=action,
        store_id=store_id,
        detail={"api": "openfga", **detail},
        request_id=request_id(request),
        revision=revision,
    )
