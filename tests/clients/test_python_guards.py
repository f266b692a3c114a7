"""The framework guards (FastAPI, Starlette, Flask, Litestar) against a fake permsvc: allowed,
denied (403), no or refused token (401 with permsvc's diagnosis), permsvc down (503, fail
closed), several checks of one request in one batch, and the token's summary answering first."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fake import JWE_MESSAGE, SERVICE_KEY, FakePermsvc
from permsvc_client import AsyncPermsvc, Permsvc

CLAIM = "https://permsvc.example.com/perms"
ALICE = {"Authorization": "Bearer alice-token"}


@pytest.fixture
def fake() -> FakePermsvc:
    return FakePermsvc(
        allowed={
            ("user:alice", "can_read", "document:a"),
            ("user:alice", "can_read", "folder:f"),
            ("user:bob", "can_read", "document:b"),
        }
    )


def async_client(fake: FakePermsvc) -> AsyncPermsvc:
    return AsyncPermsvc(
        "http://permsvc.test", credential=SERVICE_KEY, transport=httpx.MockTransport(fake)
    )


# ---------------------------------------------------------------- FastAPI


def fastapi_app(fake: FakePermsvc, **guard_kw: Any) -> Any:
    from fastapi import Depends, FastAPI
    from fastapi.testclient import TestClient
    from permsvc_client.fastapi import Decision, Guards

    permsvc = Guards(async_client(fake), **guard_kw)
    app = FastAPI()

    @app.get("/documents/{doc_id}")
    async def read(
        doc_id: str, ok: Decision = Depends(permsvc.require("can_read", "document:{doc_id}"))
    ) -> dict[str, Any]:
        return {"doc": doc_id, "revision": ok.revision, "sources": [r.source for r in ok.results]}

    @app.get("/folders/{folder}/documents/{doc_id}")
    async def nested(
        doc_id: str,
        ok: Decision = Depends(
            permsvc.require("can_read", "document:{doc_id}", ("can_read", "folder:{folder}"))
        ),
    ) -> dict[str, Any]:
        return {"doc": doc_id, "checks": len(ok.results)}

    @app.get("/by-query")
    async def by_query(
        ok: Decision = Depends(
            permsvc.require("can_read", lambda r: f"document:{r.query_params['d']}")
        ),
    ) -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/typo/{doc_id}", dependencies=[Depends(permsvc.require("can_read", "document:{id}"))])
    async def typo(doc_id: str) -> dict[str, str]:
        return {}

    @app.get("/mine")
    async def mine(token: str = Depends(permsvc.token)) -> list[str]:
        with permsvc.errors():
            return await permsvc.client.all_objects("document", "can_read", subject_token=token)

    return TestClient(app, raise_server_exceptions=False)


def test_fastapi_allows_denies_and_explains(fake: FakePermsvc) -> None:
    http = fastapi_app(fake)
    ok = http.get("/documents/a", headers=ALICE)
    assert ok.status_code == 200 and ok.json() == {"doc": "a", "revision": 7, "sources": ["check"]}
    assert fake.bodies()[-1]["subject_token"] == "alice-token"

    denied = http.get("/documents/b", headers=ALICE)
    assert denied.status_code == 403 and "can_read on document:b" in denied.json()["detail"]

    missing = http.get("/documents/a")
    assert (
        missing.status_code == 401 and missing.headers["www-authenticate"] == 'Bearer realm="api"'
    )
    basic = http.get("/documents/a", headers={"Authorization": "Basic YTpi"})
    assert basic.status_code == 401 and "Bearer <access token>" in basic.json()["detail"]

    jwe = http.get("/documents/a", headers={"Authorization": "Bearer jwe-token"})
    assert jwe.status_code == 401 and "audience=https://my-api" in jwe.json()["detail"]
    assert (
        'error="invalid_token"' in jwe.headers["www-authenticate"]
        and "JWE" in jwe.headers["www-authenticate"]
    )

    assert http.get("/by-query?d=a", headers=ALICE).status_code == 200
    assert http.get("/mine", headers=ALICE).json() == ["document:a"]
    assert (
        http.get("/typo/a", headers=ALICE).status_code == 500
    )  # a template naming no path parameter is a bug


def test_fastapi_batches_the_checks_of_one_request(fake: FakePermsvc) -> None:
    http = fastapi_app(fake)
    assert http.get("/folders/f/documents/a", headers=ALICE).json() == {"doc": "a", "checks": 2}
    assert fake.paths() == ["/v1/check/batch"]
    assert http.get("/folders/g/documents/a", headers=ALICE).status_code == 403


@pytest.mark.parametrize("mode", ["down", "slow", "503", "500", "forbidden"])
def test_fastapi_fails_closed(fake: FakePermsvc, mode: str) -> None:
    http = fastapi_app(fake)
    fake.mode = mode
    response = http.get("/documents/a", headers=ALICE)
    assert response.status_code == 503 and response.headers["retry-after"]
    assert "permission service" in response.json()["detail"]


def test_fastapi_summary_in_the_token_answers_first(fake: FakePermsvc) -> None:
    claims = {
        CLAIM: {
            "v": 1,
            "rev": 4,
            "o": True,
            "d": ["folder#can_read"],
            "p": {"document#can_read": ["a"]},
        }
    }
    http = fastapi_app(fake, claim_name=CLAIM, token_claims=lambda request: claims)
    assert http.get("/documents/a", headers=ALICE).json()["sources"] == ["claim"]
    assert fake.requests == []
    assert http.get("/documents/z", headers=ALICE).status_code == 403 and fake.requests == []
    # folder#can_read was dropped for size: that one check goes to permsvc, the covered one does not
    assert http.get("/folders/f/documents/a", headers=ALICE).status_code == 200
    assert fake.paths() == ["/v1/check"] and fake.bodies()[0]["object"] == "folder:f"


# ---------------------------------------------------------------- Starlette


def test_starlette_enforce_in_an_endpoint(fake: FakePermsvc) -> None:
    from permsvc_client.starlette import Guards
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    permsvc = Guards(async_client(fake))

    async def read(request: Request) -> JSONResponse:
        await permsvc.enforce(request, "can_read", "document:{doc_id}")
        return JSONResponse({"doc": request.path_params["doc_id"]})

    http = TestClient(Starlette(routes=[Route("/documents/{doc_id}", read)]))
    assert http.get("/documents/a", headers=ALICE).json() == {"doc": "a"}
    assert http.get("/documents/b", headers=ALICE).status_code == 403
    response = http.get("/documents/a", headers={"Authorization": "Bearer jwe-token"})
    assert response.status_code == 401 and "audience" in response.text


# ---------------------------------------------------------------- Flask


@pytest.fixture
def flask_http(fake: FakePermsvc) -> Iterator[Any]:
    from flask import Flask, g
    from permsvc_client.flask import Guards

    client = Permsvc(
        "http://permsvc.test", credential=SERVICE_KEY, transport=httpx.MockTransport(fake)
    )
    permsvc = Guards(client)
    app = Flask(__name__)

    @app.get("/documents/<doc_id>")
    @permsvc.require("can_read", "document:{doc_id}")
    def read(doc_id: str) -> dict[str, Any]:
        return {"doc": doc_id, "revision": g.permsvc.revision}

    @app.get("/folders/<folder>/documents/<doc_id>")
    @permsvc.require("can_read", "document:{doc_id}", ("can_read", "folder:{folder}"))
    def nested(folder: str, doc_id: str) -> dict[str, Any]:
        return {"checks": len(g.permsvc.results)}

    @app.get("/mine")
    def mine() -> Any:
        return list(client.iter_objects("document", "can_read", subject_token=permsvc.token()))

    yield app.test_client()
    client.close()


def test_flask_decorator(fake: FakePermsvc, flask_http: Any) -> None:
    assert flask_http.get("/documents/a", headers=ALICE).get_json() == {"doc": "a", "revision": 7}
    denied = flask_http.get("/documents/b", headers=ALICE)
    assert denied.status_code == 403 and denied.get_json()["code"] == "forbidden"
    missing = flask_http.get("/documents/a")
    assert (
        missing.status_code == 401 and missing.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    )
    jwe = flask_http.get("/documents/a", headers={"Authorization": "Bearer jwe-token"})
    assert jwe.status_code == 401
    assert jwe.get_json() == {
        "code": "invalid_token",
        "message": JWE_MESSAGE.removeprefix("subject_token is not acceptable: "),
    }
    fake.requests.clear()
    assert flask_http.get("/folders/f/documents/a", headers=ALICE).get_json() == {"checks": 2}
    assert fake.paths() == ["/v1/check/batch"]
    assert flask_http.get("/mine", headers=ALICE).get_json() == ["document:a"]
    fake.mode = "down"
    down = flask_http.get("/documents/a", headers=ALICE)
    assert down.status_code == 503 and down.headers["Retry-After"] == "1"


# ---------------------------------------------------------------- Litestar


def litestar_http(fake: FakePermsvc, obj: Callable[..., Any] | str = "document:{doc_id}") -> Any:
    from litestar import Litestar, Request, get
    from litestar.testing import TestClient
    from permsvc_client.litestar import Guards

    permsvc = Guards(async_client(fake))

    @get("/documents/{doc_id:str}", guards=[permsvc.require("can_read", obj)])
    async def read(doc_id: str, request: Request[Any, Any, Any]) -> dict[str, Any]:
        return {"doc": doc_id, "checks": len(request.state.permsvc.results)}

    @get(
        "/folders/{folder:str}/documents/{doc_id:str}",
        guards=[permsvc.require("can_read", "document:{doc_id}", ("can_read", "folder:{folder}"))],
    )
    async def nested(folder: str, doc_id: str) -> dict[str, str]:
        return {"doc": doc_id}

    return TestClient(Litestar([read, nested]))


def test_litestar_guard(fake: FakePermsvc) -> None:
    with litestar_http(fake) as http:
        assert http.get("/documents/a", headers=ALICE).json() == {"doc": "a", "checks": 1}
        assert http.get("/documents/b", headers=ALICE).status_code == 403
        missing = http.get("/documents/a")
        assert (
            missing.status_code == 401
            and missing.headers["www-authenticate"] == 'Bearer realm="api"'
        )
        jwe = http.get("/documents/a", headers={"Authorization": "Bearer jwe-token"})
        assert jwe.status_code == 401 and "audience=https://my-api" in jwe.json()["detail"]
        fake.requests.clear()
        assert http.get("/folders/f/documents/a", headers=ALICE).status_code == 200
        assert fake.paths() == ["/v1/check/batch"]
        fake.mode = "503"
        down = http.get("/documents/a", headers=ALICE)
        assert down.status_code == 503 and down.headers["retry-after"] == "3"


def test_litestar_async_object_callable(fake: FakePermsvc) -> None:
    async def owner_doc(connection: Any) -> str:
        return f"document:{connection.path_params['doc_id']}"

    with litestar_http(fake, owner_doc) as http:
        assert http.get("/documents/a", headers=ALICE).status_code == 200
        assert http.get("/documents/b", headers=ALICE).status_code == 403


def test_requirements_are_checked_when_declared(fake: FakePermsvc) -> None:
    from permsvc_client.fastapi import Guards

    permsvc = Guards(async_client(fake))
    with pytest.raises(ValueError, match="type:id"):
        permsvc.require("can_read", "{doc_id}")
    with pytest.raises(ValueError, match="relation"):
        permsvc.require("", "document:{doc_id}")
    with pytest.raises(TypeError, match="callable"):
        permsvc.require("can_read", 42)  # type: ignore[arg-type]
