"""Who a /v1 check asks about, and what its caller may add to the question.

=====================================  ==========================================================
caller                                 the user asked about / what it may send
=====================================  ==========================================================
an end user's own access token         itself only: ``user`` absent or its own, no
                                       ``subject_token``, no ``contextual_tuples``, ``context``
                                       only when ``PERMSVC_END_USER_CONTEXT`` is on
a service (key, bootstrap key, or      the user of ``subject_token`` (the end user's access
machine token) with the ``check`` role token, validated here); ``context`` and up to 100
                                       ``contextual_tuples`` (counted across a whole batch)
a service with the ``read`` role       may instead name any ``user`` directly
=====================================  ==========================================================

An end user asking with ``contextual_tuples`` could grant itself anything (``user:*`` viewer of
someone else's document), so that field is a service's, as is naming another user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from permsvc.api.errors import ApiError
from permsvc.auth.errors import ForbiddenError
from permsvc.settings import DEFAULT_MAX_CONTEXTUAL_TUPLES

if TYPE_CHECKING:
    from permsvc.api.security.authenticator import Security
    from permsvc.api.security.principal import Principal

__all__ = ("MAX_CONTEXTUAL_TUPLES_PER_REQUEST", "count_tuples", "subject_of_request")

MAX_CONTEXTUAL_TUPLES_PER_REQUEST = DEFAULT_MAX_CONTEXTUAL_TUPLES
"""Contextual tuples one /v1 request may carry, counted across every item of a batch."""


def count_tuples(value: Any) -> int:
    """How many contextual tuples a wire value holds (a list or ``{"tuple_keys": [...]}``)."""
    if value is None:
        return 0
    keys = getattr(value, "tuple_keys", value)
    return len(keys) if isinstance(keys, list) else 0


async def subject_of_request(
    security: Security,
    principal: Principal,
    *,
    user: str | None,
    subject_token: str | None,
    contextual_tuples: int,
    context: bool,
) -> str:
    """The user a /v1 request asks about (see the module docstring).

    ``contextual_tuples``: how many the whole request carries; ``context``: whether it sends any.

    Raises:
        ForbiddenError: an end user asks about someone else or adds what only services may (403).
        ApiError: 400 for a malformed question (no user, both ``user`` and ``subject_token``,
            too many contextual tuples, an unacceptable ``subject_token``).
    """
    if principal.end_user:
        me = principal.subject
        assert me is not None
        if subject_token is not None:
            raise ForbiddenError(
                "an end user's access token cannot pass a subject_token; it asks about itself (omit it)"
            )
        if user and user != me:
            raise ForbiddenError(
                f"this access token is {me}'s; it cannot ask about {user[:200]}. Omit 'user', or have a service "
                "ask with its own credential and this token as 'subject_token'"
            )
        if contextual_tuples:
            raise ForbiddenError(
                "an end user's access token cannot send contextual_tuples (they would let it grant itself "
                "access); a service may, with its own credential"
            )
        if context and not security.settings.end_user_context:
            raise ForbiddenError(
                "an end user's access token cannot send context on this server (PERMSVC_END_USER_CONTEXT is off)"
            )
        return me
    if contextual_tuples > MAX_CONTEXTUAL_TUPLES_PER_REQUEST:
        raise ApiError(
            "validation_error",
            f"a request carries at most {MAX_CONTEXTUAL_TUPLES_PER_REQUEST} contextual tuples, counted across "
            f"the whole batch; this one carries {contextual_tuples}",
        )
    if subject_token is not None:
        if user:
            raise ApiError("validation_error", "send either 'subject_token' or 'user', not both")
        if not subject_token.strip():
            raise ApiError("validation_error", "'subject_token' is empty")
        return await security.subject_of(subject_token.strip())
    if user:
        if "read" not in principal.roles:
            raise ForbiddenError(
                f"{principal.describe()} has the 'check' role, which asks about a user through 'subject_token' "
                "(the user's access token); naming 'user' directly needs the 'read' role"
            )
        return user
    raise ApiError(
        "validation_error",
        f"name the user: send the end user's access token as 'subject_token' ({principal.describe()} speaks for "
        "a service, not for a user)",
    )
