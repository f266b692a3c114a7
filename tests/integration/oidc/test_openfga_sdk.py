"""The OpenFGA Python SDK's ``client_credentials`` method works unchanged against permsvc.

What Auth0 FGA users configure: the SDK asks the identity provider's token endpoint for a token
(``audience`` = the API, the client's id and secret, optional scopes) and sends it as a bearer.
Here the provider is oidc-provider on loopback, permsvc a live ``permsvc serve`` validating its
tokens; the token's scopes become roles (``permsvc:admin`` writes models and tuples,
``permsvc:check`` only checks).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from oidckit import API, OidcProvider
from openfga_sdk.client import ClientConfiguration, OpenFgaClient
from openfga_sdk.client.models import ClientCheckRequest, ClientTuple, ClientWriteRequest
from openfga_sdk.credentials import CredentialConfiguration, Credentials
from openfga_sdk.exceptions import ForbiddenException
from openfga_sdk.models import CreateStoreRequest

from tests.api.conftest import MODEL
from tests.api.live import LiveServer, live_server

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def server(
    v1_provider: OidcProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    env = {
        "PERMSVC_OIDC_ISSUER": v1_provider.issuer,
        "PERMSVC_OIDC_AUDIENCE": API,
        "PERMSVC_MACHINE_CLIENT_IDS": "m2m-client",
    }
    data: Path = tmp_path_factory.mktemp("sdk")
    with live_server(data, env=env) as live:
        yield live


def _client(
    server: LiveServer, provider: OidcProvider, scopes: str, store_id: str | None = None
) -> OpenFgaClient:
    credentials = Credentials(
        method="client_credentials",
        configuration=CredentialConfiguration(
            api_issuer=f"{provider.issuer}token",
            api_audience=API,
            client_id="m2m-client",
            client_secret="m2m-secret",
            scopes=scopes,
        ),
    )
    return OpenFgaClient(
        ClientConfiguration(api_url=server.url, store_id=store_id, credentials=credentials)
    )


async def test_sdk_client_credentials(server: LiveServer, v1_provider: OidcProvider) -> None:
    async with _client(server, v1_provider, "permsvc:admin") as admin:
        store = await admin.create_store(CreateStoreRequest(name="sdk-store"))
        admin.set_store_id(store.id)
        model = await admin.write_authorization_model(MODEL)  # type: ignore[arg-type] - the SDK takes the JSON too
        admin.set_authorization_model_id(model.authorization_model_id)
        await admin.write(
            ClientWriteRequest(
                writes=[ClientTuple(user="user:anne", relation="viewer", object="document:readme")]
            )
        )
        answer = await admin.check(
            ClientCheckRequest(user="user:anne", relation="viewer", object="document:readme")
        )
        assert answer.allowed is True

    async with _client(server, v1_provider, "permsvc:check", store.id) as checker:
        answer = await checker.check(
            ClientCheckRequest(user="user:anne", relation="viewer", object="document:readme")
        )
        assert answer.allowed is True
        with pytest.raises(ForbiddenException):
            await checker.write(
                ClientWriteRequest(
                    writes=[
                        ClientTuple(user="user:bob", relation="viewer", object="document:readme")
                    ]
                )
            )

    anonymous = httpx.post(  # noqa: ASYNC210 - one short call after the SDK is done; nothing else runs on this loop
        f"{server.url}/stores/{store.id}/check", json={"tuple_key": {}}, timeout=10
    )
    assert anonymous.status_code == 401
