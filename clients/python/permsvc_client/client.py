"""The sync (:class:`Permsvc`) and async (:class:`AsyncPermsvc`) clients of permsvc's /v1 API.

A backend acting for a user authenticates as itself (``credential``: a ``psk_...`` API key or a
client-credentials token with the ``check`` role) and passes the user's access token as
``subject_token``; permsvc validates it and answers about that user. Without a credential the
user's token itself is sent as the bearer credential (a user token may ask about itself).

One client holds one connection pool (HTTP keep-alive): create it once per process and close it
at shutdown (``with`` / ``async with``, or :meth:`close`). Calls time out (``timeout``, default
5 s, 2 s to connect) and raise the typed errors of :mod:`permsvc_client.errors`; nothing here ever
answers "allowed" unless permsvc (or the token's verified summary) said so.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import httpx

from permsvc_client import _wire as w
from permsvc_client.claims import read_claim as _read_claim
from permsvc_client.results import (
    BatchCheckResult,
    Check,
    CheckResult,
    ClaimsResult,
    ObjectsPage,
    RelationsResult,
    TupleChange,
)

__all__ = ("DEFAULT_TIMEOUT", "AsyncPermsvc", "Permsvc")

T = TypeVar("T")
_Sync = TypeVar("_Sync", bound="Permsvc")
_Async = TypeVar("_Async", bound="AsyncPermsvc")

DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)

_MAX_PAGES = 1000
"""Bound on pages :meth:`Permsvc.iter_objects` follows, so a misbehaving server cannot loop us."""


def _env_settings(**overrides: Any) -> dict[str, Any]:
    url = overrides.pop("base_url", None) or os.environ.get("PERMSVC_URL")
    if not url:
        raise ValueError("set PERMSVC_URL (e.g. http://127.0.0.1:8080) or pass base_url=")
    kwargs: dict[str, Any] = {
        "credential": os.environ.get("PERMSVC_API_KEY") or None,
        "store_id": os.environ.get("PERMSVC_STORE") or None,
    }
    if os.environ.get("PERMSVC_TIMEOUT"):
        kwargs["timeout"] = float(os.environ["PERMSVC_TIMEOUT"])
    kwargs.update(overrides)
    return {"base_url": url, **kwargs}


class _Calls:
    """Builds the calls of both clients."""

    _settings: w.Settings

    def __init__(self, base_url: str, credential: w.Credential, store_id: str | None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        self._settings = w.Settings(base_url.rstrip("/"), credential, store_id)

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    @property
    def store_id(self) -> str | None:
        return self._settings.store_id

    def _check_call(self, relation: str, object: str, kw: dict[str, Any]) -> w.Call[CheckResult]:
        w._require_text("relation", relation)
        w._require_text("object", object)
        return w.query(
            self._settings,
            "/v1/check",
            {"relation": relation, "object": object},
            w.parse_check,
            **kw,
        )

    def _batch_calls(
        self, checks: Iterable[Check | tuple[str, str]], kw: dict[str, Any]
    ) -> list[w.Call[BatchCheckResult]]:
        return [
            w.query(
                self._settings,
                "/v1/check/batch",
                {"checks": [c.to_json() for c in part]},
                w.parse_batch,
                **kw,
            )
            for part in w.batches(checks)
        ]

    def _objects_call(
        self,
        type: str,
        relation: str,
        page_size: int | None,
        continuation_token: str,
        kw: dict[str, Any],
    ) -> w.Call[ObjectsPage]:
        w._require_text("type", type)
        w._require_text("relation", relation)
        body: dict[str, Any] = {"type": type, "relation": relation}
        if page_size is not None:
            body["page_size"] = page_size
        if continuation_token:
            body["continuation_token"] = continuation_token
        return w.query(self._settings, "/v1/objects", body, w.parse_objects, **kw)

    def _relations_call(
        self, object: str, relations: Iterable[str] | None, kw: dict[str, Any]
    ) -> w.Call[RelationsResult]:
        w._require_text("object", object)
        body: dict[str, Any] = {"object": object}
        if relations is not None:
            body["relations"] = list(relations)
        return w.query(self._settings, "/v1/relations", body, w.parse_relations, **kw)

    def _claims_call(
        self, user_id: str, audience: str | None, client_id: str | None, store_id: str | None
    ) -> w.Call[ClaimsResult]:
        w._require_text("user_id", user_id)
        body: dict[str, Any] = {"user_id": user_id}
        if audience:
            body["audience"] = audience
        if client_id:
            body["client_id"] = client_id
        return w.admin(self._settings, "/v1/claims", body, w.parse_claims, store_id)

    def _change_call(
        self, path: str, tuples: Iterable[Mapping[str, Any]], store_id: str | None
    ) -> w.Call[TupleChange]:
        rows = [dict(t) for t in tuples]
        if not rows:
            raise ValueError(
                "name at least one tuple: {'object': ..., 'relation': ..., 'user': ...}"
            )
        return w.admin(self._settings, path, {"tuples": rows}, w.parse_change, store_id)

    def _delete_call(
        self, object: str, relation: str, user: str, store_id: str | None
    ) -> w.Call[TupleChange]:
        if not (object or relation or user):
            raise ValueError("delete_tuples needs a filter: object=, relation= and/or user=")
        body = {
            k: v for k, v in {"object": object, "relation": relation, "user": user}.items() if v
        }
        return w.admin(self._settings, "/v1/admin/tuples/delete", body, w.parse_change, store_id)

    def _claim_answer(
        self,
        token_claims: Mapping[str, Any],
        relation: str,
        object: str,
        claim_name: str,
        min_revision: int | None,
    ) -> CheckResult | None:
        view = _read_claim(token_claims, claim_name=claim_name, min_revision=min_revision)
        allowed = view.has(relation, object)
        if allowed is None:
            return None
        return CheckResult(
            allowed=allowed,
            object=object,
            relation=relation,
            user="",
            store_id=self._settings.store_id or "",
            authorization_model_id="",
            revision=view.revision or 0,
            consistency_token="",
            source="claim",
        )


def _query_kw(
    subject_token: str | None,
    user: str | None,
    store_id: str | None,
    context: Mapping[str, Any] | None,
    contextual_tuples: Iterable[Mapping[str, Any]] | None,
    consistency_token: str | None,
    authorization_model_id: str | None,
) -> dict[str, Any]:
    return {
        "subject_token": subject_token,
        "user": user,
        "store_id": store_id,
        "context": context,
        "contextual_tuples": contextual_tuples,
        "consistency_token": consistency_token,
        "authorization_model_id": authorization_model_id,
    }


class Permsvc(_Calls):
    """Synchronous client (Flask, Django, scripts). Thread-safe; reuse one instance."""

    def __init__(
        self,
        base_url: str,
        *,
        credential: w.Credential = None,
        store_id: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """
        Args:
            base_url: permsvc's URL, e.g. ``http://127.0.0.1:8080``.
            credential: this service's API key (``psk_...``) or client-credentials token, or a
                callable returning one (called per request: refresh tokens there).
            store_id: the default store (else the server's ``PERMSVC_STORE``).
            timeout: seconds, or an ``httpx.Timeout``.
            transport: an httpx transport (tests pass ``httpx.MockTransport``).
        """
        super().__init__(base_url, credential, store_id)
        self._http = httpx.Client(
            base_url=self._settings.base_url,
            headers=w.STATIC_HEADERS,
            timeout=timeout,
            transport=transport or httpx.HTTPTransport(retries=1),
        )

    @classmethod
    def from_env(cls, **overrides: Any) -> Permsvc:
        """From ``PERMSVC_URL``, ``PERMSVC_API_KEY``, ``PERMSVC_STORE``, ``PERMSVC_TIMEOUT``."""
        return cls(**_env_settings(**overrides))

    def __enter__(self: _Sync) -> _Sync:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, call: w.Call[T]) -> T:
        try:
            response = self._http.post(call.path, content=w.encode(call), headers=call.headers)
        except httpx.HTTPError as exc:
            raise w.transport_error(call, exc, self.base_url) from exc
        return w.decode(call, response)

    def check(
        self,
        relation: str,
        object: str,
        *,
        subject_token: str | None = None,
        user: str | None = None,
        store_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        contextual_tuples: Iterable[Mapping[str, Any]] | None = None,
        consistency_token: str | None = None,
        authorization_model_id: str | None = None,
    ) -> CheckResult:
        """May the user (of ``subject_token``, or ``user``) ``relation`` the ``object``?"""
        kw = _query_kw(
            subject_token,
            user,
            store_id,
            context,
            contextual_tuples,
            consistency_token,
            authorization_model_id,
        )
        return self._send(self._check_call(relation, object, kw))

    def batch_check(
        self,
        checks: Iterable[Check | tuple[str, str]],
        *,
        subject_token: str | None = None,
        user: str | None = None,
        store_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        contextual_tuples: Iterable[Mapping[str, Any]] | None = None,
        consistency_token: str | None = None,
        authorization_model_id: str | None = None,
    ) -> BatchCheckResult:
        """Many checks for one user; up to 50 per request (more are split, results in order)."""
        kw = _query_kw(
            subject_token,
            user,
            store_id,
            context,
            contextual_tuples,
            consistency_token,
            authorization_model_id,
        )
        return w.merge_batches([self._send(call) for call in self._batch_calls(checks, kw)])

    def filter_allowed(
        self,
        relation: str,
        objects: Iterable[str],
        *,
        subject_token: str | None = None,
        user: str | None = None,
        store_id: str | None = None,
        consistency_token: str | None = None,
    ) -> list[str]:
        """The ``objects`` the user may ``relation``, in order, checked in batches."""
        objs = list(objects)
        if not objs:
            return []
        result = self.batch_check(
            [Check(relation, o) for o in objs],
            subject_token=subject_token,
            user=user,
            store_id=store_id,
            consistency_token=consistency_token,
        )
        return [o for o, ok in zip(objs, result.allowed(), strict=True) if ok]

    def list_objects(
        self,
        type: str,
        relation: str,
        *,
        subject_token: str | None = None,
        user: str | None = None,
        store_id: str | None = None,
        page_size: int | None = None,
        continuation_token: str = "",
        context: Mapping[str, Any] | None = None,
        contextual_tuples: Iterable[Mapping[str, Any]] | None = None,
        consistency_token: str | None = None,
        authorization_model_id: str | None = None,
    ) -> ObjectsPage:
        """One page of the objects of ``type`` the user may ``relation``."""
        kw = _query_kw(
            subject_token,
            user,
            store_id,
            context,
            contextual_tuples,
            consistency_token,
            authorization_model_id,
        )
        return self._send(self._objects_call(type, relation, page_size, continuation_token, kw))

    def iter_objects(self, type: str, relation: str, **kwargs: Any) -> Iterable[str]:
        """Every such object, following continuation tokens."""
        token = kwargs.pop("continuation_token", "")
        for _ in range(_MAX_PAGES):
            page = self.list_objects(type, relation, continuation_token=token, **kwargs)
            yield from page.objects
            if not page.continuation_token:
                return
            token = page.continuation_token

    def list_relations(
        self,
        object: str,
        *,
        relations: Iterable[str] | None = None,
        subject_token: str | None = None,
        user: str | None = None,
        store_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        contextual_tuples: Iterable[Mapping[str, Any]] | None = None,
        consistency_token: str | None = None,
        authorization_model_id: str | None = None,
    ) -> RelationsResult:
        """The relations (of ``relations``, default all of the type) the user has on ``object``."""
        kw = _query_kw(
            subject_token,
            user,
            store_id,
            context,
            contextual_tuples,
            consistency_token,
            authorization_model_id,
        )
        return self._send(self._relations_call(object, relations, kw))

    def read_claim(
        self,
        token_claims: Mapping[str, Any],
        relation: str,
        object: str,
        *,
        claim_name: str,
        subject_token: str | None = None,
        user: str | None = None,
        min_revision: int | None = None,
        store_id: str | None = None,
    ) -> CheckResult:
        """The coarse check: answer from the verified token's permission summary when it covers
        ``relation`` on ``object``'s type and is fresh (``source="claim"``), else ``/v1/check``
        (``source="check"``) -- the claim missing, malformed, stale or overflowed."""
        local = self._claim_answer(token_claims, relation, object, claim_name, min_revision)
        if local is not None:
            return local
        return self.check(
            relation, object, subject_token=subject_token, user=user, store_id=store_id
        )

    def claims(
        self,
        user_id: str,
        *,
        audience: str | None = None,
        client_id: str | None = None,
        store_id: str | None = None,
    ) -> ClaimsResult:
        """``POST /v1/claims``: the summary a token for ``user_id`` would carry (``claims`` role)."""
        return self._send(self._claims_call(user_id, audience, client_id, store_id))

    def grant(
        self, tuples: Iterable[Mapping[str, Any]], *, store_id: str | None = None
    ) -> TupleChange:
        """``POST /v1/admin/grants`` (``admin`` role): one revision; existing grants are skipped."""
        return self._send(self._change_call("/v1/admin/grants", tuples, store_id))

    def revoke(
        self, tuples: Iterable[Mapping[str, Any]], *, store_id: str | None = None
    ) -> TupleChange:
        """``POST /v1/admin/revokes`` (``admin`` role): one revision; missing tuples are skipped."""
        return self._send(self._change_call("/v1/admin/revokes", tuples, store_id))

    def delete_tuples(
        self, *, object: str = "", relation: str = "", user: str = "", store_id: str | None = None
    ) -> TupleChange:
        """``POST /v1/admin/tuples/delete`` (``admin`` role): every tuple matching the filter."""
        return self._send(self._delete_call(object, relation, user, store_id))


class AsyncPermsvc(_Calls):
    """Asynchronous client (FastAPI, Starlette, Litestar). Reuse one instance per event loop."""

    def __init__(
        self,
        base_url: str,
        *,
        credential: w.Credential = None,
        store_id: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """The arguments of :class:`Permsvc`; ``transport`` is an async httpx transport."""
        super().__init__(base_url, credential, store_id)
        self._http = httpx.AsyncClient(
            base_url=self._settings.base_url,
            headers=w.STATIC_HEADERS,
            timeout=timeout,
            transport=transport or httpx.AsyncHTTPTransport(retries=1),
        )

    @classmethod
    def from_env(cls, **overrides: Any) -> AsyncPermsvc:
        """From ``PERMSVC_URL``, ``PERMSVC_API_KEY``, ``PERMSVC_STORE``, ``PERMSVC_TIMEOUT``."""
        return cls(**_env_settings(**overrides))

    async def __aenter__(self: _Async) -> _Async:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, call: w.Call[T]) -> T:
        try:
            response = await self._http.post(
                call.path, content=w.encode(call), headers=call.headers
            )
        except httpx.HTTPError as exc:
            raise w.transport_error(call, exc, self.base_url) from exc
        return w.decode(call, response)

    async def check(
        self,
        relation: str,
        object: str,
        *,
        subject_token: str | None = None,
        user: str | None = None,
        store_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        contextual_tuples: Iterable[Mapping[str, Any]] | None = None,
        consistency_token: str | None = None,
        authorization_model_id: str | None = None,
    ) -> CheckResult:
        """See :meth:`Permsvc.check`."""
        kw = _query_kw(
            subject_token,
            user,
            store_id,
            context,
            contextual_tuples,
            consistency_token,
            authorization_model_id,
        )
        return await self._send(self._check_call(relation, object, kw))

    async def batch_check(
        self,
        checks: Iterable[Check | tuple[str, str]],
        *,
        subject_token: str | None = None,
        user: str | None = None,
        store_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        contextual_tuples: Iterable[Mapping[str, Any]] | None = None,
        consistency_token: str | None = None,
        authorization_model_id: str | None = None,
    ) -> BatchCheckResult:
        """See :meth:`Permsvc.batch_check`."""
        kw = _query_kw(
            subject_token,
            user,
            store_id,
            context,
            contextual_tuples,
            consistency_token,
            authorization_model_id,
        )
        return w.merge_batches([await self._send(call) for call in self._batch_calls(checks, kw)])

    async def filter_allowed(
        self,
        relation: str,
        objects: Iterable[str],
        *,
        subject_token: str | None = None,
        user: str | None = None,
        store_id: str | None = None,
        consistency_token: str | None = None,
    ) -> list[str]:
        """See :meth:`Permsvc.filter_allowed`."""
        objs = list(objects)
        if not objs:
            return []
        result = await self.batch_check(
            [Check(relation, o) for o in objs],
            subject_token=subject_token,
            user=user,
            store_id=store_id,
            consistency_token=consistency_token,
        )
        return [o for o, ok in zip(objs, result.allowed(), strict=True) if ok]

    async def list_objects(
        self,
        type: str,
        relation: str,
        *,
        subject_token: str | None = None,
        user: str | None = None,
        store_id: str | None = None,
        page_size: int | None = None,
        continuation_token: str = "",
        context: Mapping[str, Any] | None = None,
        contextual_tuples: Iterable[Mapping[str, Any]] | None = None,
        consistency_token: str | None = None,
        authorization_model_id: str | None = None,
    ) -> ObjectsPage:
        """See :meth:`Permsvc.list_objects`."""
        kw = _query_kw(
            subject_token,
            user,
            store_id,
            context,
            contextual_tuples,
            consistency_token,
            authorization_model_id,
        )
        return await self._send(
            self._objects_call(type, relation, page_size, continuation_token, kw)
        )

    async def all_objects(self, type: str, relation: str, **kwargs: Any) -> list[str]:
        """Every such object, following continuation tokens."""
        token = kwargs.pop("continuation_token", "")
        out: list[str] = []
        for _ in range(_MAX_PAGES):
            page = await self.list_objects(type, relation, continuation_token=token, **kwargs)
            out.extend(page.objects)
            if not page.continuation_token:
                break
            token = page.continuation_token
        return out

    async def list_relations(
        self,
        object: str,
        *,
        relations: Iterable[str] | None = None,
        subject_token: str | None = None,
        user: str | None = None,
        store_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        contextual_tuples: Iterable[Mapping[str, Any]] | None = None,
        consistency_token: str | None = None,
        authorization_model_id: str | None = None,
    ) -> RelationsResult:
        """See :meth:`Permsvc.list_relations`."""
        kw = _query_kw(
            subject_token,
            user,
            store_id,
            context,
            contextual_tuples,
            consistency_token,
            authorization_model_id,
        )
        return await self._send(self._relations_call(object, relations, kw))

    async def read_claim(
        self,
        token_claims: Mapping[str, Any],
        relation: str,
        object: str,
        *,
        claim_name: str,
        subject_token: str | None = None,
        user: str | None = None,
        min_revision: int | None = None,
        store_id: str | None = None,
    ) -> CheckResult:
        """See :meth:`Permsvc.read_claim`."""
        local = self._claim_answer(token_claims, relation, object, claim_name, min_revision)
        if local is not None:
            return local
        return await self.check(
            relation, object, subject_token=subject_token, user=user, store_id=store_id
        )

    async def claims(
        self,
        user_id: str,
        *,
        audience: str | None = None,
        client_id: str | None = None,
        store_id: str | None = None,
    ) -> ClaimsResult:
        """See :meth:`Permsvc.claims`."""
        return await self._send(self._claims_call(user_id, audience, client_id, store_id))

    async def grant(
        self, tuples: Iterable[Mapping[str, Any]], *, store_id: str | None = None
    ) -> TupleChange:
        """See :meth:`Permsvc.grant`."""
        return await self._send(self._change_call("/v1/admin/grants", tuples, store_id))

    async def revoke(
        self, tuples: Iterable[Mapping[str, Any]], *, store_id: str | None = None
    ) -> TupleChange:
        """See :meth:`Permsvc.revoke`."""
        return await self._send(self._change_call("/v1/admin/revokes", tuples, store_id))

    async def delete_tuples(
        self, *, object: str = "", relation: str = "", user: str = "", store_id: str | None = None
    ) -> TupleChange:
        """See :meth:`Permsvc.delete_tuples`."""
        return await self._send(self._delete_call(object, relation, user, store_id))
