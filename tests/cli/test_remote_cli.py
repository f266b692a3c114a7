"""The remote CLI against a live ``permsvc serve`` (SQLite and PostgreSQL): every command, its
``--json`` output and its exit statuses. Commands run in-process through ``main`` (the requests
are real HTTP to the server process); the environment is cleared of ``PERMSVC_*`` first."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from permsvc.cli.main import main
from tests.api.live import free_port
from tests.cli.remote_server import BACKENDS, RemoteServer, remote_server
from tests.pg import postgres_url  # noqa: F401 - fixture

pytestmark = pytest.mark.timeout(180)

MODEL = """\
model
  schema 1.1

type user

type group
  relations
    define member: [user]

type document
  relations
    define owner: [user]
    define viewer: [user, group#member, user with in_hours] or owner

condition in_hours(hour: int) {
  hour >= 9 && hour < 17
}
"""

NARROWER = MODEL.split("\ncondition")[0].replace(", group#member, user with in_hours]", "]")
"""The model without group members and conditioned users as viewers (orphans such tuples)."""


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RemoteServer]:
    with remote_server(request, tmp_path_factory.mktemp(f"remote-cli-{request.param}")) as live:
        yield live


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("PERMSVC_"):
            monkeypatch.delenv(name)


class Cli:
    def __init__(self, server: RemoteServer, capsys: pytest.CaptureFixture[str]) -> None:
        self.server = server
        self.capsys = capsys
        self.store = ""

    def raw(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(list(args))
        out, err = self.capsys.readouterr()
        return code, out, err

    def __call__(
        self, *args: str, store: bool = True, key: str | None = None
    ) -> tuple[int, str, str]:
        extra = ["--url", self.server.url, "--api-key", key or self.server.admin_key]
        if store and self.store:
            extra += ["--store", self.store]
        return self.raw(*args, *extra)

    def json(self, *args: str, **kw: Any) -> Any:
        code, out, err = self(*args, "--json", **kw)
        assert code == 0, err
        return json.loads(out)

    def ok(self, *args: str, **kw: Any) -> str:
        code, out, err = self(*args, **kw)
        assert code == 0, err
        return out


@pytest.fixture
def cli(server: RemoteServer, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Cli:
    c = Cli(server, capsys)
    c.store = c.ok("store", "create", "cli-test", store=False).strip()
    model = tmp_path / "model.fga"
    model.write_text(MODEL)
    c.ok("model", "write", str(model))
    return c


def _keys(tuples: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(t["user"], t["relation"], t["object"]) for t in tuples}


# -- stores --------------------------------------------------------------------------------------


def test_store_create_list_get_delete(
    server: RemoteServer, capsys: pytest.CaptureFixture[str]
) -> None:
    c = Cli(server, capsys)
    code, out, err = c("store", "create", "alpha", store=False)
    assert code == 0 and "created store" in err
    store_id = out.strip()
    assert len(store_id) == 26
    created = c.json("store", "create", "beta", store=False)
    assert created["name"] == "beta"

    table = c.ok("store", "list", store=False)
    header, *rows = table.splitlines()
    assert header.split() == ["ID", "NAME", "CREATED", "UPDATED"]
    assert any(r.split()[:2] == [store_id, "alpha"] for r in rows)
    listed = c.json("store", "list", store=False)["stores"]
    assert {store_id, created["id"]} <= {s["id"] for s in listed}

    assert c.json("store", "get", store_id, store=False)["name"] == "alpha"
    c.store = store_id
    assert store_id in c.ok("store", "get")  # from --store

    code, _, err = c("store", "delete", store_id, store=False)
    assert code == 0 and "deleted store" in err
    code, _, err = c("store", "get", store_id, store=False)
    assert code == 4, err
    code, _, _ = c("store", "delete", store_id, store=False)
    assert code == 4


# -- models --------------------------------------------------------------------------------------


def test_model_write_get_list_diff(cli: Cli, tmp_path: Path) -> None:
    first = cli.json("model", "list")["authorization_models"]
    assert len(first) == 1
    dsl = cli.ok("model", "get")
    assert dsl.startswith(f"# model {first[0]['id']}\n")
    assert "define viewer: [user, group#member, user with in_hours] or owner" in dsl
    as_json = json.loads(cli.ok("model", "get", first[0]["id"], "--format", "json"))
    assert as_json["id"] == first[0]["id"]
    assert {t["type"] for t in as_json["type_definitions"]} == {"user", "group", "document"}

    # The same model as JSON, written again: a second model, listed first.
    model_json = tmp_path / "model.json"
    model_json.write_text(json.dumps(as_json))
    second = cli.ok("model", "write", str(model_json)).strip()
    listed = cli.json("model", "list")["authorization_models"]
    assert [m["id"] for m in listed] == [second, first[0]["id"]]
    table = cli.ok("model", "list").splitlines()
    assert table[0].split() == ["ID", "CREATED", "SCHEMA", "TYPES", "CONDITIONS"]
    assert table[1].split()[0] == second and table[1].split()[2:] == ["1.1", "3", "1"]

    # A narrowing change: the diff names the orphaned tuple, writing it is refused unless forced.
    cli.ok("tuple", "write", "group:eng#member", "viewer", "document:1")
    narrower = tmp_path / "narrow.fga"
    narrower.write_text(NARROWER)
    diff = cli.ok("model", "diff", str(narrower))
    assert "orphaned tuples: 1" in diff
    assert "group:eng#member viewer document:1" in diff
    assert "breaking" in diff
    diff_json = cli.json("model", "diff", str(narrower))
    assert diff_json["orphaned_count"] == 1 and diff_json["breaking"] is True
    code, out, err = cli("model", "write", str(narrower))
    assert code == 6, err
    assert "409 model_change_orphans_tuples" in err and "--force" in err
    assert "orphaned tuples: 1" in out
    assert len(cli.json("model", "list")["authorization_models"]) == 2
    forced = cli.json("model", "write", str(narrower), "--force")
    assert forced["diff"]["orphaned_count"] == 1
    assert (
        cli.json("model", "list")["authorization_models"][0]["id"]
        == forced["authorization_model_id"]
    )

    bad = tmp_path / "bad.fga"
    bad.write_text("model\n  schema 1.1\ntype document\n  relations\n    define viewer: [nobody]\n")
    code, _, err = cli("model", "write", str(bad))
    assert code == 6 and "nobody" in err
    code, _, err = cli("model", "write", str(tmp_path / "missing.fga"))
    assert code == 2 and "missing.fga" in err
    code, _, err = cli("model", "get", "01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert code == 4 and "authorization_model_not_found" in err


# -- tuples and queries --------------------------------------------------------------------------


def test_tuple_write_read_delete_and_queries(cli: Cli) -> None:
    code, _, err = cli("tuple", "write", "user:anne", "owner", "document:1")
    assert code == 0 and err.strip() == "wrote user:anne owner document:1"
    cli.ok("tuple", "write", "user:bob", "member", "group:eng")
    cli.ok("tuple", "write", "group:eng#member", "viewer", "document:2")
    written = cli.json(
        "tuple",
        "write",
        "user:carl",
        "viewer",
        "document:3",
        "--condition",
        "in_hours",
        "--condition-context",
        '{"hour": 3}',
    )
    assert written["written"][0]["condition"] == {"name": "in_hours", "context": {"hour": 3}}

    table = cli.ok("tuple", "read").splitlines()
    assert table[0].split() == ["USER", "RELATION", "OBJECT", "CONDITION", "TIMESTAMP"]
    assert len(table) == 5
    assert any(
        line.split()[:4] == ["user:carl", "viewer", "document:3", "in_hours"] for line in table
    )
    read = cli.json("tuple", "read", "--object", "document:1")["tuples"]
    assert [t["key"]["user"] for t in read] == ["user:anne"]
    assert len(cli.json("tuple", "read", "--limit", "2")["tuples"]) == 2

    # check: 0 allowed, 1 denied, in the fga order or as one tuple
    code, out, _ = cli("check", "user:anne", "viewer", "document:1")
    assert (code, out.strip()) == (0, "user:anne viewer document:1: allowed")
    code, out, _ = cli("check", "user:bob", "viewer", "document:1")
    assert (code, out.strip()) == (1, "user:bob viewer document:1: denied")
    assert cli("check", "document:2#viewer@user:bob")[0] == 0
    code, out, _ = cli("check", "user:anne", "viewer", "document:2", "--json")
    assert code == 1 and json.loads(out)["allowed"] is False
    assert cli("check", "user:carl", "viewer", "document:3")[0] == 1
    assert cli("check", "user:carl", "viewer", "document:3", "--context", '{"hour": 10}')[0] == 1
    assert (
        cli(
            "check", "user:dan", "viewer", "document:2", "--contextual", "group:eng#member@user:dan"
        )[0]
        == 0
    )

    assert cli.ok("list-objects", "user:bob", "viewer", "document").split() == ["document:2"]
    assert cli.json("list-objects", "user:anne", "viewer", "document") == {
        "objects": ["document:1"]
    }
    code, out, err = cli("list-objects", "user:zed", "viewer", "document")
    assert code == 0 and out == "" and "no document object" in err
    assert cli.ok(
        "list-objects",
        "user:dan",
        "viewer",
        "document",
        "--contextual-tuple",
        "user:dan member group:eng",
    ).split() == ["document:2"]
    assert cli.ok("list-users", "document:2", "viewer", "--user-filter", "user").split() == [
        "user:bob"
    ]
    assert cli.ok(
        "list-users", "document:2", "viewer", "--user-filter", "group#member"
    ).split() == ["group:eng#member"]
    users = cli.json("list-users", "document:1", "viewer", "--user-filter", "user")["users"]
    assert users == [{"object": {"type": "user", "id": "anne"}}]

    code, _, err = cli("tuple", "delete", "user:anne", "owner", "document:1")
    assert code == 0 and err.strip() == "deleted user:anne owner document:1"
    assert cli("check", "user:anne", "viewer", "document:1")[0] == 1

    # refused content: exit 6, with the server's code
    code, _, err = cli("tuple", "write", "user:anne", "nope", "document:1")
    assert code == 6 and err.startswith("permsvc: error: 400 ")
    code, _, err = cli("check", "user:anne", "nope", "document:1")
    assert code == 6
    code, _, err = cli("tuple", "write", "user:anne", "viewer")
    assert code == 2 and "USER RELATION OBJECT" in err


def test_import_every_format_and_export_every_format(cli: Cli, tmp_path: Path) -> None:
    tuples = [
        {"user": "user:anne", "relation": "owner", "object": "document:1"},
        {"user": "group:eng#member", "relation": "viewer", "object": "document:2"},
        {
            "user": "user:carl",
            "relation": "viewer",
            "object": "document:3",
            "condition": {"name": "in_hours", "context": {"hour": 10}},
        },
        {"user": "user:bob", "relation": "member", "object": "group:eng"},
    ]
    files = {
        "t.jsonl": "\n".join(json.dumps(t) for t in tuples) + "\n\n",
        "t.json": json.dumps(tuples),
        "t.yaml": yaml.safe_dump(tuples),
        "t.csv": (
            "user_type,user_id,user_relation,relation,object_type,object_id,condition_name,condition_context\n"
            "user,anne,,owner,document,1,,\n"
            "group,eng,member,viewer,document,2,,\n"
            'user,carl,,viewer,document,3,in_hours,"{""hour"":10}"\n'
            "user,bob,,member,group,eng,,\n"
        ),
    }
    expected = _keys(tuples)
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(text)
        store = cli.ok("store", "create", name, store=False).strip()
        cli.store = store
        model = tmp_path / "m.fga"
        model.write_text(MODEL)
        cli.ok("model", "write", str(model))
        result = cli.json("tuple", "import", str(path), "--batch-size", "3", "--no-progress")
        assert result["sent"] == 4 and result["stored"] == 4 and result["batches"] == 2, name
        read = cli.json("tuple", "read")["tuples"]
        assert _keys([t["key"] for t in read]) == expected, name
        conditioned = [t["key"] for t in read if t["key"]["user"] == "user:carl"]
        assert conditioned[0]["condition"] == {"name": "in_hours", "context": {"hour": 10}}, name

    # export in each format, then import each export into a fresh store: the same tuples
    for fmt in ("jsonl", "json", "yaml", "csv"):
        out_file = tmp_path / f"export.{fmt}"
        code, _, err = cli("tuple", "export", "--output", str(out_file))
        assert code == 0 and err.strip() == f"exported 4 tuples to {out_file}", err
        copy = cli.ok("store", "create", f"copy-{fmt}", store=False).strip()
        source = cli.store
        cli.store = copy
        cli.ok("model", "write", str(tmp_path / "m.fga"))
        cli.ok("tuple", "import", str(out_file), "--no-progress")
        assert _keys([t["key"] for t in cli.json("tuple", "read")["tuples"]]) == expected, fmt
        cli.store = source
    code, out, err = cli("tuple", "export", "--object", "document:1")
    assert code == 0 and [json.loads(line) for line in out.splitlines()] == [tuples[0]]

    # tuple write --file is an import; tuple delete --file deletes every tuple of the file
    cli.ok("tuple", "write", "--file", str(tmp_path / "t.jsonl"), "--no-progress")
    assert cli.json("tuple", "delete", "--file", str(tmp_path / "t.csv")) == {"deleted": 4}
    assert cli.json("tuple", "read")["tuples"] == []


def test_import_errors_name_the_record_and_the_checkpoint(cli: Cli, tmp_path: Path) -> None:
    lines = [
        json.dumps({"user": f"user:u{i}", "relation": "owner", "object": f"document:{i}"})
        for i in range(7)
    ]
    lines[5] = json.dumps({"user": "user:u5", "relation": "nope", "object": "document:5"})
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    code, _, err = cli("tuple", "import", str(path), "--batch-size", "2", "--no-progress")
    assert code == 6, err
    assert "record 6:" in err and "nope" in err
    assert "--resume-from 4" in err
    assert len(cli.json("tuple", "read")["tuples"]) == 4

    malformed = tmp_path / "malformed.jsonl"
    malformed.write_text(
        '{"user": "user:a", "relation": "owner", "object": "document:a"}\n{"user": 1}\n'
    )
    code, _, err = cli("tuple", "import", str(malformed), "--no-progress")
    assert code == 2 and "record 2 (line 2)" in err
    wrong_header = tmp_path / "wrong.csv"
    wrong_header.write_text("a,b,c\n1,2,3\n")
    code, _, err = cli("tuple", "import", str(wrong_header), "--no-progress")
    assert code == 2 and "invalid CSV header 'a'" in err
    code, _, err = cli("tuple", "import", str(tmp_path / "t.toml"), "--no-progress")
    assert code == 2


def test_progress_line_shows_rate_eta_and_checkpoint(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(
        "".join(
            json.dumps({"user": f"user:u{i}", "relation": "owner", "object": f"document:{i}"})
            + "\n"
            for i in range(50)
        )
    )
    code, _, err = cli("tuple", "import", str(path), "--batch-size", "10")
    assert code == 0, err
    progress = [line for line in err.splitlines() if line.startswith("import: ")]
    assert progress[0].startswith("import: 0/50 tuples (0%)")
    assert progress[-1].startswith("import: 50/50 tuples (100%)")
    assert (
        "tuples/s" in progress[-1]
        and "ETA 0:00" in progress[-1]
        and "checkpoint 50" in progress[-1]
    )
    assert err.splitlines()[-1].startswith("imported 50 tuples (50 new) from ")


# -- claims, keys, audit -------------------------------------------------------------------------


def test_claims_preview(cli: Cli) -> None:
    cli.ok("tuple", "write", "user:auth0|7", "viewer", "document:9")
    code, _, err = cli("claims", "preview", "auth0|7")
    assert code == 6 and "no claim spec" in err
    spec = {"claim": "https://example.com/perms", "relations": ["document#viewer"]}
    response = httpx.put(
        f"{cli.server.url}/v1/admin/stores/{cli.store}/claims-spec",
        json=spec,
        headers={"Authorization": f"Bearer {cli.server.admin_key}"},
    )
    assert response.status_code == 200, response.text
    out = cli.ok("claims", "preview", "auth0|7")
    name, _, value = out.strip().partition(": ")
    assert name == "https://example.com/perms"
    assert json.loads(value)["p"] == {"document#viewer": ["9"]}
    answer = cli.json("claims", "preview", "auth0|7")
    assert answer["truncated"] is False and answer["claims"][name]["p"] == {
        "document#viewer": ["9"]
    }


def test_keys_and_audit(cli: Cli) -> None:
    code, _, err = cli("key", "create", store=False)
    assert code == 2 and "--roles" in err
    code, _, err = cli("key", "create", "--roles", "check", "--scope", "check", store=False)
    assert code == 2
    code, out, err = cli("key", "create", "--scope", "check", "--name", "reader", store=False)
    assert code == 0 and "printed once" in err
    check_key = out.strip()
    assert check_key.startswith("psk_") and "\n" not in check_key
    created = cli.json("key", "create", "--scope", "admin", "--store", cli.store, store=False)
    assert created["info"]["store_id"] == cli.store and created["key"].startswith("psk_")
    key_id = check_key.split("_")[1]
    # roles, as the server takes them: several at once, limited to one store
    with_roles = cli.json(
        "key",
        "create",
        "--roles",
        "check,claims",
        "--store",
        cli.store,
        "--name",
        "feed",
        store=False,
    )
    assert with_roles["info"]["roles"] == ["check", "claims"], with_roles
    assert with_roles["info"]["store_id"] == cli.store and with_roles["key"].startswith("psk_")
    code, _, err = cli("key", "list", store=False, key=with_roles["key"])
    assert code == 3 and "403" in err

    listed = cli.json("key", "list", store=False)["keys"]
    assert {key_id, created["info"]["id"]} <= {k["id"] for k in listed}
    table = cli.ok("key", "list", store=False).splitlines()
    assert table[0].split() == ["ID", "ROLES", "STORE", "NAME", "CREATED", "REVOKED"]
    assert any(line.split()[:4] == [key_id, "check", "any", "reader"] for line in table)

    # a check key may not use the admin API: exit 3
    code, _, err = cli("key", "list", store=False, key=check_key)
    assert code == 3 and "403" in err
    # a key limited to another store may not touch this one's audit
    other = cli.ok("store", "create", "other", store=False).strip()
    code, _, err = cli("audit", "list", "--store", other, store=False, key=created["key"])
    assert code == 3, err

    revoked = cli.json("key", "revoke", key_id, store=False)
    assert revoked["id"] == key_id and revoked["revoked_at"]
    assert key_id not in {k["id"] for k in cli.json("key", "list", store=False)["keys"]}
    assert key_id in {k["id"] for k in cli.json("key", "list", "--all", store=False)["keys"]}
    code, _, err = cli("key", "list", store=False, key=check_key)
    assert code == 3 and "401" in err
    code, _, err = cli("key", "revoke", "nosuchkey0", store=False)
    assert code == 4, err

    entries = cli.json("audit", "list", "--action", "key_revoke", store=False)["entries"]
    assert entries[0]["detail"]["key_id"] == key_id
    mine = cli.json("audit", "list", "--store", cli.store, store=False)["entries"]
    assert {"store_create", "model_write"} <= {e["action"] for e in mine}
    table = cli.ok("audit", "list", "--store", cli.store, "--limit", "1", store=False).splitlines()
    assert table[0].split() == ["ID", "AT", "ACTOR", "ACTION", "STORE", "REVISION", "DETAIL"]
    assert len(table) == 2
    code, _, err = cli("audit", "list", "--since", "yesterday", store=False)
    assert code == 6 and "RFC 3339" in err


# -- configuration and exit statuses -------------------------------------------------------------


def test_environment_configures_the_server(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERMSVC_URL", cli.server.url)
    monkeypatch.setenv("PERMSVC_API_KEY", cli.server.admin_key)
    monkeypatch.setenv("PERMSVC_STORE", cli.store)
    cli.raw("tuple", "write", "user:anne", "owner", "document:1")
    assert cli.raw("check", "user:anne", "viewer", "document:1")[0] == 0
    assert cli.raw("store", "get")[1].split()[4] == cli.store


def test_exit_statuses(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = cli.raw("store", "list")
    assert code == 2 and "PERMSVC_URL" in err
    code, _, err = cli.raw(
        "tuple", "read", "--url", cli.server.url, "--api-key", cli.server.admin_key
    )
    assert code == 2 and "PERMSVC_STORE" in err
    code, _, err = cli("key", "list", store=False, key="psk_nosuchkey0_secret")
    assert code == 3 and "401" in err and "PERMSVC_API_KEY" in err
    code, _, err = cli.raw("key", "list", "--url", cli.server.url)
    assert code == 3
    code, _, err = cli.raw(
        "store", "list", "--url", f"http://127.0.0.1:{free_port()}", "--timeout", "2"
    )
    assert code == 5 and "cannot reach permsvc" in err
    code, _, err = cli.raw("store", "list", "--url", "ftp://example.com")
    assert code == 2
    code, _, _ = cli("store", "get", "01ARZ3NDEKTSV4RRFFQ69G5FAV", store=False)
    assert code == 4
    code, _, _ = cli.raw("store")
    assert code == 2

    # local or remote, never both
    code, _, err = cli(
        "check", "user:anne", "viewer", "document:1", "--database-url", cli.server.database
    )
    assert code == 2 and "not both" in err
    code, _, err = cli.raw(
        "check",
        "document:1#viewer@user:anne",
        "--store",
        cli.store,
        "--api-key",
        "k",
        "--data-dir",
        str(tmp_path),
    )
    assert code == 2 and "--api-key is for a server" in err
    monkeypatch.setenv("PERMSVC_URL", cli.server.url)
    monkeypatch.setenv("PERMSVC_DATABASE_URL", cli.server.database)
    code, _, err = cli.raw("check", "document:1#viewer@user:anne", "--store", cli.store)
    assert code == 2 and "both PERMSVC_URL and PERMSVC_DATABASE_URL" in err
    # an explicit option decides
    monkeypatch.setenv("PERMSVC_API_KEY", cli.server.admin_key)
    code, _, err = cli.raw(
        "check", "user:anne", "viewer", "document:1", "--store", cli.store, "--url", cli.server.url
    )
    assert code == 1, err
    code, out, err = cli.raw(
        "check",
        "document:1#viewer@user:anne",
        "--store",
        cli.store,
        "--database-url",
        cli.server.database,
    )
    assert code == 1 and "not allowed" in out, err


def test_import_from_stdin_and_resume_bounds(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = "".join(
        json.dumps({"user": f"user:u{i}", "relation": "owner", "object": f"document:{i}"}) + "\n"
        for i in range(3)
    )
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(lines.encode())))
    code, _, err = cli("tuple", "import", "-", "--resume-from", "1")
    assert code == 0, err
    assert "import: 3 tuples  " in err  # no total on stdin: no share, no ETA
    assert "resumed at record 1" in err
    assert {t["key"]["user"] for t in cli.json("tuple", "read")["tuples"]} == {"user:u1", "user:u2"}

    path = tmp_path / "three.jsonl"
    path.write_text(lines)
    code, _, err = cli("tuple", "import", str(path), "--resume-from", "4")
    assert code == 2 and "past the end" in err
    code, _, err = cli("tuple", "import", str(path), "--batch-size", "0")
    assert code == 2 and "--batch-size" in err


FGA = Path(sys.executable).with_name("fga")


@pytest.mark.fga
@pytest.mark.parametrize("fmt", ["jsonl", "json", "yaml", "csv"])
def test_openfga_cli_writes_our_exports(cli: Cli, tmp_path: Path, fmt: str) -> None:
    """Each export format is one the real ``fga tuple write --file`` reads: fga copies an export
    into another store, and the copy holds the same tuples (conditions included)."""
    cli.ok("tuple", "write", "user:anne", "owner", "document:1")
    cli.ok("tuple", "write", "group:eng#member", "viewer", "document:2")
    cli.ok(
        "tuple", "write", "user:carl", "viewer", "document:3",
        "--condition", "in_hours", "--condition-context", '{"hour": 10}',
    )  # fmt: skip
    exported = tmp_path / f"tuples.{fmt}"
    cli.ok("tuple", "export", "--output", str(exported))
    source = cli.json("tuple", "read")["tuples"]

    copy = cli.ok("store", "create", "fga-copy", store=False).strip()
    model = tmp_path / "m.fga"
    model.write_text(MODEL)
    cli.store = copy
    cli.ok("model", "write", str(model))
    written = subprocess.run(
        [str(FGA), "tuple", "write", "--file", str(exported), "--store-id", copy,
         "--api-url", cli.server.url, "--api-token", cli.server.admin_key],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert written.returncode == 0, written.stderr + written.stdout
    report = json.loads(written.stdout)
    assert (report["successful_count"], report["failed_count"]) == (3, 0)
    copied = cli.json("tuple", "read")["tuples"]

    def keys(rows: list[dict[str, Any]]) -> set[str]:
        return {json.dumps(r["key"], sort_keys=True) for r in rows}

    assert keys(copied) == keys(source) and len(copied) == 3
