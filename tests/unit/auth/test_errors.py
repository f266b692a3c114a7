"""RFC 6750 challenges and the status of every auth error."""

from __future__ import annotations

import pytest

from permsvc.auth.errors import (
    ForbiddenError,
    InsufficientScopeError,
    InvalidTokenError,
    KeySetUnavailableError,
    MissingBearerTokenError,
    OidcConfigError,
    bearer_challenge,
)
from permsvc.auth.findings import TokenErrorReason


def test_invalid_token_challenge() -> None:
    err = InvalidTokenError(
        TokenErrorReason.EXPIRED, "the token expired 5 s ago", "get a new token"
    )
    assert err.status_code == 401
    assert err.description == str(err) == "the token expired 5 s ago. Get a new token"
    assert err.www_authenticate(realm="api") == (
        'Bearer realm="api", error="invalid_token", error_description="the token expired 5 s ago. Get a new token"'
    )


def test_description_is_made_header_safe() -> None:
    err = InvalidTokenError(TokenErrorReason.ISSUER_MISMATCH, 'issuer "x\\y" \u00e9\r\n')
    header = err.www_authenticate() or ""
    description = header.split('error_description="', 1)[1][:-1]
    assert description == "issuer 'x/y' ???"
    assert all(0x20 <= ord(c) <= 0x7E and c not in '"\\' for c in description)


@pytest.mark.parametrize(
    ("err", "status", "challenge"),
    [
        pytest.param(MissingBearerTokenError("x"), 401, 'Bearer realm="permsvc"', id="missing"),
        pytest.param(ForbiddenError("x"), 403, None, id="forbidden"),
        pytest.param(KeySetUnavailableError("x"), 503, None, id="keys_unavailable"),
        pytest.param(OidcConfigError("x"), 500, None, id="config"),
        pytest.param(
            InsufficientScopeError(("a", "b"), frozenset({"a"})),
            403,
            'Bearer realm="permsvc", error="insufficient_scope", error_description="the token lacks the '
            "scope(s) b; request a token with scope='a b' (or grant the permission(s) in your identity "
            'provider)", scope="a b"',
            id="insufficient_scope",
        ),
    ],
)
def test_status_and_challenge(err: Exception, status: int, challenge: str | None) -> None:
    assert err.status_code == status  # type: ignore[attr-defined]
    assert err.www_authenticate() == challenge  # type: ignore[attr-defined]


def test_bearer_challenge_with_scope() -> None:
    assert bearer_challenge(error="insufficient_scope", scope="read") == (
        'Bearer realm="permsvc", error="insufficient_scope", scope="read"'
    )
