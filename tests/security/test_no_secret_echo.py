"""No response and no log line ever carries a credential the caller sent, however it is mangled.

Clients get the ``Authorization`` header wrong in many ways (no ``Bearer`` prefix, ``Bearer:``,
the key twice, a stray character), and error bodies end up in client logs, proxies and bug
reports. So for every authenticated route of the app (generated from its route table) and every
mangled shape of three real credentials (the bootstrap key, an API key, an end user's access
token), plus the body fields that carry tokens (``subject_token``), neither the credential nor
its secret part may appear in the response's body or headers, nor in any log record (debug
level).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from permsvc.api.security.table import ROUTE_RULES, rule_key
from tests.security.kit import ROOT_KEY, World, bearer

TOKEN_FIELD_ROUTES = ("/v1/check", "/v1/check/batch", "/v1/objects", "/v1/relations", "/v1/explain")


def authorization_shapes(secret: str) -> list[str]:
    """Ways a client sends a credential wrongly (each keeps the whole secret in the header)."""
    return [
        secret,
        f"{secret} Bearer",
        f"Bearer:{secret}",
        f"Bearer={secret}",
        f"bearer{secret}",
        f"Token {secret}",
        f"Bearer {secret} {secret}",
        f"Bearer Bearer {secret}",
        f"Bearer {secret}x",
        f"Bearer x{secret}",
        f"Bearer {secret}\u00e4",
        f"Bearer {secret[:-1]}",
        f"Bearer {secret},{secret}",
    ]


def body_shapes(secret: str) -> list[Any]:
    """Token-carrying body fields holding the credential, valid or not."""
    return [
        secret,
        f"{secret}\u0001",
        f" {secret} ",
        f"{secret} {secret}",
        f"Bearer {secret}",
        [secret],
        {"token": secret},
    ]


def _secrets(key: str, token: str) -> list[tuple[str, list[str]]]:
    """Each credential with the fragments that must never show: the whole of it and its secret."""
    return [
        (ROOT_KEY, [ROOT_KEY]),
        (key, [key, key.rsplit("_", 1)[1]]),
        (token, [token, token.rsplit(".", 1)[1]]),
    ]


def _leaks(response: Any, fragments: list[str], records: list[logging.LogRecord]) -> list[str]:
    shown = response.text + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    logged = "\n".join(record.getMessage() + repr(record.__dict__) for record in records)
    return [f for f in fragments if f in shown or f in logged]


async def test_no_mangled_credential_is_echoed_on_any_route(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = await world.key("admin")
    token = world.issuer.user("auth0|42")
    secrets = _secrets(key, token)
    routes = [
        (m, p) for m, p in world.route_table() if ROUTE_RULES[rule_key(m, p)].role is not None
    ]
    tried, leaked = 0, []
    for method, path in routes:
        url, kwargs = world.sample(method, path)
        for credential, fragments in secrets:
            for shape in authorization_shapes(credential):
                caplog.clear()
                headers = {**kwargs.get("headers", {}), "Authorization": shape.encode("latin-1")}
                sent = {k: v for k, v in kwargs.items() if k != "headers"}
                response = await world.client.request(method, url, headers=headers, **sent)
                tried += 1
                assert response.status_code < 500, (method, path, response.text)
                if _leaks(response, fragments, caplog.records):
                    leaked.append(f"{method} {path} {shape[:30]!r}: {response.text[:200]}")
    assert tried >= 50 * 3 * 13
    assert not leaked, f"{len(leaked)} responses echo a credential, e.g. {leaked[:3]}"


async def test_no_token_field_is_echoed(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key = await world.key("admin")
    token = world.issuer.user("auth0|42")
    service = bearer(await world.key("check"))
    leaked = []
    for path in TOKEN_FIELD_ROUTES:
        _, kwargs = world.sample("POST", path)
        body = dict(kwargs["json"])
        for credential, fragments in _secrets(key, token):
            for value in body_shapes(credential):
                caplog.clear()
                response = await world.client.post(
                    path, json={**body, "subject_token": value}, headers=service
                )
                assert response.status_code < 500, (path, response.text)
                if _leaks(response, fragments, caplog.records):
                    leaked.append(f"{path} {str(value)[:30]!r}: {response.text[:200]}")
    assert not leaked, f"{len(leaked)} responses echo a credential, e.g. {leaked[:3]}"
