"""The Python client (``permsvc_client``) against a live ``permsvc serve`` with real tokens from
the test OpenID provider: the user's token as the bearer credential, and a service key (role
``check``) with the user's token as ``subject_token``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from clientworld import ALICE, BOB, CAROL, CLAIM_NAME, ClientWorld, client_world
from oidckit import JWE_RESOURCE, OidcProvider
from permsvc_client import (
    AsyncPermsvc,
    Check,
    CredentialError,
    Permsvc,
    TokenRejectedError,
    UnavailableError,
    read_claim,
)

from tests.api.live import free_port

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def world(
    v1_provider: OidcProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ClientWorld]:
    with client_world(v1_provider, tmp_path_factory.mktemp("client-py")) as w:
        yield w


@pytest.fixture(params=["user-token", "service-key"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make(world: ClientWorld, mode: str) -> Permsvc:
    return Permsvc(
        world.url,
        credential=world.check_key if mode == "service-key" else None,
        store_id=world.store,
    )


def test_check_batch_objects_relations(world: ClientWorld, mode: str) -> None:
    alice = world.token(ALICE)
    with make(world, mode) as client:
        allowed = client.check("can_read", "document:roadmap", subject_token=alice)
        assert (
            allowed.allowed and allowed.user == f"user:{ALICE}" and allowed.store_id == world.store
        )
        assert not client.check("can_read", "document:budget", subject_token=alice)
        batch = client.batch_check(
            [
                Check("can_read", "document:roadmap"),
                ("can_delete", "document:budget"),
                ("can_read", "document:handbook"),
            ],
            subject_token=alice,
        )
        assert batch.allowed() == [True, False, True] and batch.revision >= 1
        assert client.filter_allowed(
            "can_share", ["document:budget", "document:roadmap"], subject_token=alice
        ) == ["document:roadmap"]
        assert sorted(
            client.iter_objects("document", "can_read", subject_token=alice, page_size=1)
        ) == [
            "document:handbook",
            "document:roadmap",
        ]
        relations = client.list_relations("document:roadmap", subject_token=alice)
        assert sorted(relations.relations) == [
            "can_delete",
            "can_read",
            "can_share",
            "editor",
            "owner",
            "viewer",
        ]


def test_connections_are_reused(world: ClientWorld, mode: str) -> None:
    token = world.token(BOB)
    with make(world, mode) as client:
        for _ in range(20):
            assert client.check("can_read", "document:budget", subject_token=token)
        pool = (
            client._http._transport._pool
        )  # httpx's connection pool: one keep-alive connection served all 20
        assert len(pool.connections) == 1


async def test_async_client(world: ClientWorld, mode: str) -> None:
    alice = world.token(ALICE)
    credential = world.check_key if mode == "service-key" else None
    async with AsyncPermsvc(world.url, credential=credential, store_id=world.store) as client:
        assert (await client.check("can_share", "document:roadmap", subject_token=alice)).allowed
        assert await client.all_objects("document", "owner", subject_token=alice) == [
            "document:roadmap"
        ]


def test_a_token_without_audience_is_explained(world: ClientWorld, mode: str) -> None:
    jwe = world.provider.user_token(ALICE, resource=JWE_RESOURCE)
    with make(world, mode) as client, pytest.raises(TokenRejectedError) as info:
        client.check("can_read", "document:roadmap", subject_token=jwe)
    # permsvc refuses a bad bearer token with 401, a bad subject_token (a field of the body) with 400
    assert info.value.status == (401 if mode == "user-token" else 400)
    assert "audience" in info.value.message.lower()
    assert "jwe" in info.value.message.lower()


def test_claims_read_back_and_read_claim(world: ClientWorld) -> None:
    with Permsvc(world.url, credential=world.claims_key, store_id=world.store) as feed:
        claims = feed.claims(ALICE, audience="https://my-api").claims
    view = read_claim(claims, claim_name=CLAIM_NAME)
    assert (
        view.complete
        and view.has("owner", "document:roadmap")
        and view.has("viewer", "document:budget") is False
    )
    alice = world.token(ALICE)
    with Permsvc(world.url, store_id=world.store) as client:
        local = client.read_claim(
            claims, "owner", "document:roadmap", claim_name=CLAIM_NAME, subject_token=alice
        )
        assert (local.allowed, local.source) == (True, "claim")
        # can_read is not summarised: permsvc answers
        remote = client.read_claim(
            claims, "can_read", "document:handbook", claim_name=CLAIM_NAME, subject_token=alice
        )
        assert (remote.allowed, remote.source) == (True, "check")
        stale = client.read_claim(
            claims,
            "owner",
            "document:roadmap",
            claim_name=CLAIM_NAME,
            subject_token=alice,
            min_revision=view.revision + 1,
        )
        assert stale.source == "check" and stale.allowed


def test_service_key_names_users_grants_and_revokes(world: ClientWorld) -> None:
    # naming a user directly takes more than the check role (read, here admin, which includes it)
    with (
        Permsvc(world.url, credential=world.admin_key, store_id=world.store) as checker,
        Permsvc(world.url, credential=world.admin_key, store_id=world.store) as admin,
    ):
        assert not checker.check("can_read", "document:budget", user=f"user:{CAROL}")
        grant = admin.grant(
            [{"object": "document:budget", "relation": "viewer", "user": f"user:{CAROL}"}]
        )
        assert grant.changed == 1
        assert checker.check(
            "can_read",
            "document:budget",
            user=f"user:{CAROL}",
            consistency_token=grant.consistency_token,
        )
        revoke = admin.revoke(
            [{"object": "document:budget", "relation": "viewer", "user": f"user:{CAROL}"}]
        )
        assert not checker.check(
            "can_read",
            "document:budget",
            user=f"user:{CAROL}",
            consistency_token=revoke.consistency_token,
        )


def test_refused_credentials_and_a_dead_server(world: ClientWorld) -> None:
    with (
        Permsvc(world.url, credential="psk_nope_nope", store_id=world.store) as client,
        pytest.raises(CredentialError) as info,
    ):
        client.check("can_read", "document:budget", user=f"user:{BOB}")
    assert info.value.status == 401 and "PERMSVC_API_KEY" in str(info.value)
    with (
        Permsvc(world.url, credential=world.claims_key, store_id=world.store) as client,
        pytest.raises(CredentialError) as info,
    ):
        client.check("can_read", "document:budget", user=f"user:{BOB}")
    assert info.value.status == 403
    with (
        Permsvc(f"http://127.0.0.1:{free_port()}", timeout=2) as dead,
        pytest.raises(UnavailableError, match="unreachable"),
    ):
        dead.check("can_read", "document:budget", subject_token="x")


def test_a_user_token_cannot_name_another_user(world: ClientWorld) -> None:
    with (
        Permsvc(world.url, store_id=world.store) as client,
        pytest.raises(ValueError, match="service credential"),
    ):
        client.check("can_read", "document:budget", user=f"user:{BOB}")
