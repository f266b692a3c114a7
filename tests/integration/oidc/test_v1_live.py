"""Real tokens from a real OpenID provider through every /v1 path of a live ``permsvc serve``.

oidc-provider issues RFC 9068 access tokens: user tokens through the test-subject grant and the
browserless authorization-code flow, client-credentials tokens for services (``permsvc:check``)
and for admins (``permsvc:admin``), and the Auth0-style JWE for a request without audience. The
server validates them through discovery and the JWKS, exactly as it would against Auth0.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from oidckit import API, JWE_RESOURCE, OidcProvider

from tests.api.conftest import MODEL
from tests.api.live import LiveServer, live_server

pytestmark = pytest.mark.timeout(600)

USER = "auth0|64b1f00d"
ROOT_KEY = "v1-live-bootstrap-key"
OTHER = "google-oauth2|1234"


class World:
    def __init__(self, server: LiveServer, provider: OidcProvider, store: str) -> None:
        self.server = server
        self.provider = provider
        self.store = store
        self.http = httpx.Client(base_url=server.url, timeout=15)

    def post(self, path: str, token: str, body: dict[str, Any], **headers: str) -> httpx.Response:
        return self.http.post(
            path, json=body, headers={"Authorization": f"Bearer {token}", **headers}
        )

    def get(self, path: str, token: str, **params: str) -> httpx.Response:
        return self.http.get(path, params=params, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def world(v1_provider: OidcProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    env = {
        "PERMSVC_OIDC_ISSUER": v1_provider.issuer,
        "PERMSVC_OIDC_AUDIENCE": API,
        "PERMSVC_OIDC_STRICT": "true",
        "PERMSVC_ADMIN_SCOPE": "permsvc:admin",
        "PERMSVC_CHECK_SCOPE": "permsvc:check",
        # oidc-provider's client-credentials tokens are RFC 9068's: sub == client_id, no gty
        "PERMSVC_MACHINE_CLIENT_IDS": "m2m-client",
        "PERMSVC_API_KEYS": ROOT_KEY,
    }
    data: Path = tmp_path_factory.mktemp("v1-live")
    with live_server(data, env=env) as server:
        store = httpx.post(
            server.url + "/stores",
            json={"name": "v1-live"},
            timeout=10,
            headers={"Authorization": f"Bearer {ROOT_KEY}"},
        ).json()["id"]
        w = World(server, v1_provider, store)
        try:
            yield w
        finally:
            w.http.close()


def test_admin_token_uploads_a_model_and_grants(world: World) -> None:
    admin = world.provider.client_credentials(scope="permsvc:admin")
    model = world.post("/v1/admin/models", admin, {"store_id": world.store, "model": MODEL})
    assert model.status_code == 201, model.text
    grants = [
        {"object": "document:readme", "relation": "viewer", "user": f"user:{USER}"},
        {"object": "document:plan", "relation": "owner", "user": f"user:{OTHER}"},
        {"object": "group:eng", "relation": "member", "user": f"user:{USER}"},
        {"object": "document:design", "relation": "viewer", "user": "group:eng#member"},
    ]
    response = world.post(
        "/v1/admin/grants",
        admin,
        {"store_id": world.store, "tuples": grants},
        **{"X-Request-ID": "live-grant"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["changed"] == 4

    audit = world.get("/v1/admin/audit", admin, store_id=world.store, action="grant").json()[
        "entries"
    ][0]
    assert audit["actor"] == "client:m2m-client" and audit["actor_kind"] == "client_token"
    assert audit["request_id"] == "live-grant" and audit["revision"] == response.json()["revision"]
    assert admin not in world.get("/v1/admin/audit", admin, page_size="100").text


def test_user_token_checks_itself(world: World) -> None:
    token = world.provider.user_token(USER)
    body = {"relation": "viewer", "object": "document:design", "store_id": world.store}
    response = world.post("/v1/check", token, body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["user"], answer["allowed"]) == (f"user:{USER}", True)
    assert answer["revision"] >= 1 and answer["consistency_token"]

    objects = world.post(
        "/v1/objects", token, {"type": "document", "relation": "viewer", "store_id": world.store}
    )
    assert sorted(objects.json()["objects"]) == ["document:design", "document:readme"]
    relations = world.post(
        "/v1/relations",
        world.provider.user_token(OTHER),
        {"object": "document:plan", "store_id": world.store},
    )
    assert relations.json()["relations"] == ["owner", "viewer"]
    batch = world.post(
        "/v1/check/batch",
        token,
        {
            "store_id": world.store,
            "checks": [
                {"relation": "viewer", "object": "document:readme"},
                {"relation": "owner", "object": "document:plan"},
            ],
        },
    )
    assert [r["allowed"] for r in batch.json()["results"]] == [True, False]

    other = world.post("/v1/check", token, {**body, "user": f"user:{OTHER}"})
    assert other.status_code == 403 and f"user:{USER}" in other.json()["message"]


def test_authorization_code_token_of_a_logged_in_user(world: World) -> None:
    tokens = world.provider.authorization_code(USER)
    response = world.post(
        "/v1/check",
        tokens["access_token"],
        {"relation": "viewer", "object": "document:readme", "store_id": world.store},
    )
    assert response.status_code == 200 and response.json()["allowed"] is True


def test_service_tokens_by_scope(world: World) -> None:
    body = {
        "relation": "owner",
        "object": "document:plan",
        "store_id": world.store,
        "subject_token": world.provider.user_token(OTHER),
    }
    service = world.provider.client_credentials(scope="permsvc:check")
    answer = world.post("/v1/check", service, body).json()
    assert answer["allowed"] is True and answer["user"] == f"user:{OTHER}"
    unnamed = world.post(
        "/v1/check", service, {k: v for k, v in body.items() if k != "subject_token"}
    )
    assert unnamed.status_code == 400 and "subject_token" in unnamed.json()["message"]
    named = world.post("/v1/check", service, {**unnamed_body(body), "user": f"user:{OTHER}"})
    assert named.status_code == 403 and "'read' role" in named.json()["message"]
    posing = world.post("/v1/check", world.provider.user_token("m2m-client"), unnamed_body(body))
    assert posing.status_code == 200 and posing.json()["user"] == "user:m2m-client", (
        "a user named like the client is a user"
    )
    plain = world.post("/v1/check", world.provider.client_credentials(scope="read:docs"), body)
    assert plain.status_code == 403
    assert 'error="insufficient_scope", error_description=' in plain.headers["www-authenticate"]
    assert 'scope="permsvc:check"' in plain.headers["www-authenticate"]


def unnamed_body(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "subject_token"}


def test_admin_routes_refuse_every_non_admin_token(world: World) -> None:
    for token in (
        world.provider.user_token(USER),
        world.provider.user_token(USER, scope="permsvc:admin"),  # an end user is never admin
        world.provider.client_credentials(scope="permsvc:check read:docs"),
    ):
        response = world.get("/v1/admin/keys", token)
        assert response.status_code == 403, response.text
    machine = world.get("/v1/admin/keys", world.provider.client_credentials(scope="permsvc:check"))
    assert 'scope="permsvc:admin"' in machine.headers["www-authenticate"]
    assert world.http.get("/v1/admin/keys").status_code == 401
    assert (
        world.get(
            "/v1/admin/keys", world.provider.client_credentials(scope="permsvc:admin")
        ).status_code
        == 200
    )


def test_admin_token_creates_a_check_key_that_works_until_revoked(world: World) -> None:
    admin = world.provider.client_credentials(scope="permsvc:admin")
    created = world.post(
        "/v1/admin/keys", admin, {"roles": ["read"], "store_id": world.store, "name": "live"}
    )
    assert created.status_code == 201
    key, key_id = created.json()["key"], created.json()["info"]["id"]
    body = {
        "relation": "viewer",
        "object": "document:readme",
        "store_id": world.store,
        "user": f"user:{USER}",
    }
    assert world.post("/v1/check", key, body).json()["allowed"] is True
    assert (
        world.http.delete(
            f"/v1/admin/keys/{key_id}", headers={"Authorization": f"Bearer {admin}"}
        ).status_code
        == 200
    )
    refused = world.post("/v1/check", key, body)
    assert refused.status_code == 401 and "revoked" in refused.json()["message"]


def test_revoke_and_departing_user_are_traced(world: World) -> None:
    admin = world.provider.client_credentials(scope="permsvc:admin")
    revoke = world.post(
        "/v1/admin/revokes",
        admin,
        {
            "store_id": world.store,
            "tuples": [{"object": "document:readme", "relation": "viewer", "user": f"user:{USER}"}],
        },
    )
    assert revoke.json()["changed"] == 1
    check = world.post(
        "/v1/check",
        world.provider.user_token(USER),
        {
            "relation": "viewer",
            "object": "document:readme",
            "store_id": world.store,
            "consistency_token": revoke.json()["consistency_token"],
        },
    )
    assert check.json()["allowed"] is False
    leaver = world.post(
        "/v1/admin/tuples/delete", admin, {"store_id": world.store, "user": f"user:{USER}"}
    )
    assert leaver.json()["changed"] == 1
    actions = [
        (e["action"], e["actor"])
        for e in world.get("/v1/admin/audit", admin, store_id=world.store).json()["entries"][:2]
    ]
    assert actions == [("delete_by_filter", "client:m2m-client"), ("revoke", "client:m2m-client")]


@pytest.mark.parametrize(
    ("make", "hint"),
    [
        pytest.param(
            lambda p: p.user_token(USER, resource=JWE_RESOURCE),
            "audience",
            id="jwe_without_audience",
        ),
        pytest.param(lambda p: p.user_token(USER)[:-12], "signature", id="truncated_signature"),
        pytest.param(lambda p: "garbage", "", id="not_a_jwt"),
    ],
)
def test_bad_real_tokens_are_explained(world: World, make: Any, hint: str) -> None:
    response = world.post(
        "/v1/check",
        make(world.provider),
        {"relation": "viewer", "object": "document:readme", "store_id": world.store},
    )
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert hint in response.json()["message"].lower()
