"""A hand-written AuthZEN PEP client (:mod:`tests.api.authzen.client`) against a live
``permsvc serve`` process on a free loopback port: discovery for the default-store PDP and for a
store-scoped PDP, then every endpoint through the URLs the metadata names. (The AuthZEN session of
``docs/authzen.md`` runs in ``tests/docs/test_doc_sessions.py``.)"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.authzen.client import AuthzenClient, AuthzenError
from tests.api.authzen.conftest import Seeded
from tests.api.live import LiveServer, live_server

pytestmark = pytest.mark.timeout(180)

ALICE = {"type": "user", "id": "alice@example.com"}
AUTH0 = {"type": "user", "id": "auth0|42"}
SPACED = {"type": "user", "id": "Alice Smith"}
README = {"type": "document", "id": "readme"}
PUBLIC = {"type": "document", "id": "public"}


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, seeded_template: tuple[Path, Seeded]
) -> Iterator[tuple[LiveServer, str]]:
    template, info = seeded_template
    root = tmp_path_factory.mktemp("authzen-live")
    database = root / "permsvc.sqlite"
    for suffix in ("", "-wal", "-shm"):
        source = template.with_name(template.name + suffix)
        if source.exists():
            shutil.copyfile(source, database.with_name(database.name + suffix))
    env = {"PERMSVC_DATABASE_URL": f"sqlite:///{database}", "PERMSVC_STORE": info.store_id}
    with live_server(root, env=env) as server:
        yield server, info.store_id


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


@pytest.fixture(params=["default", "store"])
def pep(
    request: pytest.FixtureRequest, live: tuple[LiveServer, str], http: httpx.Client
) -> AuthzenClient:
    server, store_id = live
    pdp = server.url if request.param == "default" else f"{server.url}/stores/{store_id}"
    return AuthzenClient(pdp, http)


def test_metadata_names_every_endpoint(pep: AuthzenClient) -> None:
    assert set(pep.metadata) == {
        "policy_decision_point",
        "access_evaluation_endpoint",
        "access_evaluations_endpoint",
        "search_subject_endpoint",
        "search_resource_endpoint",
        "search_action_endpoint",
    }
    assert all(
        url.startswith(pep.pdp + "/access/v1/")
        for key, url in pep.metadata.items()
        if key.endswith("_endpoint")
    )


def test_evaluation(pep: AuthzenClient) -> None:
    assert pep.evaluate(ALICE, {"name": "can_delete"}, README) is True
    assert pep.evaluate(AUTH0, {"name": "can_read"}, README) is True
    assert pep.evaluate(AUTH0, {"name": "can_delete"}, README) is False
    assert pep.evaluate(SPACED, {"name": "can_read"}, PUBLIC) is True
    carol = {"type": "user", "id": "carol", "properties": {"region": "eu"}}
    secret = {"type": "document", "id": "secret", "properties": {"region": "eu"}}
    assert pep.evaluate(carol, {"name": "can_read"}, secret) is True
    assert (
        pep.evaluate(carol, {"name": "can_read"}, secret, context={"resource_region": "us"})
        is False
    )


def test_evaluations_every_semantic(pep: AuthzenClient) -> None:
    items: list[dict[str, Any]] = [
        {"action": {"name": "can_read"}},
        {"action": {"name": "can_delete"}},
        {"action": {"name": "can_read"}, "resource": PUBLIC, "subject": SPACED},
        {"subject": {"type": "user"}},
    ]
    defaults = {"subject": AUTH0, "resource": README}
    everything = pep.evaluations(items, **defaults)
    assert [e["decision"] for e in everything] == [True, False, True, False]
    assert everything[3]["context"]["error"]["status"] == 400
    assert [e["decision"] for e in pep.evaluations(items, semantic="execute_all", **defaults)] == [
        True,
        False,
        True,
        False,
    ]
    assert [
        e["decision"] for e in pep.evaluations(items, semantic="deny_on_first_deny", **defaults)
    ] == [True, False]
    assert [
        e["decision"]
        for e in pep.evaluations(items[1:], semantic="permit_on_first_permit", **defaults)
    ] == [False, True]


def test_searches_follow_pages(pep: AuthzenClient) -> None:
    subjects = pep.search_subjects("user", {"name": "can_read"}, README, limit=1)
    assert subjects == [
        {"type": "user", "id": "alice@example.com"},
        {"type": "user", "id": "auth0|42"},
        {"type": "user", "id": "bob"},
    ]
    pager = {"type": "user", "id": "pager"}
    resources = pep.search_resources(pager, {"name": "can_read"}, "document", limit=2)
    assert [r["id"] for r in resources] == ["page1", "page2", "page3", "page4", "page5", "public"]
    assert pep.search_resources(SPACED, {"name": "can_read"}, "document") == [PUBLIC]
    assert pep.search_actions(ALICE, README, limit=2) == [
        {"name": "can_delete"},
        {"name": "can_read"},
        {"name": "can_write"},
    ]
    assert pep.search_actions(AUTH0, README) == [{"name": "can_read"}]


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        pytest.param(
            "access_evaluation_endpoint", {"subject": ALICE}, id="evaluation_missing_fields"
        ),
        pytest.param(
            "access_evaluations_endpoint",
            {"options": {"evaluations_semantic": "x"}, "evaluations": [{}]},
            id="bad_semantic",
        ),
        pytest.param(
            "search_subject_endpoint",
            {"subject": {}, "action": {"name": "can_read"}, "resource": README},
            id="subject_search_no_type",
        ),
        pytest.param(
            "search_resource_endpoint",
            {
                "subject": ALICE,
                "action": {"name": "can_read"},
                "resource": {"type": "document"},
                "page": {"token": "x"},
            },
            id="bad_token",
        ),
        pytest.param("search_action_endpoint", {"subject": ALICE}, id="action_search_no_resource"),
    ],
)
def test_malformed_requests_are_400_with_echoed_id(
    pep: AuthzenClient, endpoint: str, body: dict[str, Any]
) -> None:
    with pytest.raises(AuthzenError) as info:
        pep.post(endpoint, body)
    assert info.value.status == 400
    assert info.value.request_id == pep.last_request_id


def test_raw_garbage_never_500s(live: tuple[LiveServer, str], http: httpx.Client) -> None:
    server, _ = live
    for path in ("/access/v1/evaluation", "/access/v1/evaluations", "/access/v1/search/subject"):
        for content, content_type in (
            (b"", "application/json"),
            (b"\xff\xfe", "application/json"),
            (b"{}", "text/xml"),
            (b"[1]", "application/json"),
        ):
            response = http.post(
                server.url + path,
                content=content,
                headers={"content-type": content_type, "X-Request-ID": "g-1"},
            )
            assert response.status_code == (415 if content_type == "text/xml" else 400), (
                path,
                content,
                response.text,
            )
            assert response.headers["x-request-id"] == "g-1"
