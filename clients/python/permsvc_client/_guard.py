"""What every framework guard shares: the requirement, the object template, the bearer token, one
decision for all of a request's checks (one ``/v1/check`` or one ``/v1/check/batch``), and the
HTTP answer for each way it can fail. Frameworks only adapt requests and exceptions."""

from __future__ import annotations

import inspect
import logging
import string
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from permsvc_client.claims import read_claim
from permsvc_client.errors import (
    InvalidRequestError,
    MissingTokenError,
    PermsvcError,
    TokenRejectedError,
    UnavailableError,
)
from permsvc_client.results import Check, CheckResult

__all__ = (
    "Decision",
    "Denied",
    "GuardsBase",
    "Requirement",
    "bearer_token",
    "decide_async",
    "decide_sync",
    "failure",
    "requirements",
)

log = logging.getLogger("permsvc_client")

ObjectSpec = str | Callable[[Any], "str | Awaitable[str]"]


C = TypeVar("C")
G = TypeVar("G")


class GuardsBase(Generic[C, G]):
    """What every framework's ``Guards`` holds: the client, the realm of its challenges, and how to
    read the token's permission summary."""

    def __init__(
        self,
        client: C,
        *,
        realm: str = "api",
        claim_name: str | None = None,
        token_claims: G | None = None,
    ) -> None:
        """
        Args:
            client: the client (one per app).
            realm: the ``realm`` of this API's ``WWW-Authenticate`` challenges.
            claim_name, token_claims: answer from the token's permission summary when it covers
                the check: ``token_claims`` returns the *verified* token payload of the current
                request (from your JWT validation), ``claim_name`` names the claim. Anything else
                goes to permsvc.
        """
        self.client = client
        self.realm = realm
        self.claim_name = claim_name
        self.token_claims = token_claims


@dataclass(frozen=True, slots=True)
class Requirement:
    """``relation`` on ``object``: a template such as ``"document:{doc_id}"`` filled from the
    route's path parameters, or a callable taking the framework's request (may be async)."""

    relation: str
    object: ObjectSpec

    def __post_init__(self) -> None:
        if not isinstance(self.relation, str) or not self.relation:
            raise ValueError(f"relation must be a non-empty string, got {self.relation!r}")
        if isinstance(self.object, str):
            if ":" not in self.object:
                raise ValueError(
                    f"object {self.object!r} must be 'type:id' (e.g. 'document:{{doc_id}}')"
                )
        elif not callable(self.object):
            raise TypeError(
                f"object must be a 'type:{{param}}' template or a callable, got {self.object!r}"
            )

    def template_fields(self) -> list[str]:
        if not isinstance(self.object, str):
            return []
        return [f for _, f, _, _ in string.Formatter().parse(self.object) if f]

    async def resolve_async(self, request: Any, params: Mapping[str, Any]) -> str:
        if isinstance(self.object, str):
            return self._format(params)
        value = self.object(request)
        if inspect.isawaitable(value):
            value = await value
        return self._checked(value)

    def resolve(self, request: Any, params: Mapping[str, Any]) -> str:
        if isinstance(self.object, str):
            return self._format(params)
        value = self.object(request)
        if inspect.isawaitable(value):
            raise TypeError(
                "an async object callable needs an async framework (FastAPI, Starlette, Litestar)"
            )
        return self._checked(value)

    def _format(self, params: Mapping[str, Any]) -> str:
        assert isinstance(self.object, str)
        missing = [f for f in self.template_fields() if f not in params]
        if missing:
            raise LookupError(
                f"object template {self.object!r} names path parameter(s) {missing}, but the route "
                f"has {sorted(params)}: use the route's parameter names or pass a callable"
            )
        return self.object.format_map({k: str(v) for k, v in params.items()})

    @staticmethod
    def _checked(value: Any) -> str:
        if not isinstance(value, str) or ":" not in value:
            raise TypeError(f"the object callable must return 'type:id', got {value!r}")
        return value


def requirements(
    relation: str, object: ObjectSpec, more: Sequence[tuple[str, ObjectSpec]]
) -> list[Requirement]:
    return [Requirement(relation, object), *(Requirement(r, o) for r, o in more)]


def bearer_token(authorization: str | None) -> str:
    """The token of ``Authorization: Bearer <token>``; :class:`MissingTokenError` otherwise."""
    if not authorization:
        raise MissingTokenError(
            "this API needs an access token: send 'Authorization: Bearer <token>'", status=401
        )
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise MissingTokenError(
            "the Authorization header must be 'Bearer <access token>' (one token, no other scheme)",
            status=401,
        )
    return token


class Denied(PermsvcError):
    """A check said no."""


@dataclass(frozen=True, slots=True)
class Decision:
    """Every check of one request, all allowed (else the guard answered 403 instead)."""

    results: list[CheckResult]
    subject_token: str = field(repr=False)

    @property
    def revision(self) -> int:
        return min((r.revision for r in self.results), default=0)


