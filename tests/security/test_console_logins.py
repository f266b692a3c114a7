"""Console logins (an OIDC user's token issued to ``PERMSVC_CONSOLE_CLIENT_ID``) get the roles
their scopes map to only with ``PERMSVC_CONSOLE_SCOPE_ROLES``; ``GET /v1/whoami`` says what a
caller is. Units of :class:`~permsvc.api.security.Security`, then through the HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.api.security import Security
from permsvc.auth.claims import AuthClaims, TokenKind
from permsvc.settings import Settings, SettingsError
from tests.api.admin.v1kit import ROOT, Issuer, api_key, bearer, v1_client
from tests.api.conftest import make_settings

CONSOLE = "console-spa"
ADMIN = "permsvc:admin"


def _claims(scopes: str = ADMIN, **raw: Any) -> AuthClaims:
    client = raw.get("client_id") or raw.get("azp")
    return AuthClaims(
        subject="auth0|7",
        subject_type="user",
        token_type=TokenKind.USER,
        client_id=client,
        scopes=frozenset(scopes.split()),
        audience=("https://api",),
        issuer="https://idp/",
        expires_at=0,
        raw={"sub": "auth0|7", **raw},
    )


def _security(**settings: Any) -> Security:
    return Security(make_settings(**settings), keys=None, jwt=None)


OPTED_IN = {"console_client_id": CONSOLE, "console_scope_roles": True}


def test_a_console_login_gets_its_scopes_roles_only_when_opted_in() -> None:
    login = _claims(azp=CONSOLE)
    on = _security(**OPTED_IN).from_claims(login)
    assert on.kind == "console_token" and "admin" in on.roles and on.roles >= {"check", "read"}
    assert on.subject == on.actor.id == "user:auth0|7" and not on.end_user
    off = _security(console_client_id=CONSOLE).from_claims(login)
    assert off.kind == "end_user_token" and off.roles == frozenset() and off.end_user


@pytest.mark.parametrize(
    ("raw", "scopes"),
    [
        pytest.param({"azp": "spa-client"}, ADMIN, id="another_client"),
        pytest.param({}, ADMIN, id="no_authorized_party"),
        pytest.param(
            {"azp": CONSOLE, "client_id": "spa-client"}, ADMIN, id="azp_and_client_id_differ"
        ),
        pytest.param(
            {"client_id": CONSOLE, "azp": "spa-client"}, ADMIN, id="client_id_and_azp_differ"
        ),
        pytest.param({"azp": CONSOLE}, "read:docs openid", id="no_role_scope"),
    ],
)
def test_other_tokens_stay_end_users_without_roles(raw: dict[str, str], scopes: str) -> None:
    principal = _security(**OPTED_IN).from_claims(_claims(scopes, **raw))
    assert principal.kind == "end_user_token" and principal.roles == frozenset()


def test_client_id_alone_names_the_console_too() -> None:
    principal = _security(**OPTED_IN).from_claims(_claims("permsvc:read", client_id=CONSOLE))
    assert principal.kind == "console_token" and principal.roles == {"check", "read"}


def test_a_machine_token_of_the_console_client_is_still_a_machine_token() -> None:
    claims = _claims(ADMIN, azp=CONSOLE, gty="client-credentials")
    assert _security(**OPTED_IN).from_claims(claims).kind == "machine_token"


def test_the_opt_in_needs_the_console_client_and_is_read_from_the_environment() -> None:
    with pytest.raises(SettingsError, match="PERMSVC_CONSOLE_CLIENT_ID"):
        make_settings(console_scope_roles=True)
    with pytest.raises(SettingsError, match="MACHINE_CLIENT_IDS"):
        make_settings(console_client_id=CONSOLE, machine_client_ids=(CONSOLE,))
    env = {"PERMSVC_CONSOLE_CLIENT_ID": CONSOLE, "PERMSVC_CONSOLE_SCOPE_ROLES": "true"}
    settings = Settings.from_env(env)
    assert (settings.console_client_id, settings.console_scope_roles) == (CONSOLE, True)
    assert Settings.from_env({}).console_scope_roles is False


# -- through the HTTP API ------------------------------------------------------------------------


@pytest.fixture(params=[False, True], ids=["default", "opted_in"])
async def client(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[AsyncTestClient[Any], Issuer, bool]]:
    issuer = Issuer()
    settings: dict[str, Any] = {"console_client_id": CONSOLE, "admin_scope": ADMIN}
    if request.param:
        settings["console_scope_roles"] = True
    async for plain in v1_client(issuer, **settings):
        yield plain, issuer, request.param


async def _whoami(client: AsyncTestClient[Any], headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/v1/whoami", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_whoami_of_a_console_login(client: tuple[AsyncTestClient[Any], Issuer, bool]) -> None:
    http, issuer, opted_in = client
    login = bearer(issuer.user("auth0|7", scope=f"openid {ADMIN}", azp=CONSOLE))
    me = await _whoami(http, login)
    keys = await http.get("/v1/admin/keys", headers=login)
    if opted_in:
        assert me["kind"] == "console_token" and me["roles"] == [
            "check",
            "read",
            "write",
            "admin",
            "claims",
        ]
        assert me["actor"] == me["subject"] == "user:auth0|7" and "scopes" in me["note"]
        assert keys.status_code == 200, keys.text
        # Its grants are audited as the person's.
        store = (await http.post("/stores", json={"name": "console"}, headers=login)).json()["id"]
        audit = (await http.get("/v1/admin/audit", params={"store_id": store}, headers=ROOT)).json()
        assert audit["entries"][0]["actor"] == "user:auth0|7", audit
    else:
        assert me["kind"] == "end_user_token" and me["roles"] == []
        assert "PERMSVC_CONSOLE_SCOPE_ROLES is off" in me["note"]
        assert keys.status_code == 403
    assert me["client_id"] == CONSOLE and ADMIN in me["scopes"]


async def test_another_clients_user_gets_no_role_whatever_its_scopes(
    client: tuple[AsyncTestClient[Any], Issuer, bool],
) -> None:
    http, issuer, _ = client
    other = bearer(issuer.user("auth0|8", scope=ADMIN, azp="spa-client"))
    me = await _whoami(http, other)
    assert me["kind"] == "end_user_token" and me["roles"] == [] and "own user" in me["note"]
    assert (await http.get("/v1/admin/keys", headers=other)).status_code == 403
    assert (await http.get("/stores", headers=other)).status_code == 403


async def test_a_console_login_acts_within_its_roles_only(
    client: tuple[AsyncTestClient[Any], Issuer, bool],
) -> None:
    http, issuer, opted_in = client
    reader = bearer(issuer.user("auth0|9", scope="permsvc:read", azp=CONSOLE))
    me = await _whoami(http, reader)
    assert me["roles"] == (["check", "read"] if opted_in else [])
    listed = await http.get("/stores", headers=reader)
    assert listed.status_code == (200 if opted_in else 403), listed.text
    refused = await http.get("/v1/admin/keys", headers=reader)
    assert refused.status_code == 403
    if opted_in:
        # Refused as a token lacking a scope: the header names the scope that would grant it.
        assert 'scope="permsvc:admin"' in refused.headers["www-authenticate"]
        # It speaks for a service with its roles, not for itself: no end user's allowance.
        made = await http.post("/stores", json={"name": "checks"}, headers=ROOT)
        assert made.status_code == 201, made.text
        store = made.json()["id"]
        mine = await http.post(
            "/v1/check",
            json={"relation": "viewer", "object": "document:x", "store_id": store},
            headers=reader,
        )
        assert mine.status_code == 400 and "name the user" in mine.json()["message"]


async def test_whoami_of_keys_is_their_roles_and_store_never_a_secret(
    client: tuple[AsyncTestClient[Any], Issuer, bool],
) -> None:
    http, issuer, _ = client
    key = await api_key(http, "read", store_id="01ARZ3NDEKTSV4RRFFQ69G5FAV")
    me = await _whoami(http, bearer(key))
    assert me["kind"] == "api_key" and me["roles"] == ["check", "read"]
    assert me["store_id"] == "01ARZ3NDEKTSV4RRFFQ69G5FAV" and me["actor"].startswith("key:")
    assert key.rsplit("_", 1)[1] not in str(me)
    root = await _whoami(http, ROOT)
    assert root["kind"] == "bootstrap_key" and "admin" in root["roles"] and "root" not in str(root)
    machine = await _whoami(http, bearer(issuer.service(scope="read:docs")))
    assert machine["kind"] == "machine_token" and machine["roles"] == [] and machine["note"]
    assert (await http.get("/v1/whoami")).status_code == 401
