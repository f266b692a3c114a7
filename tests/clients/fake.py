"""A fake permsvc behind ``httpx.MockTransport``: answers /v1 like the server (bodies, errors),
records every request, and can be switched to failure modes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

SERVICE_KEY = "psk_service_secret"
JWE_MESSAGE = (
    "subject_token is not acceptable: the token is encrypted (a 5-segment JWE, alg 'dir', enc 'A256GCM'), not a signed JWT "
    "access token: request the token with audience=https://my-api"
)


def answered(user: str, revision: int = 7) -> dict[str, Any]:
    return {
        "user": user,
        "store_id": "01STORE",
        "authorization_model_id": "01MODEL",
        "revision": revision,
        "consistency_token": f"v1.tok{revision}",
    }


@dataclass
class FakePermsvc:
    allowed: set[tuple[str, str, str]] = field(default_factory=set)
    """(user, relation, object) triples that are allowed."""
    users: dict[str, str] = field(
        default_factory=lambda: {"alice-token": "user:alice", "bob-token": "user:bob"}
    )
    """access token -> user."""
    requests: list[httpx.Request] = field(default_factory=list)
    mode: str = "ok"
    """``ok``, ``down`` (connection refused), ``slow`` (timeout), ``503``, ``500``, ``garbage``,
    ``bad-credential``, ``forbidden``."""
    objects: list[str] = field(default_factory=list)
    page_size: int = 2

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]

    def _error(self, status: int, code: str, message: str, **headers: str) -> httpx.Response:
        return httpx.Response(status, json={"code": code, "message": message}, headers=headers)

    def _user(self, request: httpx.Request, body: dict[str, Any]) -> str | httpx.Response:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if bearer == SERVICE_KEY:
            if "subject_token" in body:
                token = body["subject_token"]
                if token == "jwe-token":
                    return self._error(400, "invalid_request", JWE_MESSAGE)
                if token == "no-oidc":
                    return self._error(
                        400,
                        "invalid_request",
                        "subject_token cannot be verified: this permsvc "
                        "accepts no access tokens (PERMSVC_OIDC_ISSUER is not set)",
                    )
                if token not in self.users:
                    return self._error(
                        401,
                        "unauthenticated",
                        "subject_token: the token's signature does not verify",
                    )
                return self.users[token]
            if "user" in body:
                return str(body["user"])
            return self._error(400, "validation_error", "name the user: 'user' is required")
        if bearer == "jwe-token":
            return self._error(
                401,
                "unauthenticated",
                JWE_MESSAGE.removeprefix("subject_token is not acceptable: "),
            )
        if bearer in self.users:
            return self.users[bearer]
        return self._error(
            401,
            "unauthenticated",
            "API key 'nope' is unknown or revoked",
            **{"WWW-Authenticate": 'Bearer realm="permsvc", error="invalid_token"'},
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.mode == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if self.mode == "slow":
            raise httpx.ReadTimeout("timed out", request=request)
        if self.mode == "503":
            return self._error(503, "unavailable", "database unavailable", **{"Retry-After": "3"})
        if self.mode == "500":
            return self._error(500, "internal_error", "Internal Server Error")
        if self.mode == "garbage":
            return httpx.Response(200, text="<html>proxy</html>")
        if self.mode == "forbidden":
            return self._error(403, "forbidden", "API key 'k1' is limited to store 01OTHER")
        if request.headers.get("content-type") != "application/json":
            return self._error(415, "validation_error", "send application/json")
        body = json.loads(request.content)
        if request.url.path in ("/v1/claims", "/v1/admin/grants", "/v1/admin/revokes"):
            if request.headers.get("authorization") != f"Bearer {SERVICE_KEY}":
                return self._error(403, "forbidden", "this route needs the admin role")
            return self._admin(request.url.path, body)
        user = self._user(request, body)
        if isinstance(user, httpx.Response):
            return user
        path = request.url.path
        if path == "/v1/check":
            if body["relation"] == "nope":
                return self._error(400, "relation_not_found", "relation 'document#nope' not found")
            ok = (user, body["relation"], body["object"]) in self.allowed
            return httpx.Response(
                200,
                json={
                    **answered(user),
                    "allowed": ok,
                    "object": body["object"],
                    "relation": body["relation"],
                },
            )
        if path == "/v1/check/batch":
            results = []
            for i, item in enumerate(body["checks"]):
                out = {
                    "correlation_id": item.get("correlation_id") or str(i),
                    "object": item["object"],
                    "relation": item["relation"],
                    "allowed": (user, item["relation"], item["object"]) in self.allowed,
                }
                if item["relation"] == "nope":
                    out["allowed"] = False
                    out["error"] = {
                        "code": "relation_not_found",
                        "message": "relation 'document#nope' not found",
                    }
                results.append(out)
            return httpx.Response(
                200, json={**answered(user, revision=5 + len(self.requests)), "results": results}
            )
        if path == "/v1/objects":
            mine = [
                o
                for (u, r, o) in sorted(self.allowed)
                if u == user and r == body["relation"] and o.startswith(body["type"] + ":")
            ]
            start = int(body.get("continuation_token") or 0)
            page = mine[start : start + self.page_size]
            nxt = str(start + self.page_size) if start + self.page_size < len(mine) else ""
            return httpx.Response(
                200, json={**answered(user), "objects": page, "continuation_token": nxt}
            )
        if path == "/v1/relations":
            rels = sorted({r for (u, r, o) in self.allowed if u == user and o == body["object"]})
            return httpx.Response(
                200, json={**answered(user), "object": body["object"], "relations": rels}
            )
        return self._error(404, "undefined_endpoint", "Not Found")

    def _admin(self, path: str, body: dict[str, Any]) -> httpx.Response:
        if path == "/v1/claims":
            claim = {"o": False, "p": {"document#can_read": ["a"]}, "rev": 3, "v": 1}
            return httpx.Response(
                200,
                json={
                    "claims": {"https://permsvc.example.com/perms": claim},
                    "revision": 3,
                    "truncated": False,
                },
            )
        if path in ("/v1/admin/grants", "/v1/admin/revokes"):
            for t in body["tuples"]:
                key = (t["user"], t["relation"], t["object"])
                (self.allowed.add if path.endswith("grants") else self.allowed.discard)(key)
            return httpx.Response(
                200,
                json={
                    "store_id": "01STORE",
                    "changed": len(body["tuples"]),
                    "revision": 9,
                    "consistency_token": "v1.tok9",
                },
            )
        return self._error(404, "undefined_endpoint", "Not Found")
