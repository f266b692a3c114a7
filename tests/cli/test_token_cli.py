"""``permsvc token explain``: offline by default, exit 0 only for acceptable tokens."""

from __future__ import annotations

import io
import json
import socket

import pytest

from permsvc.cli.main import main
from tests.unit.auth.tokenkit import AUDIENCE, ISSUER, TokenFactory, b64, claims

JWE = f"{b64({'alg': 'dir', 'enc': 'A256GCM', 'iss': ISSUER})}..{b64(b'123456789012')}.{b64(b'c')}.{b64(b't')}"


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "PERMSVC_OIDC_ISSUER",
        "PERMSVC_OIDC_AUDIENCE",
        "PERMSVC_OIDC_ISSUER_FILE",
        "PERMSVC_OIDC_AUDIENCE_FILE",
    ):
        monkeypatch.delenv(name, raising=False)


def test_good_token_exits_0(make_token: TokenFactory, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "explain", make_token(), "--issuer", ISSUER, "--audience", AUDIENCE]) == 0
    out = capsys.readouterr().out
    assert "subject user:auth0|42" in out
    assert "verdict:   ACCEPTED if the signature is valid (use --verify)" in out


def test_jwe_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "explain", JWE, "--audience", AUDIENCE]) == 1
    out = capsys.readouterr().out
    assert "token:     encrypted JWT (JWE, 5 segments)" in out
    assert "Auth0 issues when the login asked for no audience" in out
    assert f"fix: request the token with audience={AUDIENCE}" in out
    assert "verdict:   REJECTED (401 invalid_token): encrypted_jwe" in out


def test_json_output_and_stdin(
    make_token: TokenFactory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(make_token(claims(iss=ISSUER.rstrip("/"))) + "\n"))
    assert main(["token", "explain", "-", "--issuer", ISSUER, "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert (
        result["accepted"] is False
        and result["form"] == "jws"
        and result["signature"] == "not_checked"
    )
    assert [f["code"] for f in result["findings"] if f["severity"] == "error"] == [
        "issuer_trailing_slash"
    ]


def test_environment_supplies_the_defaults(
    make_token: TokenFactory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PERMSVC_OIDC_ISSUER", ISSUER)
    monkeypatch.setenv("PERMSVC_OIDC_AUDIENCE", "https://another-api")
    assert main(["token", "explain", make_token()]) == 1
    assert "expected https://another-api" in capsys.readouterr().out
    assert main(["token", "explain", make_token(), "--audience", AUDIENCE]) == 0


def test_strict_flag(make_token: TokenFactory, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "explain", make_token(), "--strict"]) == 1
    assert "typ_not_at_jwt" in capsys.readouterr().out


def test_verify_needs_an_issuer(
    make_token: TokenFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "explain", make_token(), "--verify"]) == 1
    assert "--verify needs the issuer" in capsys.readouterr().err


def test_verify_with_unreachable_issuer_is_not_accepted(
    make_token: TokenFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    issuer = f"http://127.0.0.1:{port}/"
    token = make_token(claims(iss=issuer))
    args = ["token", "explain", token, "--issuer", issuer, "--audience", AUDIENCE, "--verify"]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "WARN  the signature was not checked" in out
    assert "verdict:   NOT VERIFIED" in out
