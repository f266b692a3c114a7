"""Audit rows for the OpenFGA API's writes: a Write's row is drafted before the write and
committed with it (:func:`draft_openfga_write`, :func:`settle_openfga_write`); the rows of store
create/delete and model and assertion writes are appended after their change has committed
(:func:`record_openfga_write`).

The actor is the principal the front door admitted (:mod:`permsvc.api.security`): ``key:<id>``,
``preshared:<n>`` (the 1-based position of the matching key in ``PERMSVC_API_KEYS``, never the
key), ``client:<id>``, or ``anonymous`` on an open server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from permsvc.api.security import principal_of, recorder_of, request_id
from permsvc.commands.admin import tuple_line
from permsvc.commands.audit import tuples_detail

if TYPE_CHECKING:
    from litestar import Request

    from permsvc.commands.audit import Actor
    from permsvc.core.refs import TupleKey
    from permsvc.store.protocol import AuditRecord

__all__ = ("draft_openfga_write", "openfga_actor", "record_openfga_write", "settle_openfga_write")


def openfga_actor(request: Request[Any, Any, Any]) -> Actor:
    """Who is calling the OpenFGA API (see the module docstring)."""
    return principal_of(request).actor


def _lines(keys: Sequence[TupleKey]) -> dict[str, Any]:
    return tuples_detail([msgspec.to_builtins(tuple_line(k)) for k in keys])


def draft_openfga_write(
    request: Request[Any, Any, Any], *, writes: Sequence[TupleKey], deletes: Sequence[TupleKey]
) -> AuditRecord | None:
    """The row of one OpenFGA Write, to commit with it (``changed`` is added by the store)."""
    detail: dict[str, Any] = {"api": "openfga"}
    if writes:
        detail["writes"] = _lines(writes)
    if deletes:
        detail["deletes"] = _lines(deletes)
    return recorder_of(request).draft(
        actor=openfga_actor(request),
        action="write",
        detail=detail,
        request_id=request_id(request),
    )


async def settle_openfga_write(
    request: Request[Any, Any, Any],
    audit: AuditRecord | None,
    store_id: str,
    *,
    revision: int,
    changed: int,
    audit_id: int | None,
) -> None:
    """Append the Write's row after the commit when its writer could not commit it with the write."""
    await recorder_of(request).settle(
        audit, store_id, revision=revision, changed=changed, audit_id=audit_id
    )


async def record_openfga_write(
    request: Request[Any, Any, Any],
    action: str,
    store_id: str,
    *,
    revision: int | None = None,
    **detail: Any,
) -> None:
    """Append the audit row of one OpenFGA store, model or assertion change after its commit
    (``action``: ``store_create``, ``store_delete``, ``model_write``, ``assertions_write``)."""
    await recorder_of(request).record(
        actor=openfga_actor(request),
        action=action,
        store_id=store_id,
        detail={"api": "openfga", **detail},
        request_id=request_id(request),
        revision=revision,
    )
