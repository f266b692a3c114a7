"""Real tokens from a real OpenID Provider through every validation path.

oidc-provider issues RFC 9068 access tokens (``typ: at+jwt``) with an Auth0-style issuer
(``http://127.0.0.1:<port>/``); the JWE-only resource imitates Auth0's no-audience token.
"""

from __future__ import annotations

import time

import pytest
from oidckit import API, JWE_RESOURCE, OidcProvider

from permsvc.auth.claims import TokenKind, token_kind_of
from permsvc.auth.config import OidcSettings
from permsvc.auth.diagnose import explain
from permsvc.auth.errors import InvalidTokenError
from permsvc.auth.findings import TokenErrorReason as R
from permsvc.auth.jwt import JwtAuthenticator
from permsvc.cli.main import main

# The first test of the session also pays for `npm install oidc-provider`.
pytestmark = pytest.mark.timeout(600)


def _settings(provider: OidcProvider, **overrides: object) -> OidcSettings:
    values: dict[str, object] = {"issuer": provider.issuer, "audiences": (API,)}
    values.update(overrides)
    return OidcSettings(**values)  # type: ignore[arg-type]


async def _reject(authenticator: JwtAuthenticator, token: str) -> InvalidTokenError:
    with pytest.raises(InvalidTokenError) as caught:
        await authenticator.authenticate(token)
    return caught.value


async def test_client_credentials_token_is_accepted(oidc_provider: OidcProvider) -> None:
    authenticator = JwtAuthenticator.from_settings(_settings(oidc_provider, strict=True))
    try:
        claims = await authenticator.authenticate(oidc_provider.client_credentials())
    finally:
        await authenticator.aclose()
    assert claims.subject == "m2m-client" and claims.client_id == "m2m-client"
    # RFC 9068's client-credentials profile (sub == client_id, no gty) is a machine token only for
    # listed applications: a user may be able to pick an application's id as their sub.
    assert claims.token_type is TokenKind.USER
    assert token_kind_of(claims.raw, client_ids=("m2m-client",)) is TokenKind.CLIENT
    assert claims.scopes == frozenset({"read:docs", "write:docs"})
    assert claims.issuer == oidc_provider.issuer and claims.audience == (API,)
    assert claims.token_id


@pytest.mark.parametrize("subject", ["auth0|42", "google-oauth2|1234", "alice"])
async def test_test_subject_grant_maps_to_a_user(oidc_provider: OidcProvider, subject: str) -> None:
    authenticator = JwtAuthenticator.from_settings(_settings(oidc_provider))
    try:
        claims = await authenticator.authenticate_header(
            f"Bearer {oidc_provider.user_token(subject)}"
        )
    finally:
        await authenticator.aclose()
    assert claims.subject_ref() == f"user:{subject}"
    assert claims.token_type is TokenKind.USER and claims.client_id == "web-client"
    assert claims.scopes == frozenset({"read:docs"})


async def test_authorization_code_access_token_accepted_and_id_token_rejected(
    oidc_provider: OidcProvider,
) -> None:
    response = oidc_provider.authorization_code("bob")
    authenticator = JwtAuthenticator.from_settings(_settings(oidc_provider))
    try:
        claims = await authenticator.authenticate(response["access_token"])
        err = await _reject(authenticator, response["id_token"])
    finally:
        await authenticator.aclose()
    assert claims.subject_ref() == "user:bob"
    assert err.reason is R.ID_TOKEN
    assert "not the id_token" in err.description


async def test_jwe_token_is_diagnosed(oidc_provider: OidcProvider) -> None:
    token = oidc_provider.user_token("auth0|42", scope="", resource=JWE_RESOURCE)
    assert token.count(".") == 4
    authenticator = JwtAuthenticator.from_settings(_settings(oidc_provider))
    try:
        err = await _reject(authenticator, token)
    finally:
        await authenticator.aclose()
    assert err.reason is R.ENCRYPTED_JWE
    assert "alg 'dir', enc 'A256GCM'" in err.description
    assert f"audience={API}" in err.description
    assert f"{oidc_provider.issuer}userinfo" in err.description


