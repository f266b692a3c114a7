"""Opt-in explanations in AuthZEN decisions: ``X-Permsvc-Explain: true`` adds
``context.reason_admin`` ({"en": one line}) to every decision; without it nothing changes."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient


def _req(subject: str, action: str, resource: str) -> dict[str, Any]:
    stype, _, sid = subject.partition(":")
    rtype, _, rid = resource.partition(":")
    return {"subject": {"type": stype, "id": sid}, "action": {"name": action}, "resource": {"type": rtype, "id": rid}}


async def test_reason_admin_only_when_asked(client: AsyncTestClient[Any], base: str) -> None:
    body = _req("user:bob", "can_read", "document:readme")
    plain = await client.post(f"{base}/evaluation", json=body)
    assert plain.json() == {"decision": True}
    asked = await client.post(f"{base}/evaluation", json=body, headers={"X-Permsvc-Explain": "true"})
    assert asked.status_code == 200, asked.text
    out = asked.json()
    assert out["decision"] is True
    reason = out["context"]["reason_admin"]["en"]
    assert reason.startswith("allowed via ") and "document:readme#" in reason and "user:bob" in reason
    off = await client.post(f"{base}/evaluation", json=body, headers={"X-Permsvc-Explain": "false"})
    assert off.json() == {"decision": True}


async def test_reason_admin_of_a_denial_and_in_batches(client: AsyncTestClient[Any], base: str) -> None:
    response = await client.post(
        f"{base}/evaluations",
        json={"evaluations": [_req("user:bob", "can_delete", "document:readme"), _req("user:bob", "can_read", "document:readme")]},
        headers={"X-Permsvc-Explain": "TRUE"},
    )
    assert response.status_code == 200, response.text
    first, second = response.json()["evaluations"]
    assert first["decision"] is False and first["context"]["reason_admin"]["en"].startswith("denied: ")
    assert second["decision"] is True and second["context"]["reason_admin"]["en"].startswith("allowed via ")


async def test_a_bad_flag_is_a_400(client: AsyncTestClient[Any], base: str) -> None:
    response = await client.post(
        f"{base}/evaluation", json=_req("user:bob", "can_read", "document:readme"), headers={"X-Permsvc-Explain": "yes"}
    )
    assert response.status_code == 400 and "X-Permsvc-Explain" in response.json()["message"]
