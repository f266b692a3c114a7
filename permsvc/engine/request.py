"""The values a resolution is made of: the frozen request, the shared per-request budget, the result.

Per-branch state (depth, the path of ``object#relation`` nodes on the way down) is immutable and
copied into each child; per-request counters live in one mutable :class:`ResolveBudget` shared by
every branch (OpenFGA's ``ResolveCheckRequest.clone()`` splits them the same way).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import msgspec

from permsvc.engine.errors import DeadlineExceededError, DispatchLimitExceededError
from permsvc.engine.plan import user_keys
from permsvc.store.protocol import (
    InlineReads,
    ManyRelationsSyncReader,
    RelationVersions,
    SyncTupleReader,
    unwrap,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from permsvc.core.refs import TupleKey
    from permsvc.engine.plan import ModelPlan
    from permsvc.settings import EngineLimits
    from permsvc.store.protocol import TupleReader

__all__ = (
    "CYCLE",
    "FALSE",
    "TRUE",
    "ResolveBudget",
    "ResolveContext",
    "ResolveRequest",
    "ResolveResult",
    "one_budget",
    "request_budget",
    "request_digest",
)

FALSE = 0
TRUE = 1
CYCLE = 2
"""A node's result on the hot path: small ints rather than :class:`ResolveResult` (``CYCLE`` is
false with the cycle flag)."""


class ResolveRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Everything that determines one check's answer, so cache keys derive from the request alone.

    ``digest`` covers the contextual tuples and the condition context (see :func:`request_digest`).
    """

    store_id: str
    model_id: str
    revision: int
    object: str
    relation: str
    user: str
    digest: str = ""


class ResolveResult(msgspec.Struct, frozen=True, kw_only=True):
    """A resolved check. ``cycle_detected`` results are ``allowed=False`` and are never cached."""

    allowed: bool
    cycle_detected: bool = False


def request_digest(contextual_tuples: Sequence[TupleKey], context: dict[str, Any] | None) -> str:
    """A stable digest of the request-scoped inputs (contextual tuples and condition context)."""
    if not contextual_tuples and not context:
        return ""
    tuples = sorted(msgspec.json.encode(t, order="sorted") for t in contextual_tuples)
    payload = msgspec.json.encode([tuples, context or {}], order="sorted")
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


class ResolveBudget:
    """Per-request counters shared by all branches: dispatch count and the deadline.

    The deadline is checked on dispatches rather than with ``asyncio.timeout``: reads served from
    memory never suspend, so a timer would never get the chance to fire.
    """

    __slots__ = ("deadline", "deadline_s", "dispatches", "max_dispatches")

    def __init__(self, *, max_dispatches: int, deadline_s: float) -> None:
        self.dispatches = 0
        self.max_dispatches = max_dispatches
        self.deadline_s = deadline_s
        self.deadline = time.monotonic() + deadline_s

    def spend(self) -> None:
        """Account for one dispatch; raises a budget error when an allowance is exhausted."""
        self.dispatches += 1
        if self.dispatches > self.max_dispatches:
            raise DispatchLimitExceededError(self.max_dispatches)
        if not self.dispatches & 31 and time.monotonic() > self.deadline:
            raise DeadlineExceededError(self.deadline_s)

    def check_deadline(self) -> None:
        if time.monotonic() > self.deadline:
            raise DeadlineExceededError(self.deadline_s)


def _user_tuples_via(read_user: Any) -> Any:
    """``read_users_sync`` from a reader's single ``read_user_tuple_sync``."""

    def read_users(
        store_id: str, obj: str, relations: tuple[str, ...], user: str
    ) -> list[TupleKey]:
        found = (read_user(store_id, obj, relation, user) for relation in relations)
        return [key for key in found if key is not None]

    return read_users


def _usersets_via(read_usersets: Any) -> Any:
    """``read_usersets_of_sync`` from a reader's single ``read_userset_tuples_sync``."""

    def read_usersets_of(store_id: str, obj: str, relations: tuple[str, ...]) -> list[TupleKey]:
        return [key for relation in relations for key in read_usersets(store_id, obj, relation)]

    return read_usersets_of


