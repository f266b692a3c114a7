"""permsvc_client's sync and async clients against a fake permsvc (httpx.MockTransport): what goes
on the wire (credential, subject_token, store), typed answers, batching, paging, the claim
fallback, and the typed error for every way a call can fail."""

from __future__ import annotations

import json

import httpx
import pytest
from fake import SERVICE_KEY, FakePermsvc
from permsvc_client import (
    AsyncPermsvc,
    Check,
    CredentialError,
    InvalidRequestError,
    NotFoundError,
    Permsvc,
    TokenRejectedError,
    UnavailableError,
)

CLAIM = "https://permsvc.example.com/perms"


@pytest.fixture
def fake() -> FakePermsvc:
    return FakePermsvc(
        allowed={
            ("user:alice", "can_read", "document:a"),
            ("user:alice", "can_read", "document:b"),
            ("user:alice", "can_read", "document:c"),
            ("user:alice", "owner", "document:a"),
        }
    )


def client(fake: FakePermsvc, **kw: object) -> Permsvc:
    kw.setdefault("credential", SERVICE_KEY)
    return Permsvc("http://permsvc.test", transport=httpx.MockTransport(fake), **kw)  # type: ignore[arg-type]


def test_service_credential_forwards_the_users_token_as_subject_token(fake: FakePermsvc) -> None:
    with client(fake, store_id="01STORE") as c:
        result = c.check("can_read", "document:a", subject_token="alice-token")
    assert result.allowed and bool(result) and result.source == "check"
    assert (result.user, result.revision, result.consistency_token) == ("user:alice", 7, "v1.tok7")
    (request,) = fake.requests
    assert request.headers["authorization"] == f"Bearer {SERVICE_KEY}"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "relation": "can_read",
        "object": "document:a",
        "store_id": "01STORE",
        "subject_token": "alice-token",
    }


def test_without_a_credential_the_users_token_is_the_bearer(fake: FakePermsvc) -> None:
    with client(fake, credential=None) as c:
        assert not c.check("can_read", "document:z", subject_token="alice-token")
    (request,) = fake.requests
    assert request.headers["authorization"] == "Bearer alice-token"
    assert "subject_token" not in json.loads(request.content)


def test_named_user_and_per_call_options(fake: FakePermsvc) -> None:
    with client(fake) as c:
        c.check(
            "can_read",
            "document:a",
            user="user:alice",
            store_id="01OTHER",
            consistency_token="v1.x",
            context={"ip": "10.0.0.1"},
            contextual_tuples=[
                {"user": "user:alice", "relation": "viewer", "object": "document:q"}
            ],
        )
    body = fake.bodies()[0]
    assert (
        body["user"] == "user:alice"
        and body["store_id"] == "01OTHER"
        and body["consistency_token"] == "v1.x"
    )
    assert body["context"] == {"ip": "10.0.0.1"} and len(body["contextual_tuples"]) == 1


def test_credential_callable_is_asked_per_request(fake: FakePermsvc) -> None:
    calls = []

    def credential() -> str:
        calls.append(1)
        return SERVICE_KEY

    with client(fake, credential=credential) as c:
        c.check("can_read", "document:a", subject_token="alice-token")
        c.check("can_read", "document:a", subject_token="alice-token")
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("kwargs", "credential", "words"),
    [
        ({}, SERVICE_KEY, "name the user"),
        ({}, None, "nothing to authenticate with"),
        ({"user": "user:alice"}, None, "needs a service credential"),
        ({"user": "user:a", "subject_token": "t"}, SERVICE_KEY, "not both"),
        ({"subject_token": "Bearer abc"}, SERVICE_KEY, "strip the 'Bearer '"),
        ({"subject_token": ""}, SERVICE_KEY, "non-empty"),
    ],
)
def test_questions_without_a_clear_user_are_refused_before_sending(
    fake: FakePermsvc, kwargs: dict[str, str], credential: str | None, words: str
) -> None:
    with client(fake, credential=credential) as c, pytest.raises(ValueError, match=words):
        c.check("can_read", "document:a", **kwargs)
    assert fake.requests == []


def test_batch_check_splits_at_fifty_and_keeps_order(fake: FakePermsvc) -> None:
    objects = [f"document:{i}" for i in range(120)] + ["document:b"]
    with client(fake) as c:
        result = c.batch_check([("can_read", o) for o in objects], subject_token="alice-token")
    assert fake.paths() == ["/v1/check/batch"] * 3
    assert [len(b["checks"]) for b in fake.bodies()] == [50, 50, 21]
    assert [item.correlation_id for item in result.results] == [str(i) for i in range(121)]
    assert result.allowed() == [False] * 120 + [True]
    assert result.revision == 6  # the oldest revision that answered
    assert not result.all_allowed


