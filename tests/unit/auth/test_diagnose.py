"""Offline diagnosis: the same findings as the authenticator, all of them, with precise wording."""

from __future__ import annotations

import pytest

from permsvc.auth.checks import TokenPolicy
from permsvc.auth.diagnose import explain, explain_and_verify
from permsvc.auth.findings import Severity, TokenErrorReason
from permsvc.auth.jwks import StaticKeyProvider
from tests.unit.auth.tokenkit import AUDIENCE, ISSUER, Keys, TokenFactory, b64, claims, settings

NOW = 1_800_000_000


def _codes(diagnosis) -> list[str]:  # type: ignore[no-untyped-def]
    return [f.code for f in diagnosis.errors]


def test_auth0_no_audience_jwe_is_named_with_the_fix() -> None:
    header = {"alg": "dir", "enc": "A256GCM", "iss": "https://dev-abc.eu.auth0.com/"}
    token = f"{b64(header)}..{b64(b'123456789012')}.{b64(b'cipher')}.{b64(b'tag')}"
    diagnosis = explain(token, settings())
    assert (diagnosis.accepted, diagnosis.form) == (False, "jwe")
    [finding] = diagnosis.errors
    assert finding.code == TokenErrorReason.ENCRYPTED_JWE
    assert "Auth0 issues when the login asked for no audience" in finding.what
    assert "https://dev-abc.eu.auth0.com/userinfo" in finding.what
    assert f"audience={AUDIENCE}" in finding.fix
    assert "authorizationParams" in finding.fix
    assert diagnosis.header == header and diagnosis.claims is None


def test_jwe_without_settings_names_a_placeholder_audience() -> None:
    token = f"{b64({'alg': 'dir', 'enc': 'A256GCM'})}..a.b.c"
    [finding] = explain(token).errors
    assert "audience=<your API identifier>" in finding.fix


def test_expired_says_by_how_long(make_token: TokenFactory) -> None:
    token = make_token(claims(exp=NOW - 3 * 3600 - 20 * 60, iat=NOW - 86400))
    [finding] = explain(token, settings(), now=NOW).errors
    assert finding.code == TokenErrorReason.EXPIRED
    assert finding.what == "the token expired 3 h 20 min ago (exp 2027-01-15T04:40:00Z)"


def test_wrong_audience_says_expected_and_found(make_token: TokenFactory) -> None:
    [finding] = explain(make_token(claims(aud=["https://a", "https://b"])), settings()).errors
    assert finding.what == "the token is for audience https://a, https://b, expected https://my-api"


def test_all_errors_are_listed(make_token: TokenFactory) -> None:
    token = make_token(
        claims(iss="https://evil/", aud="https://other", exp=NOW - 10, iat=NOW - 100), typ="JWT"
    )
    diagnosis = explain(token, settings(strict=True), now=NOW)
    assert _codes(diagnosis) == [
        TokenErrorReason.TYP_NOT_AT_JWT,
        TokenErrorReason.ISSUER_MISMATCH,
        TokenErrorReason.AUDIENCE_MISMATCH,
        TokenErrorReason.EXPIRED,
        TokenErrorReason.CLAIM_MISSING,
        TokenErrorReason.CLAIM_MISSING,
    ]


def test_without_settings_issuer_and_audience_are_reported_not_checked(
    make_token: TokenFactory,
) -> None:
    diagnosis = explain(make_token())
    assert diagnosis.accepted and diagnosis.signature == "not_checked"
    infos = {f.code: f.what for f in diagnosis.findings if f.severity is Severity.INFO}
    assert infos["issuer"] == f"issued by {ISSUER} (not checked: no issuer configured)"
    assert infos["subject"] == "subject user:auth0|42 (user token, client spa-client)"
    assert infos["scopes"] == "scopes openid profile read:docs"


def test_partial_policy_checks_only_what_is_given(make_token: TokenFactory) -> None:
    diagnosis = explain(make_token(claims(aud="https://x")), TokenPolicy(issuer=ISSUER))
    assert diagnosis.accepted


def test_key_url_headers_are_flagged_as_ignored(make_token: TokenFactory) -> None:
    diagnosis = explain(make_token(jku="https://attacker.example/jwks"), settings())
    warnings = [f for f in diagnosis.findings if f.severity is Severity.WARNING]
    assert [w.code for w in warnings] == ["key_header_ignored"]


def test_malformed_token_is_diagnosed_not_raised() -> None:
    diagnosis = explain("abc.def", settings())
    assert diagnosis.form == "invalid" and _codes(diagnosis) == [TokenErrorReason.MALFORMED]


@pytest.mark.parametrize(
    ("key_name", "signature", "accepted"),
    [
        pytest.param("k1", "valid", True, id="genuine"),
        pytest.param("attacker", "invalid", False, id="forged"),
    ],
)
async def test_explain_and_verify_checks_the_signature(
    keys: Keys, make_token: TokenFactory, key_name: str, signature: str, accepted: bool
) -> None:
    token = make_token(key=getattr(keys, key_name))
    diagnosis = await explain_and_verify(token, settings(), StaticKeyProvider(keys.jwks()))
    assert (diagnosis.signature, diagnosis.accepted) == (signature, accepted)


async def test_signature_checked_even_when_expired(keys: Keys, make_token: TokenFactory) -> None:
    token = make_token(claims(exp=NOW - 60, iat=NOW - 600))
    diagnosis = await explain_and_verify(token, settings(), StaticKeyProvider(keys.jwks()), now=NOW)
    assert diagnosis.signature == "valid"
    assert _codes(diagnosis) == [TokenErrorReason.EXPIRED]


async def test_explain_and_verify_reports_unknown_kid(keys: Keys, make_token: TokenFactory) -> None:
    diagnosis = await explain_and_verify(
        make_token(kid="gone"), settings(), StaticKeyProvider(keys.jwks())
    )
    assert diagnosis.signature == "invalid"
    assert _codes(diagnosis) == [TokenErrorReason.KID_UNKNOWN]
