"""A small AuthZEN 1.0 policy-enforcement-point client, written from the spec alone.

It knows nothing about permsvc: it is given a PDP identifier (a base URL), fetches the PDP
metadata from the RFC 8615 location derived from it, checks ``policy_decision_point`` is that
identifier (the spec's mix-up defence), and then calls only the endpoint URLs the metadata names.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

__all__ = ("AuthzenClient", "AuthzenError", "well_known_url")

WELL_KNOWN = "/.well-known/authzen-configuration"


class AuthzenError(Exception):
    """A non-200 answer of the PDP."""

    def __init__(self, status: int, body: str, request_id: str) -> None:
        super().__init__(f"PDP answered {status}: {body}")
        self.status = status
        self.body = body
        self.request_id = request_id


def well_known_url(pdp: str) -> str:
    """The metadata URL of a PDP id: the well-known segment goes between host and path."""
    parts = urlsplit(pdp)
    return urlunsplit((parts.scheme, parts.netloc, WELL_KNOWN + parts.path.rstrip("/"), "", ""))


class AuthzenClient:
    def __init__(self, pdp: str, http: httpx.Client) -> None:
        self.pdp = pdp
        self.http = http
        response = http.get(well_known_url(pdp))
        if response.status_code != 200:
            raise AuthzenError(
                response.status_code, response.text, response.headers.get("x-request-id", "")
            )
        self.metadata: dict[str, Any] = response.json()
        if self.metadata.get("policy_decision_point") != pdp:
            raise ValueError(
                f"metadata is for {self.metadata.get('policy_decision_point')!r}, not {pdp!r}"
            )
        self.last_request_id = ""

    def post(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        url = self.metadata.get(endpoint)
        if not url:
            raise ValueError(f"the PDP does not support {endpoint}")
        request_id = f"pep-{uuid.uuid4()}"
        response = self.http.post(url, json=body, headers={"X-Request-ID": request_id})
        echoed = response.headers.get("x-request-id", "")
        if echoed != request_id:
            raise AssertionError(f"X-Request-ID not echoed: sent {request_id!r}, got {echoed!r}")
        self.last_request_id = echoed
        if response.status_code != 200:
            raise AuthzenError(response.status_code, response.text, echoed)
        result: dict[str, Any] = response.json()
        return result

    def evaluate(
        self,
        subject: dict[str, Any],
        action: dict[str, Any],
        resource: dict[str, Any],
        context: dict[str, Any] | None = None,
    ) -> bool:
        body: dict[str, Any] = {"subject": subject, "action": action, "resource": resource}
        if context is not None:
            body["context"] = context
        decision = self.post("access_evaluation_endpoint", body)["decision"]
        assert isinstance(decision, bool)
        return decision

    def evaluations(
        self, items: list[dict[str, Any]], *, semantic: str | None = None, **defaults: Any
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = {**defaults, "evaluations": items}
        if semantic is not None:
            body["options"] = {"evaluations_semantic": semantic}
        result: list[dict[str, Any]] = self.post("access_evaluations_endpoint", body)["evaluations"]
        return result

    def _search(
        self, endpoint: str, body: dict[str, Any], limit: int | None
    ) -> Iterator[dict[str, Any]]:
        page: dict[str, Any] = {} if limit is None else {"limit": limit}
        while True:
            answer = self.post(endpoint, {**body, "page": page} if page else body)
            yield from answer["results"]
            token = (answer.get("page") or {}).get("next_token", "")
            if not token:
                return
            page = {"token": token}

    def search_subjects(
        self,
        subject_type: str,
        action: dict[str, Any],
        resource: dict[str, Any],
        *,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        body = {"subject": {"type": subject_type}, "action": action, "resource": resource}
        return list(self._search("search_subject_endpoint", body, limit))

    def search_resources(
        self,
        subject: dict[str, Any],
        action: dict[str, Any],
        resource_type: str,
        *,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        body = {"subject": subject, "action": action, "resource": {"type": resource_type}}
        return list(self._search("search_resource_endpoint", body, limit))

    def search_actions(
        self, subject: dict[str, Any], resource: dict[str, Any], *, limit: int | None = None
    ) -> list[dict[str, Any]]:
        return list(
            self._search(
                "search_action_endpoint", {"subject": subject, "resource": resource}, limit
            )
        )
