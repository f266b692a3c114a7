"""No input crashes the validator or the diagnosis, and no altered token is accepted."""

from __future__ import annotations

import asyncio
import string

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from permsvc.auth.diagnose import explain
from permsvc.auth.errors import AuthError, InvalidTokenError
from permsvc.auth.jwks import StaticKeyProvider
from permsvc.auth.jwt import JwtAuthenticator
from tests.unit.auth.tokenkit import Keys, TokenFactory, b64, claims, settings

B64URL = string.ascii_letters + string.digits + "-_"
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_FAST = hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def authenticator(keys: Keys) -> JwtAuthenticator:
    return JwtAuthenticator(settings(), StaticKeyProvider(keys.jwks()), cache_size=0)


@pytest.fixture(scope="module")
def good_token(make_token: TokenFactory) -> str:
    return make_token()


def _authenticate(authenticator: JwtAuthenticator, token: str) -> None:
    asyncio.run(authenticator.authenticate(token))


@_FAST
@given(token=st.one_of(st.text(max_size=300), st.text(alphabet=B64URL + ".", max_size=300)))
def test_arbitrary_strings_are_rejected_cleanly(
    authenticator: JwtAuthenticator, token: str
) -> None:
    with pytest.raises(InvalidTokenError):
        _authenticate(authenticator, token)
    assert not explain(token, settings()).accepted


@_FAST
@given(data=st.data())
def test_any_single_character_change_is_rejected(
    authenticator: JwtAuthenticator, good_token: str, data: st.DataObject
) -> None:
    # The last character of a segment may carry unused base64 bits, so changing it can decode to
    # the same bytes; every other position changes the signed content or the signature.
    ends = {i - 1 for i, ch in enumerate(good_token) if ch == "."} | {len(good_token) - 1}
    positions = [i for i, ch in enumerate(good_token) if ch != "." and i not in ends]
    index = data.draw(st.sampled_from(positions))
    replacement = data.draw(st.sampled_from([c for c in B64URL if c != good_token[index]]))
    altered = good_token[:index] + replacement + good_token[index + 1 :]
    with pytest.raises(AuthError):
        _authenticate(authenticator, altered)


@_FAST
@given(
    header=st.dictionaries(st.sampled_from(["alg", "kid", "typ", "crit", "enc", "jku"]), JSON),
    payload=st.dictionaries(
        st.sampled_from(
            ["iss", "aud", "exp", "nbf", "iat", "sub", "scope", "permissions", "nonce"]
        ),
        JSON,
    ),
)
def test_hostile_json_never_crashes(
    authenticator: JwtAuthenticator, header: dict[str, object], payload: dict[str, object]
) -> None:
    for body in (payload, claims() | payload):
        token = f"{b64(header)}.{b64(body)}.{b64(b'x' * 256)}"
        with pytest.raises(AuthError):
            _authenticate(authenticator, token)
        assert not explain(token, settings()).accepted or "alg" in header