_READ_PATHS: dict[type, tuple[bool, bool, bool, bool]] = {}


def _read_path(reader: TupleReader) -> tuple[bool, bool, bool, bool]:
    """Whether ``reader`` offers :class:`~permsvc.store.protocol.InlineReads`,
    ``SyncTupleReader``, ``ManyRelationsSyncReader`` and ``RelationVersions``. These are the
    reading layer's own (for a reader, :func:`~permsvc.store.protocol.unwrap` returns the reader
    itself or nothing), so they are looked up once per class."""
    sync = unwrap(reader, SyncTupleReader) is not None
    known = _READ_PATHS[type(reader)] = (
        unwrap(reader, InlineReads) is not None,
        sync,
        sync and unwrap(reader, ManyRelationsSyncReader) is not None,
        sync and unwrap(reader, RelationVersions) is not None,
    )
    return known


_USER_KEYS: dict[str, tuple[str, ...]] = {}
""":func:`~permsvc.engine.plan.user_keys` of recent users (a pure function of the string)."""
_USER_KEYS_SIZE = 16_384


class ResolveContext:
    """What one request's resolution reads through: passed explicitly, never via contextvars.

    ``user`` is fixed for a check; ``user_keys`` are its reach keys (see
    :func:`permsvc.engine.plan.user_keys`), ``user_wildcard`` the typed wildcard that also
    grants it (``""`` for usersets and wildcard users) and ``user_userset`` the user when it is a
    userset (``""`` otherwise).
    """

    __slots__ = (
        "budget",
        "context",
        "digest",
        "expansion_tables",
        "in_flight",
        "inline",
        "limits",
        "memo",
        "plan",
        "read_object_relation_sync",
        "read_user_sync",
        "read_users_sync",
        "read_usersets_of_sync",
        "read_usersets_sync",
        "reader",
        "revision",
        "store_id",
        "sync",
        "user",
        "user_keys",
        "user_lookups",
        "user_userset",
        "user_wildcard",
        "versions",
    )

    def __init__(
        self,
        *,
        store_id: str,
        plan: ModelPlan,
        reader: TupleReader,
        limits: EngineLimits,
        budget: ResolveBudget,
        context: dict[str, Any] | None,
        user: str = "",
        revision: int | None = None,
        digest: str = "",
    ) -> None:
        self.store_id = store_id
        self.revision = revision
        """The store revision the request reads at; ``None`` when unknown (nothing is cached then)."""
        self.digest = digest
        """:func:`request_digest` of the request's contextual tuples and condition context."""
        self.plan = plan
        self.reader = reader
        self.limits = limits
        self.budget = budget
        self.context = context
        inline, sync, many, versions = _READ_PATHS.get(type(reader)) or _read_path(reader)
        self.inline = inline and reader.inline_reads  # type: ignore[attr-defined]
        """Reads are served from memory and never wait: evaluate branches inline (no tasks)."""
        self.sync = sync and reader.sync_reads(store_id)  # type: ignore[attr-defined]
        """The reader answers this store with plain calls (``SyncTupleReader``): checks run on the
        :class:`~permsvc.engine.sync.SyncChecker`, without a coroutine per hop."""
        if self.sync:
            self.read_user_sync = reader.read_user_tuple_sync  # type: ignore[attr-defined]
            self.read_usersets_sync = reader.read_userset_tuples_sync  # type: ignore[attr-defined]
            self.read_object_relation_sync = reader.read_object_relation_sync  # type: ignore[attr-defined]
            if many:
                self.read_users_sync = reader.read_user_tuples_sync  # type: ignore[attr-defined]
                """``(store_id, object, relations, user)``: the user's tuple on each of ``relations``
                of ``object`` that has one, in that order (a flattened union's point lookups in one
                call; :class:`~permsvc.store.protocol.ManyRelationsSyncReader`, else the single reads)."""
                self.read_usersets_of_sync = reader.read_userset_tuples_of_sync  # type: ignore[attr-defined]
                """``(store_id, object, relations)``: the userset tuples of each of ``relations`` of
                ``object``, concatenated in that order."""
            else:
                self.read_users_sync = _user_tuples_via(self.read_user_sync)
                self.read_usersets_of_sync = _usersets_via(self.read_usersets_sync)
        self.versions: RelationVersions | None = reader if versions and self.sync else None  # type: ignore[assignment]
        """The reader when it offers relation versions (the in-memory index,
        :class:`~permsvc.store.protocol.RelationVersions`): userset expansions
        (:mod:`permsvc.engine.expansion`) are used only then, and only while ``user`` is an object or
        a typed wildcard."""
        self.expansion_tables: dict[tuple[tuple[str, str], ...], Any] = {}
        """This request's expansion tables by expansion group (resolved once per request)."""
        self.in_flight = 0
        """Concurrent dispatch tasks of this request (non-inline readers only)."""
        if user:
            self.set_user(user)
        else:
            self.memo: dict[str, int] = {}
            """Per-request results of ``object#relation`` nodes for ``user`` (see ``LocalChecker.evaluate``)."""
            self.user = ""
            self.user_keys: tuple[str, ...] = ()
            self.user_wildcard = ""
            self.user_userset = ""
            self.user_lookups: tuple[tuple[str, str], ...] = ()
            """``(user, restriction key)`` of the point lookups a check makes: the user, then its
            typed wildcard if it has one."""

    def set_user(self, user: str) -> None:
        self.memo = {}
        self.user = user
        keys = _USER_KEYS.get(user)
        if keys is None:
            if len(_USER_KEYS) >= _USER_KEYS_SIZE:
                _USER_KEYS.clear()
            keys = _USER_KEYS[user] = user_keys(user)
        self.user_keys = keys
        self.user_wildcard = keys[1] if len(keys) == 2 else ""
        self.user_userset = user if "#" in user else ""
        wildcard = self.user_wildcard
        self.user_lookups = (
            ((user, keys[0]), (wildcard, wildcard)) if wildcard else ((user, keys[0]),)
        )

    def request(self, object_: str, relation: str) -> ResolveRequest:
        """The :class:`ResolveRequest` of ``object_#relation@user`` in this context (a cache key)."""
        return ResolveRequest(
            store_id=self.store_id,
            model_id=self.plan.typesystem.model_id,
            revision=self.revision if self.revision is not None else -1,
            object=object_,
            relation=relation,
            user=self.user,
            digest=self.digest,
        )

    def for_user(self, user: str) -> ResolveContext:
        """A context sharing this request's reader, plan and budget, checking another user."""
        other = ResolveContext(
            store_id=self.store_id,
            plan=self.plan,
            reader=self.reader,
            limits=self.limits,
            budget=self.budget,
            context=self.context,
            revision=self.revision,
            digest=self.digest,
        )
        other.set_user(user)
        return other


_REQUEST_BUDGET: ContextVar[ResolveBudget | None] = ContextVar(
    "permsvc_request_budget", default=None
)


def request_budget() -> ResolveBudget | None:
    """The budget shared by every check of the current multi-check request, if one is active."""
    return _REQUEST_BUDGET.get()


@contextmanager
def one_budget(*, max_dispatches: int, deadline_s: float) -> Iterator[ResolveBudget]:
    """Make every check context created inside share one budget: a request that runs several
    checks (a batch, AuthZEN evaluations, the relations of an object) gets one deadline and one
    dispatch allowance for all of them, not one per item. Without it a 50-item batch could work
    50 times the per-request bound."""
    budget = _REQUEST_BUDGET.get()
    if budget is not None:  # nested: the outer request's budget stays in force
        yield budget
        return
    budget = ResolveBudget(max_dispatches=max_dispatches, deadline_s=deadline_s)
    token = _REQUEST_BUDGET.set(budget)
    try:
        yield budget
    finally:
        _REQUEST_BUDGET.reset(token)
