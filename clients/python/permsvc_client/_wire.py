"""The wire protocol shared by the sync and async clients: request bodies, who authenticates how,
and how an HTTP answer becomes a typed result or a typed error. No I/O here."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from permsvc_client.errors import (
    CredentialError,
    InvalidRequestError,
    NotFoundError,
    PermsvcError,
    TokenRejectedError,
    UnavailableError,
)
from permsvc_client.results import (
    BatchCheckResult,
    BatchItem,
    Check,
    CheckResult,
    ClaimsResult,
    ItemError,
    ObjectsPage,
    RelationsResult,
    TupleChange,
)

__all__ = ("MAX_BATCH", "Call", "Settings")

MAX_BATCH = 50
"""Items per ``/v1/check/batch`` request (the server's limit); larger batches are split."""

USER_AGENT = "permsvc-client-python/0.1.0"

T = TypeVar("T")

Credential = str | Callable[[], str] | None


@dataclass(frozen=True, slots=True)
class Settings:
    base_url: str
    credential: Credential
    store_id: str | None

    def credential_value(self) -> str | None:
        value = self.credential() if callable(self.credential) else self.credential
        return value or None


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One HTTP request to make and how to read its answer."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    parse: Callable[[Any], T]
    subject_in_body: bool
    """The user's token travels as ``subject_token`` (else it is the bearer credential, if any)."""
    user_token_as_bearer: bool


def _require_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")


def query(
    settings: Settings,
    path: str,
    body: dict[str, Any],
    parse: Callable[[Any], T],
    *,
    subject_token: str | None,
    user: str | None,
    store_id: str | None,
    context: Mapping[str, Any] | None = None,
    contextual_tuples: Iterable[Mapping[str, Any]] | None = None,
    consistency_token: str | None = None,
    authorization_model_id: str | None = None,
) -> Call[T]:
    """A /v1 query (check, batch, objects, relations) about the user of ``subject_token`` or ``user``.

    With a service credential the user's token goes in the body as ``subject_token``; without one,
    the user's token itself is the bearer credential (a user token may ask about itself)."""
    credential = settings.credential_value()
    if subject_token is not None and user is not None:
        raise ValueError("pass subject_token (the user's access token) or user, not both")
    if subject_token is not None:
        _require_text("subject_token", subject_token)
        if subject_token.lower().startswith("bearer "):
            raise ValueError("subject_token is the bare access token: strip the 'Bearer ' prefix")
    if user is not None:
        _require_text("user", user)
    if credential is None and user is not None:
        raise ValueError(
            "asking about a named user needs a service credential with the check role: give the "
            "client credential=<API key or client-credentials token> (PERMSVC_API_KEY)"
        )
    if credential is None and subject_token is None:
        raise ValueError(
            "nothing to authenticate with: pass subject_token=<the user's access token>, or give "
            "the client a service credential (credential=<API key or client-credentials token>, "
            "PERMSVC_API_KEY) to ask about a named user"
        )
    if credential is not None and subject_token is None and user is None:
        raise ValueError(
            "name the user: pass subject_token=<the user's access token> or user='user:<id>'"
        )
    out = dict(body)
    store = store_id or settings.store_id
    if store:
        out["store_id"] = store
    if user is not None:
        out["user"] = user
    subject_in_body = credential is not None and subject_token is not None
    if subject_in_body:
        out["subject_token"] = subject_token
    if context is not None:
        out["context"] = dict(context)
    if contextual_tuples is not None:
        out["contextual_tuples"] = [dict(t) for t in contextual_tuples]
    if consistency_token:
        out["consistency_token"] = consistency_token
    if authorization_model_id:
        out["authorization_model_id"] = authorization_model_id
    bearer = credential if credential is not None else subject_token
    return Call(
        path=path,
        body=out,
        headers=_headers(bearer),
        parse=parse,
        subject_in_body=subject_in_body,
        user_token_as_bearer=credential is None,
    )


def admin(
    settings: Settings,
    path: str,
    body: dict[str, Any],
    parse: Callable[[Any], T],
    store_id: str | None,
) -> Call[T]:
    """A call made with the service's own credential only (claims, grants, revokes)."""
    credential = settings.credential_value()
    if credential is None:
        raise ValueError(
            f"{path} needs a service credential: give the client credential=<API key> (PERMSVC_API_KEY)"
        )
    out = dict(body)
    store = store_id or settings.store_id
    if store:
        out["store_id"] = store
    return Call(path, out, _headers(credential), parse, False, False)


STATIC_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json",
    "User-Agent": USER_AGENT,
}
"""Sent with every request (set once on the client's connection pool)."""


