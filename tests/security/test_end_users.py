"""End users versus the services that call for them, on the four /v1 check routes.

An end user's own access token asks only about itself: it may not name another user, pass a
``subject_token``, send ``contextual_tuples`` (which would let it grant itself anything), nor (by
default) ``context``. Which tokens are machine tokens is decided by rules a user cannot meet by
choosing its ``sub``. A service passes the user's token as ``subject_token`` and may add context
and up to 100 contextual tuples per request, counted across a whole batch.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.security.kit import SCOPES, World, bearer, open_world

ROUTES = {
    "/v1/check": {"relation": "viewer", "object": "document:secret"},
    "/v1/check/batch": {"checks": [{"relation": "viewer", "object": "document:secret"}]},
    "/v1/objects": {"type": "document", "relation": "viewer"},
    "/v1/relations": {"object": "document:secret"},
    "/v1/explain": {"relation": "viewer", "object": "document:secret"},
}
GRANT_MYSELF = [{"object": "document:secret", "relation": "viewer", "user": "user:*"}]


def _body(world: World, path: str, **extra: Any) -> dict[str, Any]:
    return {**ROUTES[path], "store_id": world.store_a, **extra}


def _user_tokens(world: World) -> dict[str, str]:
    issuer = world.issuer
    return {
        "plain_user": issuer.user("auth0|42"),
        "user_with_admin_scope": issuer.user(
            "auth0|42", scope="openid permsvc:admin permsvc:check permsvc:read"
        ),
        "sub_ending_in_at_clients": issuer.user("mallory@clients", scope="permsvc:read"),
        "sub_is_another_apps_clients_subject": issuer.user(
            "svc-client@clients", azp="spa-client", scope="permsvc:read"
        ),
        "sub_equal_to_azp_without_suffix": issuer.user(
            "spa-client", azp="spa-client", scope="permsvc:read"
        ),
        "gty_password": issuer.user("auth0|42", gty="password", scope="permsvc:read"),
    }


def _refusals(world: World, path: str) -> dict[str, dict[str, Any]]:
    batch = path == "/v1/check/batch"
    out = {
        "names_another_user": _body(world, path, user="user:victim"),
        "names_a_wildcard": _body(world, path, user="user:*"),
        "names_a_userset": _body(world, path, user="group:eng#member"),
        "contextual_tuples_list": _body(world, path, contextual_tuples=GRANT_MYSELF),
        "contextual_tuples_object": _body(
            world, path, contextual_tuples={"tuple_keys": GRANT_MYSELF}
        ),
        "context": _body(world, path, context={"x": 1}),
        "subject_token_of_another_user": _body(
            world, path, subject_token=world.issuer.user("victim")
        ),
    }
    if batch:
        out["item_contextual_tuples"] = _body(
            world,
            path,
            checks=[
                {
                    "relation": "viewer",
                    "object": "document:secret",
                    "contextual_tuples": GRANT_MYSELF,
                }
            ],
        )
        out["item_context"] = _body(
            world,
            path,
            checks=[{"relation": "viewer", "object": "document:secret", "context": {"x": 1}}],
        )
    return out


async def test_end_user_tokens_ask_only_about_themselves(world: World) -> None:
    tried = 0
    for token_name, token in _user_tokens(world).items():
        for path in ROUTES:
            for variant, body in _refusals(world, path).items():
                response = await world.client.post(path, json=body, headers=bearer(token))
                tried += 1
                assert response.status_code == 403, (token_name, path, variant, response.text)
                assert response.json()["code"] == "forbidden"
            own = await world.client.post(path, json=_body(world, path), headers=bearer(token))
            assert own.status_code == 200, (token_name, path, own.text)
            if path == "/v1/check":
                assert own.json()["allowed"] is False and own.json()["user"].startswith("user:")
    assert tried >= 6 * 4 * 7


async def test_end_user_tokens_are_refused_everywhere_else(world: World) -> None:
    for token_name, token in _user_tokens(world).items():
        for method, path, body in [
            ("POST", "/v1/claims", {"user_id": "victim", "store_id": world.store_a}),
            ("POST", "/v1/admin/grants", {"store_id": world.store_a, "tuples": GRANT_MYSELF}),
            ("POST", f"/stores/{world.store_a}/write", {"writes": {"tuple_keys": GRANT_MYSELF}}),
            (
                "POST",
                f"/stores/{world.store_a}/check",
                {
                    "tuple_key": {
                        "object": "document:secret",
                        "relation": "viewer",
                        "user": "user:victim",
                    }
                },
            ),
            ("GET", f"/stores/{world.store_a}", None),
            (
                "POST",
                "/access/v1/evaluation",
                {
                    "subject": {"type": "user", "id": "victim"},
                    "action": {"name": "viewer"},
                    "resource": {"type": "document", "id": "secret"},
                },
            ),
        ]:
            response = await world.client.request(method, path, json=body, headers=bearer(token))
            assert response.status_code == 403, (token_name, path, response.text)


async def test_context_from_end_users_is_a_setting(database_url: str) -> None:
    async for world in open_world(database_url, end_user_context=True):
        token = bearer(world.issuer.user("auth0|42"))
        for path in ROUTES:
            response = await world.client.post(
                path, json=_body(world, path, context={"x": 1}), headers=token
            )
            assert response.status_code == 200, (path, response.text)
            still = await world.client.post(
                path, json=_body(world, path, contextual_tuples=GRANT_MYSELF), headers=token
            )
            assert still.status_code == 403


@pytest.mark.parametrize(
    ("claims", "machine"),
    [
        pytest.param(
            {"sub": "svc@clients", "azp": "svc", "gty": "client-credentials"}, True, id="auth0_gty"
        ),
        pytest.param({"sub": "svc@clients", "azp": "svc"}, True, id="auth0_sub_is_azp_at_clients"),
        pytest.param({"sub": "svc", "gty": "client-credentials"}, True, id="gty_alone"),
        pytest.param(
            {"sub": "evil@clients", "azp": "spa-client"}, False, id="suffix_of_another_client"
        ),
        pytest.param({"sub": "svc@clients", "azp": "svc@clients"}, False, id="azp_with_the_suffix"),
        pytest.param({"sub": "svc", "azp": "svc"}, False, id="rfc9068_sub_equals_client_unlisted"),
        pytest.param(
            {"sub": "svc@clients", "gty": "password", "azp": "spa"}, False, id="other_grant"
        ),
        pytest.param({"sub": "svc@clients", "azp": None}, False, id="no_azp"),
    ],
)
async def test_machine_token_rules(world: World, claims: dict[str, Any], machine: bool) -> None:
    rest = {k: v for k, v in claims.items() if k != "sub"}
    token = world.issuer.token(claims["sub"], scope=SCOPES["read"], **{"azp": None, **rest})
    response = await world.client.get(f"/stores/{world.store_a}", headers=bearer(token))
    assert response.status_code == (200 if machine else 403), response.text


async def test_listed_client_ids_make_rfc9068_machine_tokens(database_url: str) -> None:
    async for world in open_world(database_url, machine_client_ids=("m2m",)):
        machine = world.issuer.token("m2m", scope=SCOPES["read"], azp=None, client_id="m2m")
        assert (
            await world.client.get(f"/stores/{world.store_a}", headers=bearer(machine))
        ).status_code == 200
        user = world.issuer.token("m2m", scope=SCOPES["read"], azp=None, client_id="web")
        assert (
            await world.client.get(f"/stores/{world.store_a}", headers=bearer(user))
        ).status_code == 403


async def test_services_pass_subject_token(world: World) -> None:
    issuer = world.issuer
    service = bearer(issuer.service())  # the check role only
    user = issuer.user("auth0|42")
    for path in ROUTES:
        ok = await world.client.post(
            path, json=_body(world, path, subject_token=user), headers=service
        )
        assert ok.status_code == 200, (path, ok.text)
        assert ok.json()["user"] == "user:auth0|42"
        with_extras = await world.client.post(
            path,
            json=_body(
                world, path, subject_token=user, contextual_tuples=GRANT_MYSELF, context={"x": 1}
            ),
            headers=service,
        )
        assert with_extras.status_code == 200, (path, with_extras.text)
        for variant, body, status in [
            ("names_user_with_check_role_only", _body(world, path, user="user:auth0|42"), 403),
            ("no_user_at_all", _body(world, path), 400),
            ("user_and_subject_token", _body(world, path, user="user:x", subject_token=user), 400),
            ("empty_subject_token", _body(world, path, subject_token=" "), 400),
            ("garbage_subject_token", _body(world, path, subject_token="not.a.jwt"), 400),
            (
                "expired_subject_token",
                _body(world, path, subject_token=issuer.user("auth0|42", exp=1)),
                400,
            ),
            ("machine_subject_token", _body(world, path, subject_token=issuer.service()), 400),
            (
                "api_key_as_subject_token",
                _body(world, path, subject_token=await world.key("admin")),
                400,
            ),
        ]:
            response = await world.client.post(path, json=body, headers=service)
            assert response.status_code == status, (path, variant, response.text)
            if status == 400:
                assert response.json()["code"] in ("invalid_request", "validation_error"), (
                    response.text
                )
    reader = bearer(issuer.service(scope=SCOPES["read"]))
    named = await world.client.post(
        "/v1/check", json=_body(world, "/v1/check", user="user:auth0|42"), headers=reader
    )
    assert named.status_code == 200


def _tuples(n: int) -> list[dict[str, str]]:
    return [
        {"object": f"document:c{i}", "relation": "viewer", "user": "user:auth0|42"}
        for i in range(n)
    ]


async def test_contextual_tuples_are_counted_across_a_batch(world: World) -> None:
    service = bearer(world.issuer.service())
    user = world.issuer.user("auth0|42")
    check = "/v1/check"
    assert (
        await world.client.post(
            check,
            json=_body(world, check, subject_token=user, contextual_tuples=_tuples(100)),
            headers=service,
        )
    ).status_code == 200
    too_many = await world.client.post(
        check,
        json=_body(world, check, subject_token=user, contextual_tuples=_tuples(101)),
        headers=service,
    )
    assert too_many.status_code == 400 and "100" in too_many.json()["message"]
    batch = "/v1/check/batch"
    items = [
        {"relation": "viewer", "object": "document:secret", "contextual_tuples": _tuples(2)}
        for _ in range(50)
    ]
    full = _body(world, batch, subject_token=user, checks=items)
    assert (await world.client.post(batch, json=full, headers=service)).status_code == 200
    over = await world.client.post(
        batch, json={**full, "contextual_tuples": _tuples(1)}, headers=service
    )
    assert over.status_code == 400 and "across" in over.json()["message"]