def test_filter_allowed_is_one_batch(fake: FakePermsvc) -> None:
    with client(fake) as c:
        kept = c.filter_allowed(
            "can_read", ["document:c", "document:x", "document:a"], subject_token="alice-token"
        )
        assert c.filter_allowed("can_read", [], subject_token="alice-token") == []
    assert kept == ["document:c", "document:a"] and fake.paths() == ["/v1/check/batch"]


def test_batch_item_errors_are_typed(fake: FakePermsvc) -> None:
    with client(fake) as c:
        result = c.batch_check(
            [Check("nope", "document:a"), Check("can_read", "document:a", correlation_id="x")],
            subject_token="alice-token",
        )
    assert (
        result.results[0].error is not None and result.results[0].error.code == "relation_not_found"
    )
    assert result.results[1].correlation_id == "x" and result.allowed() == [False, True]
    with pytest.raises(ValueError, match="at least one"):
        client(fake).batch_check([], subject_token="alice-token")


def test_list_objects_pages_and_iterates(fake: FakePermsvc) -> None:
    with client(fake) as c:
        page = c.list_objects("document", "can_read", subject_token="alice-token", page_size=2)
        assert page.objects == ["document:a", "document:b"] and page.continuation_token == "2"
        assert list(c.iter_objects("document", "can_read", subject_token="alice-token")) == [
            "document:a",
            "document:b",
            "document:c",
        ]
        relations = c.list_relations("document:a", subject_token="alice-token")
    assert relations.relations == ["can_read", "owner"]
    assert fake.bodies()[0]["page_size"] == 2


def test_claims_grants_and_revokes_use_the_service_credential(fake: FakePermsvc) -> None:
    with client(fake, store_id="01STORE") as c:
        claims = c.claims("auth0|alice", audience="https://my-api")
        change = c.grant([{"user": "user:bob", "relation": "can_read", "object": "document:a"}])
        assert c.check("can_read", "document:a", subject_token="bob-token").allowed
        c.revoke([{"user": "user:bob", "relation": "can_read", "object": "document:a"}])
        assert not c.check("can_read", "document:a", subject_token="bob-token").allowed
    assert claims.claims[CLAIM]["rev"] == 3 and not claims.truncated
    assert (change.changed, change.consistency_token) == (1, "v1.tok9")
    assert fake.bodies()[0] == {
        "user_id": "auth0|alice",
        "audience": "https://my-api",
        "store_id": "01STORE",
    }
    with client(fake, credential=None) as c, pytest.raises(ValueError, match="service credential"):
        c.grant([{"user": "user:bob", "relation": "can_read", "object": "document:a"}])


def test_read_claim_answers_locally_when_the_summary_covers_it(fake: FakePermsvc) -> None:
    claims = {
        "sub": "alice",
        CLAIM: {"v": 1, "rev": 9, "o": False, "p": {"document#can_read": ["a"]}},
    }
    with client(fake) as c:
        yes = c.read_claim(
            claims, "can_read", "document:a", claim_name=CLAIM, subject_token="alice-token"
        )
        no = c.read_claim(
            claims, "can_read", "document:b", claim_name=CLAIM, subject_token="alice-token"
        )
    assert (yes.allowed, yes.source, yes.revision) == (True, "claim", 9)
    assert (no.allowed, no.source) == (False, "claim")
    assert fake.requests == []


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"sub": "alice"}, "missing"),
        ({CLAIM: {"v": 1, "rev": 2, "o": False, "p": {"document#can_read": []}}}, "stale"),
        ({CLAIM: {"v": 1, "rev": 9, "o": True, "d": ["document#can_read"], "p": {}}}, "overflowed"),
        (
            {CLAIM: {"v": 2, "rev": 9, "o": False, "p": {"document#can_read": []}}},
            "unknown version",
        ),
        ({CLAIM: {"v": 1, "rev": 9, "o": False, "p": {"document#can_read": "a"}}}, "malformed"),
    ],
)
def test_read_claim_falls_back_to_check(
    fake: FakePermsvc, claims: dict[str, object], why: str
) -> None:
    with client(fake) as c:
        result = c.read_claim(
            claims,
            "can_read",
            "document:b",
            claim_name=CLAIM,
            subject_token="alice-token",
            min_revision=5,
        )
    assert (result.allowed, result.source) == (True, "check"), why
    assert fake.paths() == ["/v1/check"]


def _expect(
    fake: FakePermsvc,
    kind: type[Exception],
    *,
    credential: str | None = SERVICE_KEY,
    token: str = "alice-token",
    relation: str = "can_read",
) -> Exception:
    with client(fake, credential=credential) as c, pytest.raises(kind) as info:
        c.check(relation, "document:a", subject_token=token)
    return info.value


