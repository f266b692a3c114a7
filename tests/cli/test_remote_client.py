"""The remote CLI's HTTP client and tuple-file reader without a server: status -> exit mapping,
retries of idempotent requests, the fga CSV format, and that no server code is imported."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from permsvc.cli.remote.client import Remote, RemoteError, UsageError
from permsvc.cli.remote.importer import Progress
from permsvc.cli.remote.tuples_io import TupleFile, csv_row


def _remote(handler: object) -> Remote:
    return Remote("http://permsvc.test", "psk_k_s", transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "body", "exit_code"),
    [
        (400, {"code": "validation_error", "message": "bad"}, 6),
        (409, {"code": "model_change_orphans_tuples", "message": "orphans"}, 6),
        (401, {"code": "unauthenticated", "message": "no"}, 3),
        (403, {"code": "forbidden", "message": "no"}, 3),
        (404, {"code": "not_found", "message": "gone"}, 4),
        (400, {"code": "store_id_not_found", "message": "gone"}, 4),
        (503, {"code": "unavailable", "message": "database down"}, 5),
        (500, None, 5),
    ],
)
def test_status_to_exit(status: int, body: object, exit_code: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer psk_k_s"
        return (
            httpx.Response(status, json=body)
            if body is not None
            else httpx.Response(status, text="oops")
        )

    with pytest.raises(RemoteError) as caught, _remote(handler) as remote:
        remote.request("GET", "/stores")
    assert caught.value.exit_code == exit_code
    assert caught.value.message.startswith(str(status))


def test_idempotent_requests_retry_unavailability_only() -> None:
    calls: list[str] = []
    waits: list[float] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request.content.decode())
        if len(calls) < 3:
            return httpx.Response(
                503, json={"code": "unavailable", "message": "down"}, headers={"Retry-After": "1"}
            )
        return httpx.Response(200, json={"imported": 1})

    with _remote(flaky) as remote:
        assert remote.request_retrying("POST", "/x", body={"a": 1}, sleep=waits.append) == {
            "imported": 1
        }
    assert calls == ['{"a":1}'] * 3 and waits == [0.5, 1.0]

    calls.clear()

    def refused(request: httpx.Request) -> httpx.Response:
        calls.append("x")
        return httpx.Response(400, json={"code": "validation_error", "message": "no"})

    with pytest.raises(RemoteError) as caught, _remote(refused) as remote:
        remote.request_retrying("POST", "/x", body={}, sleep=waits.append)
    assert caught.value.exit_code == 6 and calls == ["x"]

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(RemoteError) as caught, _remote(down) as remote:
        remote.request_retrying("GET", "/x", attempts=2, sleep=lambda _: None)
    assert (
        caught.value.exit_code == 5
        and "cannot reach permsvc at http://permsvc.test" in caught.value.message
    )


def test_fga_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "user_type,user_id,user_relation,relation,object_type,object_id,condition_name,condition_context\n"
        "user,anne,,viewer,doc,1,,\n"
        'group,eng,member,editor,doc,2,c,"{""k"":""v""}"\n'
        "user,*,,viewer,doc,3,,\n"
    )
    records = list(TupleFile(str(path)).records())
    assert records == [
        {"object": "doc:1", "relation": "viewer", "user": "user:anne"},
        {
            "object": "doc:2",
            "relation": "editor",
            "user": "group:eng#member",
            "condition": {"name": "c", "context": {"k": "v"}},
        },
        {"object": "doc:3", "relation": "viewer", "user": "user:*"},
    ]
    assert TupleFile(str(path)).count() == 3
    assert csv_row(records[1]) == ["group", "eng", "member", "editor", "doc", "2", "c", '{"k":"v"}']
    short = tmp_path / "short.csv"
    short.write_text("user_type,user_id,relation,object_type\nuser,a,viewer,doc\n")
    with pytest.raises(UsageError, match="misses object_id"):
        list(TupleFile(str(short)).records())


def test_json_shapes(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(
        json.dumps(
            {
                "tuples": [
                    {
                        "key": {"user": "user:a", "relation": "viewer", "object": "doc:1"},
                        "timestamp": "x",
                    },
                    {"tuple_key": {"user": "user:b", "relation": "viewer", "object": "doc:1"}},
                ]
            }
        )
    )
    assert [r["user"] for r in TupleFile(str(path)).records()] == ["user:a", "user:b"]
    with pytest.raises(UsageError, match="--format"):
        TupleFile(str(tmp_path / "t.txt"))


def test_remote_commands_import_no_server_code() -> None:
    code = (
        "import sys, permsvc.cli.remote, permsvc.cli.remote.importer;"
        "bad = sorted(m for m in sys.modules if m.startswith(('permsvc.engine', 'permsvc.store', "
        "'permsvc.commands', 'permsvc.api', 'permsvc.model', 'litestar', 'asyncpg')));"
        "print(bad)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([100.0, 100.0, 104.0, 104.0, 104.0])
    monkeypatch.setattr("permsvc.cli.remote.importer.time.monotonic", lambda: next(clock))
    screen = _Terminal()
    bar = Progress(1000, 200, stream=screen)
    bar.update(200, force=True)
    bar.update(600, force=True)
    bar.finish()
    frames = screen.getvalue().split("\r\x1b[2K")
    assert frames[1].startswith("[####....................] 200/1,000 tuples (20%)  0 tuples/s")
    # 400 tuples in 4 s since the start at 200: 100/s, 400 left: ETA 0:04
    assert (
        frames[2]
        == "[##############..........] 600/1,000 tuples (60%)  100 tuples/s  ETA 0:04  checkpoint 600\n"
    )


def test_database_commands_refuse_to_guess_a_database_when_a_server_is_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from permsvc.cli.main import main

    for name in ("PERMSVC_DATABASE_URL", "PERMSVC_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PERMSVC_URL", "https://authz.example.com")
    for argv in (["admin", "list-keys"], ["admin", "create-key", "--scope", "check"], ["migrate"]):
        assert main(argv) == 2
        assert "PERMSVC_URL is set" in capsys.readouterr().err
    assert not (tmp_path / ".permsvc").exists()
    # Naming the database settles it.
    assert main(["admin", "list-keys", "--data-dir", str(tmp_path / "db")]) == 0
    monkeypatch.setenv("PERMSVC_DATA_DIR", str(tmp_path / "db"))
    assert main(["admin", "list-keys"]) == 0