def _headers(bearer: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}


def encode(call: Call[Any]) -> bytes:
    return json.dumps(call.body, separators=(",", ":")).encode()


# ---------------------------------------------------------------- answers


def _answered(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "user": data["user"],
        "store_id": data["store_id"],
        "authorization_model_id": data["authorization_model_id"],
        "revision": data["revision"],
        "consistency_token": data["consistency_token"],
    }


def parse_check(data: Mapping[str, Any]) -> CheckResult:
    return CheckResult(
        allowed=bool(data["allowed"]),
        object=data["object"],
        relation=data["relation"],
        **_answered(data),
    )


def parse_batch(data: Mapping[str, Any]) -> BatchCheckResult:
    items = []
    for item in data["results"]:
        error = item.get("error")
        items.append(
            BatchItem(
                correlation_id=item["correlation_id"],
                object=item["object"],
                relation=item["relation"],
                allowed=bool(item["allowed"]),
                error=ItemError(error["code"], error["message"]) if error else None,
            )
        )
    return BatchCheckResult(results=items, **_answered(data))


def parse_objects(data: Mapping[str, Any]) -> ObjectsPage:
    return ObjectsPage(
        objects=list(data["objects"]),
        continuation_token=data.get("continuation_token", ""),
        **_answered(data),
    )


def parse_relations(data: Mapping[str, Any]) -> RelationsResult:
    return RelationsResult(
        object=data["object"], relations=list(data["relations"]), **_answered(data)
    )


def parse_claims(data: Mapping[str, Any]) -> ClaimsResult:
    return ClaimsResult(
        claims=dict(data["claims"]), revision=data["revision"], truncated=data["truncated"]
    )


def parse_change(data: Mapping[str, Any]) -> TupleChange:
    return TupleChange(
        store_id=data["store_id"],
        changed=data["changed"],
        revision=data["revision"],
        consistency_token=data["consistency_token"],
        audit_id=data.get("audit_id"),
    )


def batches(checks: Iterable[Check | tuple[str, str]]) -> list[list[Check]]:
    """Checks in request order, split into server-sized batches; correlation ids default to the
    position in the whole list so that results can be matched across batches."""
    items: list[Check] = []
    for i, check in enumerate(checks):
        if isinstance(check, tuple):
            check = Check(*check)
        elif not isinstance(check, Check):
            raise TypeError(f"a check is a Check or a (relation, object) pair, got {check!r}")
        _require_text("relation", check.relation)
        _require_text("object", check.object)
        if not check.correlation_id:
            check = Check(
                check.relation, check.object, str(i), check.context, check.contextual_tuples
            )
        items.append(check)
    if not items:
        raise ValueError("batch_check needs at least one check")
    return [items[i : i + MAX_BATCH] for i in range(0, len(items), MAX_BATCH)]


def merge_batches(parts: list[BatchCheckResult]) -> BatchCheckResult:
    """One result for several batch requests: every item, the oldest revision that answered."""
    if len(parts) == 1:
        return parts[0]
    oldest = min(parts, key=lambda p: p.revision)
    return BatchCheckResult(
        results=[item for part in parts for item in part.results],
        user=oldest.user,
        store_id=oldest.store_id,
        authorization_model_id=oldest.authorization_model_id,
        revision=oldest.revision,
        consistency_token=oldest.consistency_token,
    )


# ---------------------------------------------------------------- errors


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return float(value)
    except ValueError:
        return None


def _body(response: httpx.Response) -> tuple[str, str]:
    try:
        data = response.json()
    except ValueError:
        return "", response.text[:300]
    if isinstance(data, dict):
        return str(data.get("code", "")), str(data.get("message", ""))
    return "", response.text[:300]


_NOT_THE_USERS_FAULT = ("accepts no access tokens", "not both", "is empty")
"""Words of permsvc's subject_token refusals that are this deployment's problem, not the user's."""