@pytest.mark.parametrize(
    ("overrides", "reason", "needle"),
    [
        pytest.param(
            {"audiences": ("https://other-api",)},
            R.AUDIENCE_MISMATCH,
            "for audience https://my-api, expected https://other-api",
            id="wrong_audience",
        ),
        pytest.param(
            {"algorithms": ("ES256",)},
            R.ALG_NOT_ALLOWED,
            "RS256, which is not allowed",
            id="wrong_algorithm",
        ),
        pytest.param(
            {"required_claims": ("org_id",)},
            R.CLAIM_MISSING,
            "'org_id'",
            id="required_claim_missing",
        ),
        pytest.param(
            {"subject_claim": "email"}, R.CLAIM_MISSING, "'email'", id="subject_claim_missing"
        ),
    ],
)
async def test_real_token_rejected_by_configuration(
    oidc_provider: OidcProvider, overrides: dict[str, object], reason: R, needle: str
) -> None:
    authenticator = JwtAuthenticator.from_settings(_settings(oidc_provider, **overrides))
    try:
        err = await _reject(authenticator, oidc_provider.user_token("auth0|42"))
    finally:
        await authenticator.aclose()
    assert err.reason is reason and needle in err.description


async def test_configured_issuer_without_trailing_slash(oidc_provider: OidcProvider) -> None:
    authenticator = JwtAuthenticator.from_settings(
        _settings(oidc_provider, issuer=oidc_provider.issuer.rstrip("/"))
    )
    try:
        err = await _reject(authenticator, oidc_provider.client_credentials())
    finally:
        await authenticator.aclose()
    assert err.reason is R.ISSUER_TRAILING_SLASH
    assert f"Set PERMSVC_OIDC_ISSUER to '{oidc_provider.issuer}'" in err.description


async def test_expired_real_token_says_by_how_long(oidc_provider: OidcProvider) -> None:
    token = oidc_provider.user_token("auth0|42")
    authenticator = JwtAuthenticator(
        _settings(oidc_provider),
        JwtAuthenticator.from_settings(_settings(oidc_provider)).keys,
        clock=lambda: time.time() + 300 + 3600,
    )
    try:
        err = await _reject(authenticator, token)
    finally:
        await authenticator.aclose()
    assert err.reason is R.EXPIRED
    assert "expired 1 h" in err.description


async def test_tampered_real_token_fails_signature(oidc_provider: OidcProvider) -> None:
    header, _, signature = oidc_provider.user_token("auth0|42").split(".")
    forged = oidc_provider.user_token("auth0|admin").split(".")[1]
    authenticator = JwtAuthenticator.from_settings(_settings(oidc_provider))
    try:
        err = await _reject(authenticator, f"{header}.{forged}.{signature}")
    finally:
        await authenticator.aclose()
    assert err.reason is R.SIGNATURE_INVALID


async def test_offline_explain_of_a_real_token(oidc_provider: OidcProvider) -> None:
    diagnosis = explain(oidc_provider.client_credentials(), _settings(oidc_provider, strict=True))
    assert (
        diagnosis.accepted and diagnosis.header is not None and diagnosis.header["typ"] == "at+jwt"
    )


def test_cli_verify_against_the_provider(
    oidc_provider: OidcProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    token = oidc_provider.user_token("auth0|42")
    args = [
        "token",
        "explain",
        token,
        "--issuer",
        oidc_provider.issuer,
        "--audience",
        API,
        "--verify",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert (
        "signature: valid" in out
        and "verdict:   ACCEPTED" in out
        and "subject user:auth0|42" in out
    )
    jwe = oidc_provider.user_token("auth0|42", scope="", resource=JWE_RESOURCE)
    assert (
        main(
            [
                "token",
                "explain",
                jwe,
                "--issuer",
                oidc_provider.issuer,
                "--audience",
                API,
                "--verify",
            ]
        )
        == 1
    )
    assert "fix: request the token with audience=https://my-api" in capsys.readouterr().out
