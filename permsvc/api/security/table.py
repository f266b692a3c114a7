"""THE permission table: every route of every surface, the role it needs, and where its store is.

One row per ``METHOD /path`` of the app's route table (path parameters as ``{name}``). The app
refuses to build when a route has no row (:func:`rules_for_routes`), and the route x credential
matrix test in ``tests/security`` is generated from the same route table, so a new route cannot
be forgotten. Nothing else in the code decides who may call what: handlers only resolve the
store a request names and hand it to :func:`permsvc.api.security.door.resolve_store`.

``role``: the role a caller needs (roles include each other, see :mod:`permsvc.auth.roles`);
``None`` marks a public route (health, metrics, documentation, discovery); ``authenticated``
(:data:`AUTHENTICATED`) admits any authenticated caller, whatever its roles (``/v1/whoami``).

``store`` says where the route's store comes from, so a credential limited to one store is held
to it:

- ``path``: the ``{store_id}`` path parameter, checked before the handler runs;
- ``default``: the configured default store (``PERMSVC_STORE``), checked before the handler runs;
- ``request``: named in the body or query (else the default store); the handler resolves it
  with ``resolve_store``, which applies the limit;
- ``scoped``: the route lists or changes things of several stores (stores, API keys, the audit
  log); the handler shows and changes only the caller's store's;
- ``unlimited``: the route acts beyond any one store (creating a store): refused to a
  store-limited credential;
- ``none``: the route touches no store's data.

``end_user``: an end user's own access token may call it, about itself only (see
:mod:`permsvc.api.security.subjects`). ``media``: the request body types the route takes besides
JSON (``application/json``, ``*+json``); a request without ``Content-Type`` is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

import msgspec

__all__ = (
    "AUTHENTICATED",
    "PUBLIC",
    "ROUTE_RULES",
    "Rule",
    "StoreSource",
    "UnlistedRouteError",
    "rule_key",
    "rules_for_routes",
    "write_routes",
)

StoreSource = Literal["path", "default", "request", "scoped", "unlimited", "none"]

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
JSON_LINES_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines")


class Rule(msgspec.Struct, frozen=True):
    role: str | None
    store: StoreSource = "none"
    end_user: bool = False
    media: tuple[str, ...] = ()


PUBLIC = Rule(None)

AUTHENTICATED = "authenticated"
"""The ``role`` of a rule that any authenticated caller passes, with or without roles."""


def _check(store: StoreSource, *, end_user: bool = False) -> Rule:
    return Rule("check", store, end_user)


ROUTE_RULES: dict[str, Rule] = {
    # -- operations and documentation -------------------------------------------------------------
    "GET /healthz": PUBLIC,
    "GET /readyz": PUBLIC,
    "GET /metrics": PUBLIC,
    "GET /openapi.json": PUBLIC,
    "GET /docs": PUBLIC,
    "GET /docs/{path}": PUBLIC,
    "GET /docs/openapi.json": PUBLIC,
    "GET /docs/oauth2-redirect.html": PUBLIC,
    "GET /docs-assets/{file_path}": PUBLIC,
    "HEAD /docs-assets/{file_path}": PUBLIC,
    # -- the web console: static files; its data calls carry the signed-in user's credential ----
    "GET /console": PUBLIC,
    "HEAD /console": PUBLIC,
    "GET /console/assets/{path}": PUBLIC,
    "HEAD /console/assets/{path}": PUBLIC,
    "GET /console/config.json": PUBLIC,
    "HEAD /console/config.json": PUBLIC,
    # -- OpenFGA API ------------------------------------------------------------------------------
    "GET /stores": Rule("read", "scoped"),
    "POST /stores": Rule("admin", "unlimited"),
    "GET /stores/{store_id}": Rule("read", "path"),
    "DELETE /stores/{store_id}": Rule("admin", "path"),
    "GET /stores/{store_id}/authorization-models": Rule("read", "path"),
    "POST /stores/{store_id}/authorization-models": Rule("admin", "path"),
    "GET /stores/{store_id}/authorization-models/{id}": Rule("read", "path"),
    "POST /stores/{store_id}/write": Rule("write", "path"),
    "POST /stores/{store_id}/read": Rule("read", "path"),
    "GET /stores/{store_id}/changes": Rule("read", "path"),
    "POST /stores/{store_id}/check": _check("path"),
    "POST /stores/{store_id}/batch-check": _check("path"),
    "POST /stores/{store_id}/expand": _check("path"),
    "POST /stores/{store_id}/list-objects": _check("path"),
    "POST /stores/{store_id}/streamed-list-objects": _check("path"),
    "POST /stores/{store_id}/list-users": _check("path"),
    "GET /stores/{store_id}/assertions/{authorization_model_id}": Rule("read", "path"),
    "PUT /stores/{store_id}/assertions/{authorization_model_id}": Rule("write", "path"),
    # -- AuthZEN ----------------------------------------------------------------------------------
    "POST /access/v1/evaluation": _check("default"),
    "POST /access/v1/evaluations": _check("default"),
    "POST /access/v1/search/subject": _check("default"),
    "POST /access/v1/search/resource": _check("default"),
    "POST /access/v1/search/action": _check("default"),
    "POST /stores/{store_id}/access/v1/evaluation": _check("path"),
    "POST /stores/{store_id}/access/v1/evaluations": _check("path"),
    "POST /stores/{store_id}/access/v1/search/subject": _check("path"),
    "POST /stores/{store_id}/access/v1/search/resource": _check("path"),
    "POST /stores/{store_id}/access/v1/search/action": _check("path"),
    "GET /.well-known/authzen-configuration": PUBLIC,
    "GET /.well-known/authzen-configuration/stores/{store_id}": PUBLIC,
    "GET /.well-known/authzen-configuration/{store_id}": PUBLIC,
    # -- /v1: token-subject checks (a user's own token, or a service with subject_token/user) ----
    "POST /v1/check": _check("request", end_user=True),
    "POST /v1/check/batch": _check("request", end_user=True),
    "POST /v1/objects": _check("request", end_user=True),
    "POST /v1/relations": _check("request", end_user=True),
    "POST /v1/explain": _check("request", end_user=True),
    "GET /v1/whoami": Rule(AUTHENTICATED, "none", end_user=True),
    # -- /v1/claims: the post-login Action's feed -------------------------------------------------
    "POST /v1/claims": Rule("claims", "request"),
    # -- /v1/admin --------------------------------------------------------------------------------
    "POST /v1/admin/grants": Rule("admin", "request"),
    "POST /v1/admin/revokes": Rule("admin", "request"),
    "POST /v1/admin/tuples/delete": Rule("admin", "request"),
    "POST /v1/admin/tuples/import": Rule("admin", "request", media=JSON_LINES_TYPES),
    "GET /v1/admin/tuples/export": Rule("admin", "request"),
    "GET /v1/admin/users/{user}/grants": Rule("admin", "request"),
    "GET /v1/admin/objects/{object}/grants": Rule("admin", "request"),
    "POST /v1/admin/models/validate": Rule("admin", "none"),
    "POST /v1/admin/models/diff": Rule("admin", "request"),
    "POST /v1/admin/models": Rule("admin", "request"),
    "POST /v1/admin/keys": Rule("admin", "scoped"),
    "GET /v1/admin/keys": Rule("admin", "scoped"),
    "DELETE /v1/admin/keys/{key_id}": Rule("admin", "scoped"),
    "GET /v1/admin/audit": Rule("admin", "scoped"),
    "GET /v1/admin/audit/trace": Rule("admin", "request"),
    "PUT /v1/admin/stores/{store_id}/claims-spec": Rule("admin", "path", media=YAML_TYPES),
    "GET /v1/admin/stores/{store_id}/claims-spec": Rule("admin", "path"),
    "DELETE /v1/admin/stores/{store_id}/claims-spec": Rule("admin", "path"),
}

_PARAM_TYPE = re.compile(r"\{(\w+):[^}]+\}")
_UNTYPED = r"{\1}"


class UnlistedRouteError(RuntimeError):
    """A route of the app has no row in :data:`ROUTE_RULES` (a programming error: add the row)."""


_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def write_routes() -> list[str]:
    """The rows of routes that change data: a ``write`` or ``admin`` role and a mutating method
    (what :mod:`permsvc.api.priority` lets ahead of reads)."""
    return [
        key
        for key, rule in ROUTE_RULES.items()
        if rule.role in ("write", "admin") and key.partition(" ")[0] in _MUTATING
    ]


def rule_key(method: str, path: str) -> str:
    """``"POST /stores/{store_id}/check"`` for a method and a route path (typed parameters too)."""
    return f"{method} {_PARAM_TYPE.sub(_UNTYPED, path)}"


def rules_for_routes(routes: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Rule]:
    """``{(method, route path): rule}`` for every ``(method, route path)`` of an app.

    ``OPTIONS`` (answered by the framework, no body, no data) needs no row.

    Raises:
        UnlistedRouteError: a route has no row.
    """
    found: dict[tuple[str, str], Rule] = {}
    missing: list[str] = []
    for method, path in routes:
        if method == "OPTIONS":
            continue
        rule = ROUTE_RULES.get(rule_key(method, path))
        if rule is None:
            missing.append(rule_key(method, path))
        else:
            found[(method, path)] = rule
    if missing:
        raise UnlistedRouteError(
            "routes without a row in permsvc.api.security.table.ROUTE_RULES: "
            + ", ".join(sorted(missing))
        )
    return found