def claim_answers(
    claims: Mapping[str, Any] | None, claim_name: str | None, asked: list[tuple[str, str]]
) -> dict[int, CheckResult]:
    """The asked checks the token's permission summary answers, by position."""
    if claims is None or not claim_name:
        return {}
    view = read_claim(claims, claim_name=claim_name)
    out: dict[int, CheckResult] = {}
    for i, (relation, obj) in enumerate(asked):
        allowed = view.has(relation, obj)
        if allowed is not None:
            out[i] = CheckResult(
                allowed=allowed,
                object=obj,
                relation=relation,
                user="",
                store_id="",
                authorization_model_id="",
                revision=view.revision or 0,
                consistency_token="",
                source="claim",
            )
    return out


def remote_checks(
    asked: list[tuple[str, str]], known: dict[int, CheckResult]
) -> list[tuple[int, Check]]:
    return [(i, Check(r, o)) for i, (r, o) in enumerate(asked) if i not in known]


def combine(
    asked: list[tuple[str, str]],
    known: dict[int, CheckResult],
    remote: list[tuple[int, CheckResult]],
    token: str,
) -> Decision:
    answers = dict(known)
    answers.update(remote)
    results = [answers[i] for i in range(len(asked))]
    denied = [r for r in results if not r.allowed]
    if denied:
        names = ", ".join(f"{r.relation} on {r.object}" for r in denied)
        raise Denied(f"permission denied: {names}", status=403, code="forbidden")
    return Decision(results, token)


def _quote(text: str) -> str:
    return text.replace("\\", "/").replace('"', "'")


@dataclass(frozen=True, slots=True)
class Failure:
    status: int
    code: str
    message: str
    headers: dict[str, str]

    def body(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def failure(exc: Exception, realm: str = "api") -> Failure:
    """The HTTP answer a guard gives for ``exc``: 401 token problems (with permsvc's diagnosis),
    403 denied, 400 a malformed question, 503 for everything that keeps permsvc from deciding."""
    if isinstance(exc, Denied):
        return Failure(403, "forbidden", exc.message, {})
    if isinstance(exc, MissingTokenError):
        return Failure(
            401, "unauthenticated", exc.message, {"WWW-Authenticate": f'Bearer realm="{realm}"'}
        )
    if isinstance(exc, TokenRejectedError):
        challenge = f'Bearer realm="{realm}", error="invalid_token", error_description="{_quote(exc.message)}"'
        return Failure(401, "invalid_token", exc.message, {"WWW-Authenticate": challenge})
    if isinstance(exc, InvalidRequestError):
        return Failure(400, "invalid_request", exc.message, {})
    if isinstance(exc, UnavailableError):
        log.warning("permsvc unavailable, denying (fail closed): %s", exc)
        retry = exc.retry_after if exc.retry_after is not None else 1
        return Failure(
            503,
            "unavailable",
            "the permission service is unavailable; retry later",
            {"Retry-After": str(int(retry))},
        )
    if isinstance(exc, PermsvcError):
        log.error("permsvc refused this service, denying: %s", exc)
        return Failure(
            503,
            "unavailable",
            "the permission service cannot decide this request; retry later",
            {"Retry-After": "5"},
        )
    raise exc


def _batch_results(remote: list[tuple[int, Check]], batch: Any) -> list[tuple[int, CheckResult]]:
    out = []
    for (i, check), item in zip(remote, batch.results, strict=True):
        if item.error is not None:
            raise InvalidRequestError(
                f"permsvc could not check {check.relation} on {check.object}: {item.error.message}",
                status=400,
                code=item.error.code,
            )
        out.append(
            (
                i,
                CheckResult(
                    allowed=item.allowed,
                    object=item.object,
                    relation=item.relation,
                    user=batch.user,
                    store_id=batch.store_id,
                    authorization_model_id=batch.authorization_model_id,
                    revision=batch.revision,
                    consistency_token=batch.consistency_token,
                ),
            )
        )
    return out


async def decide_async(
    client: Any,
    reqs: list[Requirement],
    request: Any,
    params: Mapping[str, Any],
    token: str,
    claims: Mapping[str, Any] | None = None,
    claim_name: str | None = None,
) -> Decision:
    """All of a request's checks in one round trip (none when the token's summary answers)."""
    asked = [(r.relation, await r.resolve_async(request, params)) for r in reqs]
    known = claim_answers(claims, claim_name, asked)
    remote = remote_checks(asked, known)
    got: list[tuple[int, CheckResult]] = []
    if len(remote) == 1:
        ((i, c),) = remote
        got = [(i, await client.check(c.relation, c.object, subject_token=token))]
    elif remote:
        got = _batch_results(
            remote, await client.batch_check([c for _, c in remote], subject_token=token)
        )
    return combine(asked, known, got, token)


def decide_sync(
    client: Any,
    reqs: list[Requirement],
    request: Any,
    params: Mapping[str, Any],
    token: str,
    claims: Mapping[str, Any] | None = None,
    claim_name: str | None = None,
) -> Decision:
    """:func:`decide_async` for the sync client."""
    asked = [(r.relation, r.resolve(request, params)) for r in reqs]
    known = claim_answers(claims, claim_name, asked)
    remote = remote_checks(asked, known)
    got: list[tuple[int, CheckResult]] = []
    if len(remote) == 1:
        ((i, c),) = remote
        got = [(i, client.check(c.relation, c.object, subject_token=token))]
    elif remote:
        got = _batch_results(
            remote, client.batch_check([c for _, c in remote], subject_token=token)
        )
    return combine(asked, known, got, token)
