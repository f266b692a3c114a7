"""Opt-in explanations in AuthZEN decisions: ``X-Permsvc-Explain: true`` adds
``context.reason_admin`` ({"en": one line}) to every decision; without it nothing changes."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient


def _req(subject: str, action: str, resource: str) -> dict[str, Any]:
    stype, _, sid = subject.partition(":")
    rtype, _, rid = resource.partition(":")
    return {
        "subject": {"type": stype, "id": sid},
        "action": {"name": action},
        "resource": {"type": rtype, "id": rid},
    }


async def test_reason_admin_only_when_asked(client: AsyncTestClient[Any], base: str) -> None:
    body = _req("user:bob", "can_read", "document:readme")
    plain = await client.post(f"{base}/evaluation", json=body)
    assert plain.json() == {"decision": True}
    asked = await client.post(
        f"{base}/evaluation", json=body, headers={"X-Permsvc-Explain": "true"}
    )
    assert asked.status_code == 200, asked.text
    out = asked.json()
    assert out["decision"] is True
    reason = out["context"]["reason_admin"]["en"]
    assert (
        reason.startswith("allowed via ") and "document:readme#" in reason and "user:bob" in reason
    )
    off = await client.post(f"{base}/evaluation", json=body, headers={"X-Permsvc-Explain": "false"})
    assert off.json() == {"decision": True}


async def test_reason_admin_of_a_denial_and_in_batches(
    client: AsyncTestClient[Any], base: str
) -> None:
    response = await client.post(
        f"{base}/evaluations",
        json={
            "evaluations": [
                _req("user:bob", "can_delete", "document:readme"),
                _req("user:bob", "can_read", "document:readme"),
            ]
        },
        headers={"X-Permsvc-Explain": "TRUE"},
    )
    assert response.status_code == 200, response.text
    first, second = response.json()["evaluations"]
    assert first["decision"] is False and first["context"]["reason_admin"]["en"].startswith(
        "denied: "
    )
    assert second["decision"] is True and second["context"]["reason_admin"]["en"].startswith(
        "allowed via "
    )


async def test_a_bad_flag_is_a_400(client: AsyncTestClient[Any], base: str) -> None:
    response = await client.post(
        f"{base}/evaluation",
        json=_req("user:bob", "can_read", "document:readme"),
        headers={"X-Permsvc-Explain": "yes"},
    )
    assert response.status_code == 400 and "X-Permsvc-Explain" in response.json()["message"]


async def test_reason_admin_needs_the_read_role(client: AsyncTestClient[Any], base: str) -> None:
    """An explanation names the tuples behind a decision: a ``check``-role caller gets its yes/no
    but a 403 when it asks for reasons; ``read`` and above get them."""
    keys: dict[str, dict[str, str]] = {}
    for role in (
        "admin",
        "check",
        "read",
    ):  # the first key closes the open door: the admin's makes the rest
        created = await client.post(
            "/v1/admin/keys",
            json={"roles": [role], "name": f"reason-{role}"},
            headers=keys.get("admin", {}),
        )
        assert created.status_code == 201, created.text
        keys[role] = {"Authorization": f"Bearer {created.json()['key']}"}
    body = _req("user:bob", "can_read", "document:readme")
    plain = await client.post(f"{base}/evaluation", json=body, headers=keys["check"])
    assert plain.status_code == 200 and plain.json() == {"decision": True}
    asked = await client.post(
        f"{base}/evaluation", json=body, headers={**keys["check"], "X-Permsvc-Explain": "true"}
    )
    assert asked.status_code == 403, asked.text
    assert asked.json()["code"] == "forbidden" and "'read' role" in asked.json()["message"]
    batch = {"evaluations": [body]}
    refused = await client.post(
        f"{base}/evaluations", json=batch, headers={**keys["check"], "X-Permsvc-Explain": "true"}
    )
    assert refused.status_code == 403, refused.text
    allowed = await client.post(
        f"{base}/evaluation", json=body, headers={**keys["read"], "X-Permsvc-Explain": "true"}
    )
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["context"]["reason_admin"]["en"].startswith("allowed via ")