def _subject_token_refused(call: Call[Any], status: int, message: str, challenge: str) -> bool:
    """permsvc refused the user's token passed as ``subject_token`` (400 or 401, naming it)."""
    if not call.subject_in_body or status not in (400, 401):
        return False
    text = f"{message} {challenge}".lower()
    about = "subject_token" in text or "subject token" in text
    return about and not any(words in text for words in _NOT_THE_USERS_FAULT)


def _users_view(message: str) -> str:
    """permsvc's diagnosis as the API's caller should read it: about *their* token, not about the
    ``subject_token`` field they never saw."""
    for prefix in ("subject_token is not acceptable: ", "subject_token: "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def error_for(call: Call[Any], response: httpx.Response) -> PermsvcError:
    """The typed error for a non-2xx answer to ``call``."""
    status = response.status_code
    code, message = _body(response)
    challenge = response.headers.get("www-authenticate", "")
    where = f"permsvc answered {status} to POST {call.path}"
    if (status == 401 and call.user_token_as_bearer) or _subject_token_refused(
        call, status, message, challenge
    ):
        return TokenRejectedError(
            _users_view(message) or "the access token was refused",
            status=status,
            code=code,
            hint="the user must send a valid access token for this API",
            www_authenticate=challenge,
        )
    if "accepts no access tokens" in message:
        return CredentialError(
            f"{where}: {message}",
            status=status,
            code=code,
            hint="configure permsvc to validate your identity provider's tokens (PERMSVC_OIDC_ISSUER, PERMSVC_OIDC_AUDIENCE)",
        )
    if status == 401:
        return CredentialError(
            f"{where}: this service's credential was refused: {message}",
            status=status,
            code=code,
            hint="check PERMSVC_API_KEY (a psk_... key that is not revoked) or the client-credentials token",
            www_authenticate=challenge,
        )
    if status == 403:
        if call.user_token_as_bearer:
            return CredentialError(
                f"{where}: {message}",
                status=status,
                code=code,
                hint="a user's own token may only ask about itself; give the client a service credential with the check role",
                www_authenticate=challenge,
            )
        return CredentialError(
            f"{where}: {message}",
            status=status,
            code=code,
            hint="give this service a credential with the role the call needs (check for /v1 queries, "
            "claims for /v1/claims, admin for grants) and access to the store",
            www_authenticate=challenge,
        )
    if status == 404:
        return NotFoundError(
            f"{where}: {message}",
            status=status,
            code=code,
            hint="check the store id (PERMSVC_STORE)",
        )
    if status in (408, 425, 429) or status >= 500:
        return UnavailableError(
            f"{where}: {message or 'no usable answer'}",
            status=status,
            code=code,
            retry_after=_retry_after(response),
            hint="retry later; guards deny meanwhile (fail closed)",
        )
    return InvalidRequestError(
        f"{where}: {message}", status=status, code=code, hint=_invalid_hint(code, message)
    )


def _invalid_hint(code: str, message: str) -> str:
    if code in ("relation_not_found", "type_not_found"):
        return "use a type and relation of the store's authorization model"
    if "store" in message and "no store" in message:
        return "pass store_id= or set PERMSVC_STORE on the client"
    return "fix the request as the message says"


def transport_error(call: Call[Any], exc: httpx.HTTPError, base_url: str) -> UnavailableError:
    if isinstance(exc, httpx.TimeoutException):
        return UnavailableError(
            f"permsvc at {base_url} did not answer POST {call.path} in time ({type(exc).__name__})",
            hint="raise the client's timeout= or check permsvc's load",
        )
    return UnavailableError(
        f"permsvc at {base_url} is unreachable for POST {call.path}: {exc}",
        hint="check PERMSVC_URL and that permsvc is running",
    )


def decode(call: Call[T], response: httpx.Response) -> T:
    if not 200 <= response.status_code < 300:
        raise error_for(call, response)
    try:
        data = response.json()
        return call.parse(data)
    except (ValueError, KeyError, TypeError) as exc:
        raise UnavailableError(
            f"permsvc answered POST {call.path} with an unreadable body ({exc})",
            status=response.status_code,
            hint="is PERMSVC_URL a permsvc server (and a compatible version)?",
        ) from exc
