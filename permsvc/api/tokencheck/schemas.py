"""Wire Structs of the token-subject check API.

Requests refuse unknown fields (``forbid_unknown_fields``): a misspelt ``usr`` or ``objct`` is a
400 naming the field, not a silently different question. Contextual tuples use OpenFGA's tuple
shape (a plain array or ``{"tuple_keys": [...]}``). Every response says which store revision
answered (``revision``) and carries the consistency token of that revision, which a later request
may send as ``consistency_token`` to be answered at that revision or later.
"""

from __future__ import annotations

from typing import Any

import msgspec

from permsvc.api.openfga.schemas import ContextualTupleKeys, TupleKeyIn
from permsvc.engine.explain import Denial, Step

__all__ = (
    "BatchCheckItemIn",
    "BatchCheckItemOut",
    "BatchCheckRequest",
    "BatchCheckResponse",
    "CheckRequest",
    "CheckResponse",
    "ExplainError",
    "ExplainRequest",
    "ExplainResponse",
    "ItemError",
    "ListObjectsRequest",
    "ListObjectsResponse",
    "ListRelationsRequest",
    "ListRelationsResponse",
)

Consistency = str | int | None


class _Query(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Fields every /v1 query accepts."""

    user: str | None = None
    """The user to ask about, named directly: only a service credential with the ``read`` role
    may (an end user's own token may name only itself)."""
    subject_token: str | None = None
    """The end user's access token, passed by a service calling on the user's behalf (RFC 8693's
    term): permsvc validates it and asks about its user. Not with ``user``."""
    store_id: str | None = None
    """The store; default: ``PERMSVC_STORE``."""
    authorization_model_id: str = ""
    context: dict[str, Any] | None = None
    contextual_tuples: ContextualTupleKeys | list[TupleKeyIn] | None = None
    consistency: Consistency = None
    """``MINIMIZE_LATENCY`` (default) or ``HIGHER_CONSISTENCY``."""
    consistency_token: str = ""


class CheckRequest(_Query, frozen=True):
    relation: str
    object: str


class _Answered(msgspec.Struct, kw_only=True, frozen=True):
    user: str
    store_id: str
    authorization_model_id: str
    revision: int
    consistency_token: str


class CheckResponse(_Answered, frozen=True):
    allowed: bool
    object: str
    relation: str


class ExplainRequest(CheckRequest, frozen=True):
    """A check request plus what to explain."""

    all_paths: bool = False
    """List every witness up to ``limit`` (shortest first) instead of one shortest witness."""
    limit: int | None = None
    """With ``all_paths``: the most witnesses to list, 1 to 100 (default 10)."""
    max_denial_nodes: int = 60
    """The most nodes of a denial tree to show (1 to 1000); the rest are counted in ``pruned``."""


class ExplainError(msgspec.Struct, frozen=True):
    """The error Check answers this request with (``code`` as in the API's error bodies)."""

    code: str
    message: str


class ExplainResponse(_Answered, frozen=True, omit_defaults=True):
    """The decision and its proof: ``witnesses`` (allowed; steps typed as in
    :class:`permsvc.engine.explain.Step`) or ``denial`` (the tree of failed branches, ``pruned``
    nodes left out). ``error`` is set when Check would answer with that error instead."""

    allowed: bool
    object: str
    relation: str
    cycle_detected: bool = False
    shortest: bool = True
    witnesses: list[list[Step]] = msgspec.field(default_factory=list)
    denial: Denial | None = None
    pruned: int = 0
    error: ExplainError | None = None


class WhoAmIResponse(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The caller as permsvc sees it; never a secret. ``kind``: ``anonymous``, ``bootstrap_key``,
    ``api_key``, ``machine_token``, ``console_token`` (a console login with roles from its
    scopes) or ``end_user_token``; ``actor``: how audit rows name it; ``roles``: every role it
    holds, included ones too; ``store_id``: the one store it is limited to (absent: any);
    ``subject``: the user a person's token speaks for; ``client_id`` and ``scopes``: a token's;
    ``note``: what the roles mean for this caller, in words."""

    kind: str
    actor: str
    roles: list[str]
    store_id: str | None = None
    subject: str | None = None
    client_id: str | None = None
    scopes: list[str] = msgspec.field(default_factory=list)
    note: str = ""


class BatchCheckItemIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    relation: str
    object: str
    correlation_id: str = ""
    """Echoed in the result; default: the item's index (``"0"``, ``"1"``, ...)."""
    context: dict[str, Any] | None = None
    contextual_tuples: ContextualTupleKeys | list[TupleKeyIn] | None = None


class BatchCheckRequest(_Query, frozen=True):
    checks: list[BatchCheckItemIn]


class ItemError(msgspec.Struct, frozen=True):
    code: str
    message: str


class BatchCheckItemOut(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    correlation_id: str
    object: str
    relation: str
    allowed: bool
    error: ItemError | None = None


class BatchCheckResponse(_Answered, frozen=True):
    results: list[BatchCheckItemOut]


class ListObjectsRequest(_Query, frozen=True):
    type: str
    relation: str
    page_size: int | None = None
    continuation_token: str = ""


class ListObjectsResponse(_Answered, frozen=True):
    objects: list[str]
    continuation_token: str = ""


class ListRelationsRequest(_Query, frozen=True):
    object: str
    relations: list[str] | None = None
    """Relations to test; default: every relation of the object's type."""


class ListRelationsResponse(_Answered, frozen=True):
    object: str
    relations: list[str]
