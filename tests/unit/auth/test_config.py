"""OidcSettings: environment and *_FILE loading, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from permsvc.auth.config import OidcSettings
from permsvc.auth.errors import OidcConfigError

BASE = {
    "PERMSVC_OIDC_ISSUER": "https://t.auth0.com/",
    "PERMSVC_OIDC_AUDIENCE": "https://api, https://api2",
}


def test_unset_issuer_means_token_auth_off() -> None:
    assert OidcSettings.from_env({}) is None


def test_defaults() -> None:
    settings = OidcSettings.from_env(BASE)
    assert settings is not None
    assert settings.issuer == "https://t.auth0.com/"
    assert settings.audiences == ("https://api", "https://api2")
    assert settings.algorithms == ("RS256",)
    assert (settings.subject_type, settings.subject_claim, settings.admin_scope) == (
        "user",
        "sub",
        "permsvc:admin",
    )
    assert (settings.strict, settings.leeway_s, settings.jwks_url) == (False, 5, None)


def test_every_variable() -> None:
    env = BASE | {
        "PERMSVC_OIDC_JWKS_URL": "https://t.auth0.com/.well-known/jwks.json",
        "PERMSVC_OIDC_ALGORITHMS": "RS256,ES256",
        "PERMSVC_OIDC_STRICT": "true",
        "PERMSVC_OIDC_LEEWAY": "10",
        "PERMSVC_OIDC_REQUIRED_CLAIMS": "org_id",
        "PERMSVC_SUBJECT_TYPE": "employee",
        "PERMSVC_SUBJECT_CLAIM": "https://x/uid",
        "PERMSVC_ADMIN_SCOPE": "admin",
    }
    settings = OidcSettings.from_env(env)
    assert settings == OidcSettings(
        issuer="https://t.auth0.com/",
        audiences=("https://api", "https://api2"),
        jwks_url="https://t.auth0.com/.well-known/jwks.json",
        algorithms=("RS256", "ES256"),
        strict=True,
        leeway_s=10,
        required_claims=("org_id",),
        subject_type="employee",
        subject_claim="https://x/uid",
        admin_scope="admin",
    )


def test_file_equivalents(tmp_path: Path) -> None:
    (tmp_path / "issuer").write_text("https://t.auth0.com/\n")
    (tmp_path / "aud").write_text("https://api\n")
    settings = OidcSettings.from_env(
        {
            "PERMSVC_OIDC_ISSUER_FILE": str(tmp_path / "issuer"),
            "PERMSVC_OIDC_AUDIENCE_FILE": str(tmp_path / "aud"),
        }
    )
    assert (
        settings is not None
        and settings.issuer == "https://t.auth0.com/"
        and settings.audiences == ("https://api",)
    )


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        pytest.param(
            {"PERMSVC_OIDC_ISSUER": "https://t/"},
            "PERMSVC_OIDC_AUDIENCE is not",
            id="audience_missing",
        ),
        pytest.param(BASE | {"PERMSVC_OIDC_ISSUER_FILE": "/x"}, "only one", id="value_and_file"),
        pytest.param(
            {"PERMSVC_OIDC_ISSUER_FILE": "/nonexistent/issuer"}, "cannot read", id="unreadable_file"
        ),
        pytest.param(
            BASE | {"PERMSVC_OIDC_ISSUER": "t.auth0.com"}, "http(s) URL", id="issuer_not_url"
        ),
        pytest.param(
            BASE | {"PERMSVC_OIDC_JWKS_URL": "file:///jwks"}, "JWKS URL", id="jwks_not_http"
        ),
        pytest.param(
            BASE | {"PERMSVC_OIDC_AUDIENCE": " , "}, "at least one audience", id="audience_blank"
        ),
        pytest.param(BASE | {"PERMSVC_OIDC_ALGORITHMS": "HS256"}, "forgeable", id="hmac"),
        pytest.param(BASE | {"PERMSVC_OIDC_ALGORITHMS": "none"}, "unsigned", id="none"),
        pytest.param(
            BASE | {"PERMSVC_OIDC_ALGORITHMS": "RS999"}, "unknown algorithm", id="unknown_alg"
        ),
        pytest.param(
            BASE | {"PERMSVC_OIDC_STRICT": "maybe"}, "true or false", id="strict_not_bool"
        ),
        pytest.param(BASE | {"PERMSVC_OIDC_LEEWAY": "soon"}, "integer", id="leeway_not_int"),
        pytest.param(BASE | {"PERMSVC_OIDC_LEEWAY": "3600"}, "0..300", id="leeway_too_large"),
        pytest.param(
            BASE | {"PERMSVC_SUBJECT_TYPE": "user:x"}, "type name", id="subject_type_colon"
        ),
        pytest.param(
            BASE | {"PERMSVC_SUBJECT_CLAIM": ""}, "must not be empty", id="subject_claim_empty"
        ),
    ],
)
def test_invalid_configuration(env: dict[str, str], needle: str) -> None:
    with pytest.raises(OidcConfigError) as caught:
        OidcSettings.from_env(env)
    assert needle in str(caught.value)
