"""The audit trail: recording who changed what (``AuditRecorder``) and reading it back
(``ReadAuditQuery``).

An audit row tells the truth: it records the values of the change exactly as they were written
(a tuple id that happens to look like a token is a tuple id, and is kept as such). Secrets never
reach it because no caller passes one: rows name credentials only by identifiers that are safe to
show (actors ``user:<sub>``, ``client:<client_id>``, ``key:<key id>``, ``preshared:<n>``; key
changes by ``key_id``), never a token, a key's secret or an ``Authorization`` value. There is no
pattern-based redaction: it would rewrite legitimate data and still miss a secret in another
shape; what keeps secrets out is that the code never hands them over
(``tests/security/test_audit_truth.py`` checks every path with real secrets).

A tuple write's row is committed in the same transaction as the change and names the revision
it produced (``audit=`` of the store's writers, see :class:`~permsvc.store.protocol.AuditRecord`):
a change never exists without the row saying who made it, and a tuple is traced to who wrote it
through its changelog revision (ReadChanges) and the audit row with that revision. A write that
changes nothing is audited too (``changed`` 0, the unchanged revision). Only a writer that does
not take ``audit=`` (not :class:`~permsvc.store.protocol.AuditedWrites` through
:func:`~permsvc.store.protocol.unwrap`, e.g. a wrapper that does not pass the row on) has
its row appended after the commit, as are the rows of store, model, assertion and key changes:
should such an append fail, the request fails (500) although the change stands; the error is
logged with the request id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from permsvc.commands.read import validate_page
from permsvc.core.refs import TupleKey
from permsvc.store.protocol import (
    AuditedWrites,
    AuditEntry,
    AuditFilter,
    AuditLog,
    AuditRecord,
    ChangelogReader,
    Page,
    TupleOperation,
    unwrap,
)

__all__ = (
    "MAX_AUDITED_TUPLES",
    "Actor",
    "AuditRecorder",
    "ReadAuditQuery",
    "TraceTupleQuery",
    "TupleTrace",
    "audit_for",
    "tuples_detail",
    "with_detail",
)

MAX_AUDITED_TUPLES = 100
"""Tuples listed in one audit row; bulk changes list this many and give the total count (the
changelog at the row's revision holds all of them)."""


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who made a change, as recorded: an id safe to show and what kind of credential it used."""

    id: str
    kind: str
    """``user_token``, ``client_token``, ``api_key``, ``preshared_key``, ``cli`` or ``anonymous``."""


def tuples_detail(tuples: list[dict[str, Any]], total: int | None = None) -> dict[str, Any]:
    """``{"count": n, "tuples": [...first MAX_AUDITED_TUPLES...], "truncated": bool}``."""
    count = len(tuples) if total is None else total
    shown = tuples[:MAX_AUDITED_TUPLES]
    return {"count": count, "tuples": shown, "truncated": count > len(shown)}


def audit_for(writer: object, audit: AuditRecord | None) -> AuditRecord | None:
    """``audit`` for a writer that appends the row in its own transaction
    (:class:`~permsvc.store.protocol.AuditedWrites`), else ``None`` (the row is then appended by
    :meth:`AuditRecorder.settle`)."""
    if audit is None or unwrap(writer, AuditedWrites) is None:
        return None
    return audit


def with_detail(audit: AuditRecord | None, **extra: Any) -> AuditRecord | None:
    """``audit`` with ``extra`` added to its detail: what only the command knows."""
    if audit is None:
        return None
    return msgspec.structs.replace(audit, detail={**audit.detail, **extra})


class AuditRecorder:
    """Appends audit rows. With ``log=None`` (a backend without an audit log) it records
    nothing, so commands need not care whether auditing is available."""

    def __init__(
        self, *, log: AuditLog | None, clock: Callable[[], dt.datetime] | None = None
    ) -> None:
        self._log = log
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))

    @property
    def enabled(self) -> bool:
        return self._log is not None

    async def record(
        self,
        *,
        actor: Actor,
        action: str,
        store_id: str = "",
        detail: dict[str, Any] | None = None,
        request_id: str = "",
        revision: int | None = None,
    ) -> int | None:
        """Append one row; returns its id (``None`` when auditing is off)."""
        draft = self.draft(
            actor=actor, action=action, detail=detail, request_id=request_id, count_key=""
        )
        if draft is None or self._log is None:
            return None
        return await self._log.append_audit(draft.entry(store_id, revision=revision))

    def draft(
        self,
        *,
        actor: Actor,
        action: str,
        detail: dict[str, Any] | None = None,
        request_id: str = "",
        count_key: str = "changed",
    ) -> AuditRecord | None:
        """The row of a tuple write, to pass as the writer's ``audit=``; ``None`` when
        auditing is off."""
        if self._log is None:
            return None
        return AuditRecord(
            at=self._clock(),
            actor=actor.id,
            actor_kind=actor.kind,
            action=action,
            detail=detail or {},
            request_id=request_id,
            count_key=count_key,
        )

    async def settle(
        self,
        audit: AuditRecord | None,
        store_id: str,
        *,
        revision: int,
        changed: int,
        audit_id: int | None,
    ) -> int | None:
        """The id of a committed tuple write's row: ``audit_id`` when the write's transaction
        appended it, else (a writer without ``audited_writes``) the id of the row appended now."""
        if audit_id is not None or audit is None or self._log is None:
            return audit_id
        return await self._log.append_audit(
            audit.entry(store_id, revision=revision, changed=changed)
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ReadAuditQuery:
    """Audit rows matching a filter, newest first; page size 1..100 (default 50)."""

    log: AuditLog

    async def execute(
        self, flt: AuditFilter, *, page_size: int | None = None, continuation_token: str = ""
    ) -> Page[AuditEntry]:
        size = validate_page("ReadAuditRequest", page_size, continuation_token)
        return await self.log.read_audit(flt, page_size=size, continuation_token=continuation_token)


class TupleTrace(msgspec.Struct, frozen=True, kw_only=True):
    """One change of a tuple and the audit rows of the revision that made it."""

    operation: TupleOperation
    revision: int
    timestamp: dt.datetime
    audit: list[AuditEntry]


@dataclass(frozen=True, kw_only=True, slots=True)
class TraceTupleQuery:
    """Who granted or revoked a tuple, and when: every change of the tuple in the store's
    changelog, each with the audit rows of its revision (oldest change first).

    Scans the store's whole changelog (``chunk`` changes per read): an investigation tool, not a
    hot path."""

    changelog: ChangelogReader
    log: AuditLog
    chunk: int = 10_000

    async def execute(self, store_id: str, key: TupleKey) -> list[TupleTrace]:
        wanted = key.key
        after = 0
        traces: list[TupleTrace] = []
        while True:
            changes = await self.changelog.changes_since(store_id, after, limit=self.chunk)
            if not changes:
                return traces
            for change in changes:
                if change.key.key == wanted:
                    rows = await self.log.read_audit(
                        AuditFilter(store_id=store_id, revision=change.revision), page_size=10
                    )
                    traces.append(
                        TupleTrace(
                            operation=change.operation,
                            revision=change.revision,
                            timestamp=change.timestamp,
                            audit=rows.items,
                        )
                    )
            after = changes[-1].revision
