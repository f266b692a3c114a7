"""Exception -> (HTTP status, OpenFGA error body): the one place the API translates errors.

Every error response of every surface has the body ``{"code": "<name>", "message": "<text>"}``
(OpenFGA's ``ErrorResponse``; pkg/server/errors/encoded_errors.go). The HTTP status follows from
the numeric OpenFGA code exactly as OpenFGA derives it: 1000-1999 -> 401, 2000-3499 -> 400,
3500-3999 -> 422, 4000-4999 -> 500, >= 5000 -> 404; gRPC ``Aborted`` (a condition conflict on an
idempotent write) -> 409 with the code ``Aborted``. A few transport-level failures OpenFGA's
gateway reports differently keep their natural status (405, 413, 503).

The code of a domain error comes from the error itself (``openfga_name``) or from the engine's
type table (:func:`permsvc.engine.errors.openfga_code`); this module adds what only HTTP needs:
statuses, ``Aborted``, transport errors. Each exception is translated exactly once, here.
Anything without a code is a server fault: the client gets a generic ``internal_error`` and the
cause is logged with the request id.

A database fault (:class:`~permsvc.store.errors.DatabaseFault`: the database is down, restarting,
unreachable, a connection was lost or timed out; whichever backend and driver raised it, also
inside an exception group) is ``503 unavailable`` with ``Retry-After``, on every route: the
request may be retried as is, and the pool reconnects by itself when the database is back.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Response
from litestar.exceptions import (
    HTTPException,
    InternalServerException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge

from permsvc.api.ops import request_id_of
from permsvc.auth.errors import AuthError, KeySetUnavailableError, MissingBearerTokenError
from permsvc.core.errors import InvariantViolation, PermsvcError
from permsvc.core.revision import InvalidConsistencyTokenError
from permsvc.engine.errors import openfga_code
from permsvc.store.errors import (
    DEFAULT_RETRY_AFTER_S,
    TupleConditionConflictError,
    WriteConflictError,
    database_fault_of,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from litestar import Request

__all__ = (
    "ERROR_CODES",
    "ApiError",
    "ErrorBody",
    "error_response",
    "exception_handlers",
    "render_error",
    "status_for_code",
    "translate",
)

_log = logging.getLogger("permsvc.api")

ERROR_CODES: dict[str, int] = {
    "auth_failed": 1001,
    "invalid_claims": 1002,
    "bearer_token_missing": 1010,
    "unauthenticated": 1500,
    "forbidden": 1600,
    "validation_error": 2000,
    "invalid_request": 2000,  # RFC 6750: a malformed Authorization header (not an OpenFGA name)
    "request_timeout": 2000,  # the client did not send its request in time (408)
    "authorization_model_not_found": 2001,
    "authorization_model_resolution_too_complex": 2002,
    "invalid_write_input": 2003,
    "cannot_allow_duplicate_tuples_in_one_request": 2004,
    "invalid_continuation_token": 2007,
    "invalid_check_input": 2009,
    "invalid_expand_input": 2010,
    "invalid_object_format": 2012,
    "write_failed_due_to_invalid_input": 2017,
    "authorization_model_assertions_not_found": 2018,
    "latest_authorization_model_not_found": 2020,
    "type_not_found": 2021,
    "relation_not_found": 2022,
    "invalid_user": 2025,
    "invalid_tuple": 2027,
    "store_id_invalid_length": 2030,
    "assertions_too_many_items": 2033,
    "authorization_model_id_too_long": 2036,
    "tuple_keys_too_many_or_too_few_items": 2038,
    "page_size_invalid": 2039,
    "type_invalid_pattern": 2047,
    "query_string_type_continuation_token_mismatch": 2052,
    "exceeded_entity_limit": 2053,
    "invalid_contextual_tuple": 2054,
    "duplicate_contextual_tuple": 2055,
    "invalid_authorization_model": 2056,
    "unsupported_schema_version": 2057,
    "invalid_start_time": 2059,
    "throttled_timeout_error": 3500,
    "internal_error": 4000,
    "deadline_exceeded": 4004,
    "resource_exhausted": 4006,
    "unavailable": 4010,
    "undefined_endpoint": 5000,
    "store_id_not_found": 5002,
}
"""OpenFGA error names -> numeric codes (openfga/api errors_ignore.proto), the ones permsvc emits."""

_ABORTED = "Aborted"


_STATUS_OVERRIDES = {
    _ABORTED: 409,
    "deadline_exceeded": 504,
    "resource_exhausted": 422,
    "request_timeout": 408,
}
"""Codes whose status is not their range's: gRPC ``Aborted`` is 409 as OpenFGA's gateway renders
it; a request that ran out of time is a 504 and one needing more work than any request may do
is a 422 (the client must narrow it), never a 500, which means a server fault. A request whose
client did not send it in time is a 408 (``permsvc serve``'s HTTP protocol)."""


def status_for_code(code: str) -> int:
    """The HTTP status of an error code: OpenFGA's ranges (encoded_errors.go) with the overrides above."""
    override = _STATUS_OVERRIDES.get(code)
    if override is not None:
        return override
    number = ERROR_CODES[code]
    if number < 2000:
        return 401 if number < 1600 else 403
    if number < 3500:
        return 400
    if number < 4000:
        return 422
    if number < 5000:
        return 500
    return 404


class ApiError(PermsvcError):
    """An error the API layer itself detects (wire validation), already carrying its code.

    ``status`` defaults to the code's OpenFGA status; ``headers`` are added to the response.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status if status is not None else status_for_code(code)
        self.headers = headers or {}


class ErrorBody(msgspec.Struct, frozen=True):
    """The body of every error response."""

    code: str
    message: str


_INTERNAL_MESSAGE = "Internal Server Error"

_CLIENT_GONE = "client disconnected prematurely"
"""The detail of the exception Litestar raises when the client disconnects mid-body."""

_UNAVAILABLE_STATUS = 503
_RETRY_AFTER = {"Retry-After": str(DEFAULT_RETRY_AFTER_S)}


def _unavailable_body(fault: BaseException) -> ErrorBody:
    """The 503 body: a permsvc error's own (public) message, else a generic one. A driver's message
    can name hosts, users or SQL, so it is logged (``render_error``), never sent."""
    if isinstance(fault, PermsvcError) and fault.detail:
        return ErrorBody("unavailable", fault.detail)
    return ErrorBody("unavailable", "the database is unavailable; retry later")


_ABORTED_ERRORS = (TupleConditionConflictError, WriteConflictError)

_API_ONLY_CODES: dict[type[PermsvcError], str] = {
    InvalidConsistencyTokenError: "validation_error",
}
"""Errors only the API surfaces raise (the engine's table covers the rest)."""


def _code_of(exc: PermsvcError) -> str:
    """The OpenFGA code name of a domain error.

    Errors that name their code themselves (``openfga_name`` class attribute: engine and command
    errors) win; the rest are looked up in the engine's type table, shared with the conformance
    runner so the API and the runner never disagree.
    """
    if isinstance(exc, _ABORTED_ERRORS):
        return _ABORTED  # gRPC Aborted -> 409, as OpenFGA's gateway renders it
    name = getattr(exc, "openfga_name", None) or _API_ONLY_CODES.get(type(exc))
    if not isinstance(name, str):
        name = openfga_code(exc)[1]
    return name if name in ERROR_CODES else "internal_error"


def translate(exc: BaseException) -> tuple[int, ErrorBody, dict[str, str]]:
    """(status, body, extra headers) for an exception; ``internal_error`` when it is a fault."""
    if isinstance(exc, ApiError):
        return exc.status, ErrorBody(exc.code, exc.detail), exc.headers
    if isinstance(exc, AuthError):
        return _translate_auth(exc)
    if (fault := database_fault_of(exc)) is not None:
        return _UNAVAILABLE_STATUS, _unavailable_body(fault), _RETRY_AFTER
    if isinstance(exc, PermsvcError) and not isinstance(exc, InvariantViolation):
        code = _code_of(exc)
        if code != "internal_error":
            return status_for_code(code), ErrorBody(code, exc.detail), {}
    if isinstance(exc, HTTPException):
        return _translate_http(exc)
    return 500, ErrorBody("internal_error", _INTERNAL_MESSAGE), {}


def _translate_auth(exc: AuthError) -> tuple[int, ErrorBody, dict[str, str]]:
    """Bearer-token and API-key failures (RFC 6750): the error's own status and challenge; the
    message says what to fix. An unreachable key set is 503 with a generic message (the detail,
    which names the issuer's URL, is logged by the caller's log line for 5xx)."""
    headers = {"WWW-Authenticate": challenge} if (challenge := exc.www_authenticate()) else {}
    status = exc.status_code
    if isinstance(exc, KeySetUnavailableError):
        _log.warning("token keys unavailable: %s", exc.detail)
        return 503, ErrorBody("unavailable", exc.public_message), {"Retry-After": "5"}
    if isinstance(exc, MissingBearerTokenError):
        code = "unauthenticated"  # the security contract's one 401 code (OpenFGA says bearer_token_missing)
    elif status == 403:
        code = "forbidden"
    elif status == 400:
        code = exc.error_code if exc.error_code in ERROR_CODES else "validation_error"
    elif status >= 500:
        return 500, ErrorBody("internal_error", _INTERNAL_MESSAGE), {}
    else:
        code = "unauthenticated"
    return status, ErrorBody(code, exc.detail), headers


def _translate_http(exc: HTTPException) -> tuple[int, ErrorBody, dict[str, str]]:
    """Litestar's own exceptions: routing misses, body limits, and its request parsing."""
    headers = dict(exc.headers or {})
    if isinstance(exc, NotFoundException):
        return 404, ErrorBody("undefined_endpoint", "Not Found"), headers
    if isinstance(exc, MethodNotAllowedException):
        return 405, ErrorBody("undefined_endpoint", "Method Not Allowed"), headers
    if isinstance(exc, RequestEntityTooLarge):
        return 413, ErrorBody("resource_exhausted", "request body too large"), headers
    if isinstance(exc, NotAuthorizedException):
        return 401, ErrorBody("unauthenticated", exc.detail or "unauthenticated"), headers
    if isinstance(exc, PermissionDeniedException):
        return 403, ErrorBody("forbidden", exc.detail or "forbidden"), headers
    if 400 <= exc.status_code < 500:
        return exc.status_code, ErrorBody("validation_error", _http_detail(exc)), headers
    if isinstance(exc, InternalServerException) and exc.detail == _CLIENT_GONE:
        # Litestar's report of an ``http.disconnect`` while reading the body: the client sent less
        # than it announced and left. Not a server fault (no 5xx in metrics, no error log line).
        return (
            400,
            ErrorBody("validation_error", "the request body ended before its announced length"),
            {},
        )
    return 500, ErrorBody("internal_error", _INTERNAL_MESSAGE), {}


def _http_detail(exc: HTTPException) -> str:
    extra = exc.extra
    if isinstance(extra, list) and extra and isinstance(extra[0], dict):
        messages = [str(e.get("message", "")) for e in extra if isinstance(e, dict)]
        keys = [str(e.get("key", "")) for e in extra if isinstance(e, dict)]
        return "; ".join(f"{k}: {m}" if k else m for k, m in zip(keys, messages, strict=True))
    return exc.detail


_encode_struct = msgspec.json.Encoder().encode


def _encode(body: ErrorBody) -> bytes:
    """The JSON of an error body. A message quoting the client's input may hold text that is no
    Unicode (a lone surrogate decoded from a ``\\ud800`` escape); it is spelled as that escape
    rather than failing the error response itself."""
    try:
        return _encode_struct(body)
    except UnicodeEncodeError:
        safe = body.message.encode("utf-8", "backslashreplace").decode("utf-8")
        return _encode_struct(ErrorBody(body.code, safe))


def error_response(
    status: int, body: ErrorBody, headers: dict[str, str] | None = None
) -> Response[bytes]:
    return Response(
        _encode(body), status_code=status, media_type="application/json", headers=headers
    )


def render_error(
    exc: BaseException, *, state: Any, scope: Any
) -> tuple[int, bytes, dict[str, str]]:
    """(status, JSON body, headers) of the error response for ``exc``; counts it in the metrics
    and logs a server fault with the request id. Every error path of every route goes through here."""
    status, body, headers = translate(exc)
    deps = state.get("deps")
    if deps is not None:
        deps.metrics.error(body.code)
    if status == _UNAVAILABLE_STATUS and body.code == "unavailable":
        fault = database_fault_of(exc)
        if fault is not None:
            _log.warning(
                "database unavailable on %s %s: %s: %s",
                scope.get("method", ""),
                scope.get("path", ""),
                type(fault).__name__,
                fault,
                extra={"fields": {"request_id": request_id_of(scope)}},
            )
    elif status >= 500 and body.code == "internal_error":
        _log.error(
            "unhandled error on %s %s",
            scope.get("method", ""),
            scope.get("path", ""),
            exc_info=exc,
            extra={"fields": {"request_id": request_id_of(scope)}},
        )
    return status, _encode(body), headers


def _handle(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    status, payload, headers = render_error(exc, state=request.app.state, scope=request.scope)
    return Response(payload, status_code=status, media_type="application/json", headers=headers)


def exception_handlers() -> dict[
    int | type[Exception], Callable[[Request[Any, Any, Any], Any], Response[Any]]
]:
    """The app-level handler map: one handler for everything, driven by the table above."""
    return {Exception: _handle}