def test_the_users_token_refused_is_a_token_error_carrying_the_diagnosis(fake: FakePermsvc) -> None:
    via_service = _expect(fake, TokenRejectedError, token="jwe-token")
    assert "audience=https://my-api" in str(via_service) and via_service.status == 400
    assert via_service.message.startswith(
        "the token is encrypted"
    )  # not about a field the caller never saw
    direct = _expect(fake, TokenRejectedError, credential=None, token="jwe-token")
    assert "JWE" in direct.message


def test_this_services_credential_refused_is_a_credential_error(fake: FakePermsvc) -> None:
    err = _expect(fake, CredentialError, credential="psk_nope")
    assert "this service's credential was refused" in str(err) and "PERMSVC_API_KEY" in str(err)
    unconfigured = _expect(fake, CredentialError, token="no-oidc")
    assert unconfigured.status == 400 and "PERMSVC_OIDC_ISSUER" in unconfigured.hint
    # a token permsvc does not know (401 naming subject_token) is still the user's problem
    assert _expect(fake, TokenRejectedError, token="forged").status == 401
    fake.mode = "forbidden"
    assert "limited to store" in str(_expect(fake, CredentialError))


def test_bad_questions_and_missing_stores(fake: FakePermsvc) -> None:
    err = _expect(fake, InvalidRequestError, relation="nope")
    assert err.code == "relation_not_found" and "authorization model" in str(err)
    missing = httpx.MockTransport(
        lambda r: httpx.Response(
            404, json={"code": "store_id_not_found", "message": "store 01X not found"}
        )
    )
    with (
        Permsvc("http://permsvc.test", credential=SERVICE_KEY, transport=missing) as c,
        pytest.raises(NotFoundError, match="PERMSVC_STORE"),
    ):
        c.check("can_read", "document:a", subject_token="t")


@pytest.mark.parametrize(
    ("mode", "words", "retry_after"),
    [
        ("down", "unreachable", None),
        ("slow", "did not answer", None),
        ("503", "database unavailable", 3.0),
        ("500", "Internal", None),
        ("garbage", "unreadable body", None),
    ],
)
def test_permsvc_failing_is_unavailable(
    fake: FakePermsvc, mode: str, words: str, retry_after: float | None
) -> None:
    fake.mode = mode
    err = _expect(fake, UnavailableError)
    assert words in str(err) and err.retry_after == retry_after


def test_base_url_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="http"):
        Permsvc("localhost:8080")
    monkeypatch.delenv("PERMSVC_URL", raising=False)
    with pytest.raises(ValueError, match="PERMSVC_URL"):
        Permsvc.from_env()
    monkeypatch.setenv("PERMSVC_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("PERMSVC_API_KEY", "psk_a_b")
    monkeypatch.setenv("PERMSVC_STORE", "01S")
    with Permsvc.from_env() as c:
        assert (c.base_url, c.store_id) == ("http://127.0.0.1:9", "01S")


async def test_async_client_speaks_the_same_protocol(fake: FakePermsvc) -> None:
    async with AsyncPermsvc(
        "http://permsvc.test", credential=SERVICE_KEY, transport=httpx.MockTransport(fake)
    ) as c:
        assert (await c.check("can_read", "document:a", subject_token="alice-token")).allowed
        batch = await c.batch_check(
            [("can_read", "document:a"), ("owner", "document:b")], subject_token="alice-token"
        )
        assert batch.allowed() == [True, False]
        assert await c.filter_allowed(
            "can_read", ["document:x", "document:b"], subject_token="alice-token"
        ) == ["document:b"]
        assert await c.all_objects("document", "can_read", subject_token="alice-token") == [
            "document:a",
            "document:b",
            "document:c",
        ]
        assert (await c.list_relations("document:a", subject_token="alice-token")).relations == [
            "can_read",
            "owner",
        ]
        claims = {CLAIM: {"v": 1, "rev": 9, "o": False, "p": {"document#owner": ["a"]}}}
        assert (
            await c.read_claim(
                claims, "owner", "document:a", claim_name=CLAIM, subject_token="alice-token"
            )
        ).source == "claim"
        assert (await c.claims("auth0|alice")).revision == 3
        assert (
            await c.grant([{"user": "user:bob", "relation": "owner", "object": "document:z"}])
        ).changed == 1
        assert (
            await c.revoke([{"user": "user:bob", "relation": "owner", "object": "document:z"}])
        ).changed == 1
        fake.mode = "down"
        with pytest.raises(UnavailableError):
            await c.check("can_read", "document:a", subject_token="alice-token")
