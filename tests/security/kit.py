"""The world of the security tests: an app on a durable backend with two stores, every kind of
credential, and one sample request per route of the permission table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from permsvc.api.security.table import AUTHENTICATED, ROUTE_RULES, Rule, rule_key
from permsvc.auth.roles import expand_roles
from tests.api.admin.v1kit import CHECK_SCOPE, Issuer, bearer
from tests.api.conftest import MODEL, make_settings

ROOT_KEY = "security-suite-bootstrap-key"
ROOT = bearer(ROOT_KEY)
SCOPES = {
    "admin": "permsvc:admin",
    "write": "permsvc:write",
    "read": "permsvc:read",
    "check": CHECK_SCOPE,
    "claims": "permsvc:claims",
}
TUPLE = {"object": "document:readme", "relation": "viewer", "user": "user:anne"}
EVALUATION = {
    "subject": {"type": "user", "id": "anne"},
    "action": {"name": "viewer"},
    "resource": {"type": "document", "id": "readme"},
}
SPEC = {"claim": "https://permsvc.example.com/perms", "relations": ["document#viewer"]}
MISSING_STORE = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
CONSOLE_CLIENT = "console-spa"


class Credential(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    headers: dict[str, str]
    outcome: str = "principal"
    """``principal``; ``401`` for one that must not authenticate."""
    roles: frozenset[str] = frozenset()
    end_user: bool = False
    limited: bool = False
    """Limited to the *other* store (store B), while the samples name store A."""


def expected(credential: Credential, rule: Rule) -> int | None:
    """The status the table promises (401/403), or ``None`` for "admitted" (any other status)."""
    if rule.role is None:
        return None
    if credential.outcome == "401":
        return 401
    if credential.end_user:
        return None if rule.end_user else 403
    if rule.role != AUTHENTICATED and rule.role not in credential.roles:
        return 403
    if credential.limited and rule.store in ("path", "request", "default", "unlimited"):
        return 403
    return None


def database_param(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database of the test's own: the keys these tests create would close the anonymous door
    of every other test's server on a shared one."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'permsvc.db'}"
    from tests.pg import fresh_database_url

    return fresh_database_url()


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


class World:
    def __init__(self, client: AsyncTestClient[Any], issuer: Issuer, app: Any) -> None:
        self.client = client
        self.issuer = issuer
        self.app = app
        self.store_a = ""
        self.store_b = ""
        self.model_a = ""
        self.credentials: list[Credential] = []

    @property
    def deps(self) -> Any:
        return self.app.app.state.deps  # type: ignore[attr-defined]

    async def new_store(self, name: str) -> tuple[str, str]:
        store = (await self.client.post("/stores", json={"name": name}, headers=ROOT)).json()["id"]
        model = await self.client.post(
            f"/stores/{store}/authorization-models", json=MODEL, headers=ROOT
        )
        assert model.status_code == 201, model.text
        write = await self.client.post(
            f"/stores/{store}/write", json={"writes": {"tuple_keys": [TUPLE]}}, headers=ROOT
        )
        assert write.status_code == 200, write.text
        return str(store), str(model.json()["authorization_model_id"])

    async def key(self, roles: str, store_id: str | None = None) -> str:
        """A new key, created through the admin API with the bootstrap key (the app's database
        connections belong to the app's event loop)."""
        body: dict[str, Any] = {"roles": roles.split(), "store_id": store_id}
        created = await self.client.post("/v1/admin/keys", json=body, headers=ROOT)
        assert created.status_code == 201, created.text
        return str(created.json()["key"])

    def route_table(self) -> list[tuple[str, str]]:
        """Every (method, path template) the app serves, OPTIONS aside (the framework's)."""
        return sorted(
            (method, route.path_format)
            for route in self.app.app.routes  # type: ignore[attr-defined]
            if isinstance(route, HTTPRoute)
            for method in route.methods
            if method != "OPTIONS"
        )

    async def build_credentials(self) -> None:
        issuer = self.issuer
        revoked = await self.key("admin")
        gone = await self.client.delete(f"/v1/admin/keys/{revoked.split('_')[1]}", headers=ROOT)
        assert gone.status_code == 200, gone.text
        creds = [
            Credential(name="anonymous", headers={}, outcome="401"),
            Credential(name="garbage", headers=bearer("not-a-credential"), outcome="401"),
            Credential(name="revoked_admin_key", headers=bearer(revoked), outcome="401"),
            Credential(
                name="expired_admin_token", headers=bearer(issuer.admin(exp=1)), outcome="401"
            ),
            Credential(name="bootstrap_key", headers=ROOT, roles=expand_roles(["admin"])),
            Credential(
                name="end_user_token", headers=bearer(issuer.user("auth0|42")), end_user=True
            ),
            Credential(
                name="end_user_sub_ending_in_at_clients_with_admin_scope",
                headers=bearer(issuer.user("mallory@clients", scope="permsvc:admin")),
                end_user=True,
            ),
            Credential(
                name="machine_token_without_permsvc_scope",
                headers=bearer(issuer.service(scope="read:docs")),
            ),
            # Console logins (PERMSVC_CONSOLE_SCOPE_ROLES is on in this world): roles from scopes
            # only for the console's own client, and only when every authorized party names it.
            Credential(
                name="console_login_read_scope",
                headers=bearer(issuer.user("auth0|7", scope=SCOPES["read"], azp=CONSOLE_CLIENT)),
                roles=expand_roles(["read"]),
            ),
            Credential(
                name="console_login_without_permsvc_scope",
                headers=bearer(issuer.user("auth0|8", scope="read:docs", azp=CONSOLE_CLIENT)),
                end_user=True,
            ),
            Credential(
                name="console_azp_with_another_client_id_and_admin_scope",
                headers=bearer(
                    issuer.user(
                        "auth0|9", scope=SCOPES["admin"], azp=CONSOLE_CLIENT, client_id="spa-client"
                    )
                ),
                end_user=True,
            ),
        ]
        for role in ("check", "read", "write", "admin", "claims"):
            creds.append(
                Credential(
                    name=f"{role}_key",
                    headers=bearer(await self.key(role)),
                    roles=expand_roles([role]),
                )
            )
            creds.append(
                Credential(
                    name=f"machine_token_{role}_scope",
                    headers=bearer(issuer.service(scope=SCOPES[role])),
                    roles=expand_roles([role]),
                )
            )
        for role in ("admin", "check"):
            creds.append(
                Credential(
                    name=f"{role}_key_limited_to_another_store",
                    headers=bearer(await self.key(role, self.store_b)),
                    roles=expand_roles([role]),
                    limited=True,
                )
            )
        self.credentials = creds

    def sample(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        """A request for route ``method path`` naming store A (a missing key/store where it would destroy)."""
        a = self.store_a
        values = {
            "store_id": a,
            "id": self.model_a,
            "authorization_model_id": self.model_a,
            "user": "user:anne",
            "object": "document:readme",
            "key_id": "aaaaaaaaaa",
            "path": "openapi.yaml",
            "file_path": "swagger-ui.css",
        }
        key = rule_key(method, path)
        if key == "DELETE /stores/{store_id}":
            values["store_id"] = MISSING_STORE if not getattr(self, "_delete_real", False) else a
        url = path.format(**values)
        return url, _SAMPLE_BODIES.get(key, lambda w: {})(self)


def _json(body: Any) -> dict[str, Any]:
    return {"json": body}


_SAMPLE_BODIES: dict[str, Any] = {
    "POST /stores": lambda w: _json({"name": "matrix-store"}),
    "POST /stores/{store_id}/authorization-models": lambda w: _json(MODEL),
    "POST /stores/{store_id}/write": lambda w: _json(
        {"writes": {"tuple_keys": [TUPLE]}, "authorization_model_id": w.model_a}
    ),
    "POST /stores/{store_id}/read": lambda w: _json({}),
    "POST /stores/{store_id}/check": lambda w: _json({"tuple_key": TUPLE}),
    "POST /stores/{store_id}/batch-check": lambda w: _json(
        {"checks": [{"tuple_key": TUPLE, "correlation_id": "1"}]}
    ),
    "POST /stores/{store_id}/expand": lambda w: _json(
        {"tuple_key": {"object": "document:readme", "relation": "viewer"}}
    ),
    "POST /stores/{store_id}/list-objects": lambda w: _json(
        {"type": "document", "relation": "viewer", "user": "user:anne"}
    ),
    "POST /stores/{store_id}/streamed-list-objects": lambda w: _json(
        {"type": "document", "relation": "viewer", "user": "user:anne"}
    ),
    "POST /stores/{store_id}/list-users": lambda w: _json(
        {
            "object": {"type": "document", "id": "readme"},
            "relation": "viewer",
            "user_filters": [{"type": "user"}],
        }
    ),
    "PUT /stores/{store_id}/assertions/{authorization_model_id}": lambda w: _json(
        {"assertions": []}
    ),
    "POST /v1/check": lambda w: _json(
        {"relation": "viewer", "object": "document:readme", "store_id": w.store_a}
    ),
    "POST /v1/check/batch": lambda w: _json(
        {"checks": [{"relation": "viewer", "object": "document:readme"}], "store_id": w.store_a}
    ),
    "POST /v1/objects": lambda w: _json(
        {"type": "document", "relation": "viewer", "store_id": w.store_a}
    ),
    "POST /v1/relations": lambda w: _json({"object": "document:readme", "store_id": w.store_a}),
    "POST /v1/explain": lambda w: _json(
        {"relation": "viewer", "object": "document:readme", "store_id": w.store_a}
    ),
    "POST /v1/claims": lambda w: _json({"user_id": "anne", "store_id": w.store_a}),
    "POST /v1/admin/grants": lambda w: _json({"store_id": w.store_a, "tuples": [TUPLE]}),
    "POST /v1/admin/revokes": lambda w: _json(
        {"store_id": w.store_a, "tuples": [{**TUPLE, "user": "user:nobody"}]}
    ),
    "POST /v1/admin/tuples/delete": lambda w: _json({"store_id": w.store_a, "user": "user:nobody"}),
    "POST /v1/admin/tuples/import": lambda w: {
        "params": {"store_id": w.store_a},
        "content": b'{"object":"document:i","relation":"viewer","user":"user:i"}\n',
        "headers": {"Content-Type": "application/x-ndjson"},
    },
    "GET /v1/admin/tuples/export": lambda w: {"params": {"store_id": w.store_a}},
    "GET /v1/admin/users/{user}/grants": lambda w: {"params": {"store_id": w.store_a}},
    "GET /v1/admin/objects/{object}/grants": lambda w: {"params": {"store_id": w.store_a}},
    "POST /v1/admin/models/validate": lambda w: _json({"model": MODEL}),
    "POST /v1/admin/models/diff": lambda w: _json({"store_id": w.store_a, "model": MODEL}),
    "POST /v1/admin/models": lambda w: _json({"store_id": w.store_a, "model": MODEL}),
    "POST /v1/admin/keys": lambda w: _json({"roles": ["check"]}),
    "GET /v1/admin/audit/trace": lambda w: {"params": {"store_id": w.store_a, **TUPLE}},
    "PUT /v1/admin/stores/{store_id}/claims-spec": lambda w: _json(SPEC),
}
for _path in ("evaluation", "search/resource", "search/action"):
    for _prefix in ("/access/v1", "/stores/{store_id}/access/v1"):
        _SAMPLE_BODIES[f"POST {_prefix}/{_path}"] = lambda w: _json(EVALUATION)
    _SAMPLE_BODIES[f"POST /stores/{{store_id}}/access/v1/{_path}"] = lambda w: _json(EVALUATION)
for _prefix in ("/access/v1", "/stores/{store_id}/access/v1"):
    _SAMPLE_BODIES[f"POST {_prefix}/evaluations"] = lambda w: _json(
        {**EVALUATION, "evaluations": [{}]}
    )
    _SAMPLE_BODIES[f"POST {_prefix}/search/subject"] = lambda w: _json(
        {**EVALUATION, "subject": {"type": "user"}}
    )

# The /docs UI's and the console's files: HEAD takes no body.
for _head in (
    "/docs-assets/{file_path}",
    "/console",
    "/console/assets/{path}",
    "/console/config.json",
):
    _SAMPLE_BODIES[f"HEAD {_head}"] = lambda w: {}

SAMPLED = frozenset(_SAMPLE_BODIES) | {k for k in ROUTE_RULES if k.startswith(("GET ", "DELETE "))}
"""Routes with a sample request (bodiless GET/DELETE need none)."""


async def open_world(database_url: str, **settings: Any) -> AsyncIterator[World]:
    issuer = Issuer()
    values: dict[str, Any] = {
        "database_url": database_url,
        "index": False,
        "api_keys": (ROOT_KEY,),
        "oidc": issuer.settings(),
        "console_client_id": CONSOLE_CLIENT,
        "console_scope_roles": True,
        **{f"{role}_scope": scope for role, scope in SCOPES.items()},
        **settings,
    }
    app = create_app(make_settings(**values), token_keys=issuer.keys())
    async with AsyncTestClient(app) as client:
        world = World(client, issuer, app)
        world.store_a, world.model_a = await world.new_store("store-a")
        world.store_b, _ = await world.new_store("store-b")
        deps = world.deps
        deps.settings = msgspec.structs.replace(deps.settings, store=world.store_a)
        deps.security.settings = deps.settings
        await world.build_credentials()
        yield world


async def call(world: World, method: str, path: str, credential: Credential) -> Any:
    url, kwargs = world.sample(method, path)
    headers = {**kwargs.pop("headers", {}), **credential.headers}
    return await world.client.request(method, url, headers=headers, **kwargs)
