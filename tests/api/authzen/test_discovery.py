"""PDP metadata (GET /.well-known/authzen-configuration[/stores/<id>|/<id>])."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from tests.api.authzen.conftest import Seeded, settings_for

ENDPOINTS = {
    "access_evaluation_endpoint": "/access/v1/evaluation",
    "access_evaluations_endpoint": "/access/v1/evaluations",
    "search_subject_endpoint": "/access/v1/search/subject",
    "search_resource_endpoint": "/access/v1/search/resource",
    "search_action_endpoint": "/access/v1/search/action",
}


def _expected(pdp: str) -> dict[str, str]:
    return {"policy_decision_point": pdp, **{name: pdp + path for name, path in ENDPOINTS.items()}}


async def test_default_store_metadata_uses_the_request_base_url(
    client: AsyncTestClient[Any],
) -> None:
    response = await client.get(
        "/.well-known/authzen-configuration", headers={"X-Request-ID": "meta-1"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "max-age=300"
    assert response.headers["x-request-id"] == "meta-1"
    assert response.json() == _expected(str(client.base_url).rstrip("/"))


@pytest.mark.parametrize(
    "template",
    [
        pytest.param("/.well-known/authzen-configuration/stores/{id}", id="rfc8615_insertion"),
        pytest.param("/.well-known/authzen-configuration/{id}", id="openfga_alias"),
    ],
)
async def test_store_scoped_metadata(
    client: AsyncTestClient[Any], seeded: Seeded, template: str
) -> None:
    response = await client.get(template.format(id=seeded.store_id))
    assert response.status_code == 200, response.text
    assert response.json() == _expected(
        f"{str(client.base_url).rstrip('/')}/stores/{seeded.store_id}"
    )


async def test_public_url_setting_wins_over_the_host_header(seeded: Seeded) -> None:
    settings = settings_for(seeded, public_url="https://authz.example.com/")
    async with AsyncTestClient(create_app(settings)) as client:
        default = await client.get(
            "/.well-known/authzen-configuration", headers={"Host": "evil.example"}
        )
        scoped = await client.get(f"/.well-known/authzen-configuration/stores/{seeded.store_id}")
    assert default.json() == _expected("https://authz.example.com")
    assert scoped.json() == _expected(f"https://authz.example.com/stores/{seeded.store_id}")


async def test_metadata_urls_are_the_endpoints(
    client: AsyncTestClient[Any], seeded: Seeded
) -> None:
    """A PEP that follows the metadata reaches working endpoints, for either PDP."""
    base = str(client.base_url).rstrip("/")
    body = {
        "subject": {"type": "user", "id": "alice@example.com"},
        "action": {"name": "can_delete"},
        "resource": {"type": "document", "id": "readme"},
    }
    for path in (
        "/.well-known/authzen-configuration",
        f"/.well-known/authzen-configuration/stores/{seeded.store_id}",
    ):
        metadata = (await client.get(path)).json()
        url = metadata["access_evaluation_endpoint"]
        assert url.startswith(base)
        response = await client.post(url[len(base) :], json=body)
        assert response.json() == {"decision": True}


async def test_no_default_store_metadata_is_a_clear_404(seeded: Seeded) -> None:
    async with AsyncTestClient(create_app(settings_for(seeded, store=""))) as client:
        response = await client.get("/.well-known/authzen-configuration")
        assert response.status_code == 404
        assert "PERMSVC_STORE" in response.json()["message"]
        scoped = await client.get(f"/.well-known/authzen-configuration/stores/{seeded.store_id}")
        assert scoped.status_code == 200


async def test_malformed_store_id_is_400(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/.well-known/authzen-configuration/stores/not-a-store")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


async def test_metadata_is_not_guarded(seeded: Seeded) -> None:
    settings = settings_for(seeded, auth_method="preshared", api_keys=("k-1",))
    async with AsyncTestClient(create_app(settings)) as client:
        assert (await client.get("/.well-known/authzen-configuration")).status_code == 200
        assert (
            await client.get(f"/.well-known/authzen-configuration/{seeded.store_id}")
        ).status_code == 200
