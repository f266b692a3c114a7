"""Nobody reaches an admin endpoint without an admin credential.

Every route of the admin route group (enumerated from the router, so a new route is covered
automatically) is called with no credential, user tokens (even one carrying the admin scope: an
end user's token is never admin), service tokens, non-admin keys, a revoked admin key and admin
credentials. ``OPTIONS`` is the framework's and touches nothing; tests/security covers every route
of every surface.
"""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.api.admin.routes import ROUTES
from permsvc.api.app import create_app
from tests.api.admin.v1kit import ADMIN_SCOPE, Issuer, api_key, bearer, state_of
from tests.api.conftest import make_settings

Client = AsyncTestClient[Any]

_PATH_VALUES = {
    "user": "user:auth0|42",
    "object": "document:readme",
    "key_id": "aaaaaaaaaa",
    "store_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV",
}


def _routes() -> list[tuple[str, str]]:
    """Every (method, path) under /v1/admin of the whole application, whichever route group
    registered it (the claim-spec routes of the claims group included)."""
    out = []
    for route in create_app(make_settings()).app.routes:
        if not route.path.startswith("/v1/admin"):
            continue
        for method in sorted(set(getattr(route, "methods", ())) - {"OPTIONS"}):
            concrete = route.path
            for name, value in _PATH_VALUES.items():
                concrete = concrete.replace(f"{{{name}:str}}", value.replace("|", "%7C"))
            out.append((method, concrete))
    return out


ROUTE_PARAMS = [pytest.param(m, p, id=f"{m}_{p}") for m, p in _routes()]


async def _call(client: Client, method: str, path: str, headers: dict[str, str]) -> Any:
    kwargs: dict[str, Any] = {"headers": headers}
    if method in ("POST", "PUT"):
        kwargs["content"] = b"{}"
    return await client.request(method, path, **kwargs)


def test_every_admin_route_is_enumerated() -> None:
    enumerated = {(m, p.replace("%7C", "|")) for m, p in _routes()}
    mine = set()
    for handler in ROUTES:
        for path in handler.paths:
            for name, value in _PATH_VALUES.items():
                path = path.replace(f"{{{name}:str}}", value)
            mine |= {(m, path) for m in handler.http_methods}
    assert len(mine) == len(ROUTES) and mine <= enumerated
    assert ("PUT", "/v1/admin/stores/01ARZ3NDEKTSV4RRFFQ69G5FAV/claims-spec") in enumerated
    assert all(p.startswith("/v1/admin/") for _, p in _routes())


@pytest.mark.parametrize(("method", "path"), ROUTE_PARAMS)
async def test_no_credential_is_401(client: Client, method: str, path: str) -> None:
    response = await _call(client, method, path, {})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="permsvc"'


@pytest.mark.parametrize(("method", "path"), ROUTE_PARAMS)
async def test_non_admin_credentials_are_refused(
    client: Client, issuer: Issuer, method: str, path: str
) -> None:
    check_key = await api_key(client, "check")
    claims_key = await api_key(client, "claims")
    revoked = await api_key(client, "admin")
    deps = state_of(client).deps
    await getattr(deps.datastore, "inner", deps.datastore).revoke_api_key(revoked.split("_")[1])
    refused = {
        "user_token": (bearer(issuer.user()), 403),
        "user_token_with_check_scope": (bearer(issuer.user(scope="permsvc:check")), 403),
        "user_token_with_admin_scope": (
            bearer(issuer.user("auth0|root", scope=f"openid {ADMIN_SCOPE}")),
            403,
        ),
        "user_sub_ending_in_at_clients": (
            bearer(issuer.user("evil@clients", scope=ADMIN_SCOPE)),
            403,
        ),
        "service_token_with_check_scope": (bearer(issuer.service()), 403),
        "check_key": (bearer(check_key), 403),
        "claims_key": (bearer(claims_key), 403),
        "revoked_admin_key": (bearer(revoked), 401),
        "expired_admin_token": (bearer(issuer.admin(exp=1)), 401),
        "garbage": (bearer("xyz"), 401),
    }
    for name, (headers, status) in refused.items():
        response = await _call(client, method, path, headers)
        assert response.status_code == status, f"{name}: {response.status_code} {response.text}"
    token_refusal = await _call(client, method, path, bearer(issuer.service()))
    assert f'scope="{ADMIN_SCOPE}"' in token_refusal.headers["www-authenticate"]
    key_refusal = await _call(client, method, path, bearer(check_key))
    assert "'admin' role" in key_refusal.json()["message"]


@pytest.mark.parametrize(("method", "path"), ROUTE_PARAMS)
async def test_admin_credentials_pass_authentication(
    client: Client, issuer: Issuer, method: str, path: str
) -> None:
    for headers in (
        bearer(await api_key(client, "admin")),
        bearer(issuer.admin()),
    ):
        response = await _call(client, method, path, headers)
        assert response.status_code not in (401, 403), response.text
