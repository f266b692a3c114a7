"""The bad-token battery: every kind of unacceptable token is rejected with its precise reason.

Each case asserts the rejection, the machine-readable reason and a piece of the description (the
part a developer needs to fix it). None may be accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from permsvc.auth.config import OidcSettings
from permsvc.auth.errors import InvalidTokenError
from permsvc.auth.findings import TokenErrorReason as R
from permsvc.auth.jwks import StaticKeyProvider
from permsvc.auth.jwt import JwtAuthenticator
from permsvc.core.refs import ControlCharacterError
from permsvc.model.compile import parse_dsl
from permsvc.model.tuple_validation import user_problem
from permsvc.model.typesystem import TypeSystem
from tests.unit.auth.tokenkit import (
    AUDIENCE,
    ISSUER,
    Keys,
    TokenFactory,
    b64,
    claims,
    compact,
    public_jwk,
    settings,
)

Build = Callable[[Keys, TokenFactory], str]


def _hs256(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{b64(header)}.{b64(payload)}".encode()
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{signing_input.decode()}.{b64(signature)}"


def _public_pem(keys: Keys) -> bytes:
    return keys.k1.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _jwe(header: dict[str, Any]) -> str:
    return f"{b64(header)}..{b64(b'iv-iv-iv-iv!')}.{b64(b'ciphertext' * 20)}.{b64(b'tag-tag-tag-tag!')}"


def _tampered(keys: Keys, make: TokenFactory) -> str:
    header, _, signature = make().split(".")
    return f"{header}.{b64(claims(sub='auth0|admin'))}.{signature}"


NOW = int(time.time())
"""Now, as the battery's time claims see it: refreshed before every test (the case builders read it
when they run), so ``nbf = NOW + 600`` is still in the future however long the suite has run."""


@pytest.fixture(autouse=True)
def _refresh_now() -> None:
    global NOW
    NOW = int(time.time())


STRICT = {"strict": True}

# (id, builder, expected reason, description substring, settings overrides)
CASES: list[tuple[str, Build, R, str, dict[str, Any]]] = [
    (
        "alg_none",
        lambda k, m: compact({"alg": "none", "typ": "JWT"}, claims()),
        R.ALG_NONE,
        "unsigned",
        {},
    ),
    (
        "alg_none_capitalized",
        lambda k, m: compact({"alg": "None"}, claims()),
        R.ALG_NONE,
        "'None'",
        {},
    ),
    (
        "alg_none_upper_with_signature",
        lambda k, m: compact({"alg": "NONE"}, claims(), b"sig"),
        R.ALG_NONE,
        "unsigned",
        {},
    ),
    (
        "hs256_signed_with_rsa_public_pem",
        lambda k, m: _hs256({"alg": "HS256", "kid": "k1"}, claims(), _public_pem(k)),
        R.ALG_HMAC,
        "HS256",
        {},
    ),
    (
        "hs256_with_jwks_kid",
        lambda k, m: _hs256({"alg": "HS256", "kid": "k2"}, claims(), b"secret"),
        R.ALG_HMAC,
        "public keys only",
        {},
    ),
    ("hs512", lambda k, m: _hs256({"alg": "HS512"}, claims(), b"secret"), R.ALG_HMAC, "HS512", {}),
    (
        "rs256_signed_with_wrong_key",
        lambda k, m: m(key=k.attacker),
        R.SIGNATURE_INVALID,
        "does not verify",
        {},
    ),
    ("payload_tampered_after_signing", _tampered, R.SIGNATURE_INVALID, "does not verify", {}),
    ("signature_truncated", lambda k, m: m()[:-8], R.SIGNATURE_INVALID, "signature", {}),
    (
        "es256_when_only_rsa_allowed",
        lambda k, m: m(key=k.e1, alg="ES256", kid="e1"),
        R.ALG_NOT_ALLOWED,
        "PERMSVC_OIDC_ALGORITHMS",
        {},
    ),
    (
        "rs384_not_allowed",
        lambda k, m: m(alg="RS384"),
        R.ALG_NOT_ALLOWED,
        "allowed: RS256, PS256",
        {},
    ),
    (
        "alg_missing",
        lambda k, m: compact({"typ": "JWT", "kid": "k1"}, claims(), b"x" * 64),
        R.ALG_NOT_ALLOWED,
        "no 'alg'",
        {},
    ),
    (
        "ps256_header_but_key_is_rs256_only",
        lambda k, m: m(alg="PS256"),
        R.ALG_KEY_MISMATCH,
        "RS256",
        {},
    ),
    ("kid_unknown", lambda k, m: m(kid="rotated-away"), R.KID_UNKNOWN, "'rotated-away'", {}),
    ("kid_missing_with_several_keys", lambda k, m: m(kid=None), R.KID_MISSING, "3 keys", {}),
    (
        "kid_not_a_string",
        lambda k, m: compact({"alg": "RS256", "kid": 7}, claims(), b"x" * 256),
        R.KID_UNKNOWN,
        "not a string",
        {},
    ),
    (
        "expired_an_hour_ago",
        lambda k, m: m(claims(exp=NOW - 3600, iat=NOW - 7200)),
        R.EXPIRED,
        "expired 1 h",
        {},
    ),
    ("expired_beyond_leeway", lambda k, m: m(claims(exp=NOW - 30)), R.EXPIRED, "s ago", {}),
    ("not_yet_valid", lambda k, m: m(claims(nbf=NOW + 600)), R.NOT_YET_VALID, "from now", {}),
    (
        "issued_in_the_future",
        lambda k, m: m(claims(iat=NOW + 3600)),
        R.ISSUED_IN_FUTURE,
        "in the future",
        {},
    ),
    (
        "wrong_issuer",
        lambda k, m: m(claims(iss="https://other.eu.auth0.com/")),
        R.ISSUER_MISMATCH,
        "expected 'https://tenant.example.auth0.com/'",
        {},
    ),
    (
        "issuer_missing_trailing_slash",
        lambda k, m: m(claims(iss=ISSUER.rstrip("/"))),
        R.ISSUER_TRAILING_SLASH,
        "trailing slash",
        {},
    ),
    (
        "configured_issuer_missing_trailing_slash",
        lambda k, m: m(),
        R.ISSUER_TRAILING_SLASH,
        "PERMSVC_OIDC_ISSUER to",
        {"issuer": ISSUER.rstrip("/")},
    ),
    ("issuer_missing", lambda k, m: m(claims(iss=None)), R.ISSUER_MISSING, "no 'iss'", {}),
    (
        "wrong_audience",
        lambda k, m: m(claims(aud="https://other-api")),
        R.AUDIENCE_MISMATCH,
        "for audience https://other-api, expected https://my-api",
        {},
    ),
    (
        "userinfo_only_audience",
        lambda k, m: m(claims(aud=f"{ISSUER}userinfo")),
        R.AUDIENCE_MISMATCH,
        "/userinfo",
        {},
    ),
    (
        "audience_missing",
        lambda k, m: m(claims(aud=None)),
        R.AUDIENCE_MISSING,
        "audience=https://my-api",
        {},
    ),
    ("audience_not_a_string", lambda k, m: m(claims(aud=42)), R.CLAIM_INVALID, "'aud'", {}),
    (
        "id_token_with_nonce",
        lambda k, m: m(claims(aud="spa-client", nonce="n-0S6", scope=None, sid="s1")),
        R.ID_TOKEN,
        "ID token",
        {},
    ),
    (
        "id_token_with_at_hash",
        lambda k, m: m(claims(aud="web-client", at_hash="x", scope=None, azp=None)),
        R.ID_TOKEN,
        "'at_hash'",
        {},
    ),
    (
        "id_token_without_markers",
        lambda k, m: m(claims(aud="spa-client", scope=None, email="a@b.c", azp=None)),
        R.ID_TOKEN,
        "not the id_token",
        {},
    ),
    (
        "jwe_auth0_no_audience",
        lambda k, m: _jwe({"alg": "dir", "enc": "A256GCM", "iss": ISSUER}),
        R.ENCRYPTED_JWE,
        "audience=https://my-api",
        {},
    ),
    (
        "jwe_nested_rsa_oaep",
        lambda k, m: _jwe({"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": "enc"}),
        R.ENCRYPTED_JWE,
        "encryption",
        {},
    ),
    (
        "truncated_to_two_segments",
        lambda k, m: m().rsplit(".", 1)[0],
        R.MALFORMED,
        "this token has 2",
        {},
    ),
    ("four_segments", lambda k, m: m() + ".AAAA", R.MALFORMED, "this token has 4", {}),
    (
        "opaque_token",
        lambda k, m: "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg",
        R.MALFORMED,
        "opaque",
        {},
    ),
    ("garbage", lambda k, m: "%%%.@@@.!!!", R.NOT_BASE64URL, "header segment", {}),
    ("empty", lambda k, m: "", R.EMPTY, "no token", {}),
    ("non_base64_header", lambda k, m: "eyJ*.eyJ.abc", R.NOT_BASE64URL, "header", {}),
    (
        "header_not_json",
        lambda k, m: f"{b64('hello')}.{b64(claims())}.{b64(b'sig')}",
        R.HEADER_NOT_JSON,
        "header is not a JSON object",
        {},
    ),
    (
        "payload_not_json",
        lambda k, m: f"{b64({'alg': 'RS256'})}.{b64('not json')}.{b64(b'sig')}",
        R.PAYLOAD_NOT_JSON,
        "payload",
        {},
    ),
    (
        "payload_json_array",
        lambda k, m: f"{b64({'alg': 'RS256'})}.{b64([1, 2])}.{b64(b'sig')}",
        R.PAYLOAD_NOT_JSON,
        "payload",
        {},
    ),
    (
        "payload_with_infinity_literal",
        lambda k, m: compact({"alg": "RS256", "kid": "k1"}, claims(exp=float("inf")), b"x" * 256),
        R.PAYLOAD_NOT_JSON,
        "payload",
        {},
    ),
    (
        "exp_overflows_to_infinity",
        lambda k, m: (
            m(claims(exp=None)).split(".")[0]
            + "."
            + b64(json.dumps(claims(exp=None))[:-1] + ', "exp": 1e999}')
            + "."
            + b64(b"x" * 256)
        ),
        R.CLAIM_INVALID,
        "'exp' is not a number",
        {},
    ),
    ("oversized", lambda k, m: m(claims(pad="x" * 20_000)), R.OVERSIZED, "more than the 16384", {}),
    (
        "typ_jwt_in_strict_mode",
        lambda k, m: m(claims(client_id="c", jti="j")),
        R.TYP_NOT_AT_JWT,
        "at+jwt",
        STRICT,
    ),
    (
        "typ_missing_in_strict_mode",
        lambda k, m: m(claims(client_id="c", jti="j"), typ=None),
        R.TYP_NOT_AT_JWT,
        "at+jwt",
        STRICT,
    ),
    (
        "strict_without_jti",
        lambda k, m: m(claims(client_id="c"), typ="at+jwt"),
        R.CLAIM_MISSING,
        "'jti'",
        STRICT,
    ),
    ("typ_dpop_proof", lambda k, m: m(typ="dpop+jwt"), R.TYP_INVALID, "dpop+jwt", {}),
    ("missing_sub", lambda k, m: m(claims(sub=None)), R.CLAIM_MISSING, "'sub'", {}),
    ("missing_exp", lambda k, m: m(claims(exp=None)), R.CLAIM_MISSING, "'exp'", {}),
    ("missing_iat", lambda k, m: m(claims(iat=None)), R.CLAIM_MISSING, "'iat'", {}),
    (
        "missing_configured_required_claim",
        lambda k, m: m(),
        R.CLAIM_MISSING,
        "'org_id'",
        {"required_claims": ("org_id",)},
    ),
    ("exp_not_a_number", lambda k, m: m(claims(exp="tomorrow")), R.CLAIM_INVALID, "'exp'", {}),
    (
        "scope_not_a_string",
        lambda k, m: m(claims(scope=["read:docs"])),
        R.CLAIM_INVALID,
        "'scope'",
        {},
    ),
    (
        "permissions_not_strings",
        lambda k, m: m(claims(permissions=[1, 2])),
        R.CLAIM_INVALID,
        "'permissions'",
        {},
    ),
    ("sub_not_a_string", lambda k, m: m(claims(sub=42)), R.SUBJECT_INVALID, "'sub'", {}),
    (
        "sub_is_a_userset",
        lambda k, m: m(claims(sub="group:eng#member")),
        R.SUBJECT_INVALID,
        "'#'",
        {},
    ),
    ("sub_is_wildcard", lambda k, m: m(claims(sub="*")), R.SUBJECT_INVALID, "'*'", {}),
    (
        "crit_header_unknown_extension",
        lambda k, m: m(crit=["exp-ext"], **{"exp-ext": 1}),
        R.CRIT_UNSUPPORTED,
        "critical",
        {},
    ),
    (
        "jku_header_pointing_elsewhere",
        lambda k, m: m(key=k.attacker, jku="https://attacker.example/jwks.json"),
        R.SIGNATURE_INVALID,
        "does not verify",
        {},
    ),
    (
        "x5u_header_pointing_elsewhere",
        lambda k, m: m(key=k.attacker, x5u="https://attacker.example/cert.pem"),
        R.SIGNATURE_INVALID,
        "does not verify",
        {},
    ),
    (
        "embedded_jwk_header",
        lambda k, m: m(key=k.attacker, kid="evil", jwk=public_jwk(k.attacker, "evil", "RS256")),
        R.KID_UNKNOWN,
        "'evil'",
        {},
    ),
    (
        "signature_stripped",
        lambda k, m: m().rsplit(".", 1)[0] + ".",
        R.SIGNATURE_MISSING,
        "no signature",
        {},
    ),
    ("bearer_prefix_inside_token", lambda k, m: "Bearer " + m(), R.MALFORMED, "sent twice", {}),
    (
        "whitespace_inside_token",
        lambda k, m: m().replace(".", ". ", 1),
        R.MALFORMED,
        "whitespace",
        {},
    ),
    ("quoted_token", lambda k, m: f'"{m()}"', R.MALFORMED, "quotes", {}),
]


@pytest.mark.parametrize(
    ("build", "reason", "needle", "overrides"),
    [
        pytest.param(build, reason, needle, overrides, id=case_id)
        for case_id, build, reason, needle, overrides in CASES
    ],
)
async def test_bad_token_is_rejected_with_its_reason(
    keys: Keys,
    make_token: TokenFactory,
    build: Build,
    reason: R,
    needle: str,
    overrides: dict[str, Any],
) -> None:
    authenticator = JwtAuthenticator(settings(**overrides), StaticKeyProvider(keys.jwks()))
    token = build(keys, make_token)
    with pytest.raises(InvalidTokenError) as caught:
        await authenticator.authenticate(token)
    err = caught.value
    assert err.reason is reason, err.description
    assert needle in err.description
    header = err.www_authenticate()
    assert header is not None and header.startswith(
        'Bearer realm="permsvc", error="invalid_token", error_description="'
    )
    assert token not in err.description or not token


def test_battery_covers_at_least_30_kinds() -> None:
    assert len(CASES) >= 30
    assert len({case_id for case_id, *_ in CASES}) == len(CASES)
    assert len({reason for _, _, reason, _, _ in CASES}) >= 25


async def test_signature_part_is_never_echoed(keys: Keys, make_token: TokenFactory) -> None:
    token = make_token(key=keys.attacker)
    with pytest.raises(InvalidTokenError) as caught:
        await JwtAuthenticator(settings(), StaticKeyProvider(keys.jwks())).authenticate(token)
    for segment in token.split("."):
        assert segment not in caught.value.description


def test_settings_refuse_none_and_hmac() -> None:
    from permsvc.auth.errors import OidcConfigError

    for algs in (("none",), ("HS256",), ("RS256", "HS256"), ("XX1",), ()):
        with pytest.raises(OidcConfigError):
            OidcSettings(issuer=ISSUER, audiences=(AUDIENCE,), algorithms=algs)


@pytest.mark.parametrize(
    "payload_or_header",
    [
        pytest.param({"iss": "https://x/" + "i" * 8000}, id="long_issuer"),
        pytest.param({"aud": ["a" * 3000] * 3}, id="long_audiences"),
        pytest.param({"kid": "k" * 8000}, id="long_kid"),
        pytest.param({"typ": "t" * 8000}, id="long_typ"),
        pytest.param({"alg": "X" * 8000}, id="long_alg"),
    ],
)
async def test_token_values_are_clipped_in_descriptions(
    keys: Keys, make_token: TokenFactory, payload_or_header: dict[str, Any]
) -> None:
    name = next(iter(payload_or_header))
    if name in ("kid", "typ", "alg"):
        token = compact({"alg": "RS256", "kid": "k1", **payload_or_header}, claims(), b"x" * 256)
    else:
        token = make_token(claims(**payload_or_header))
    authenticator = JwtAuthenticator(settings(), StaticKeyProvider(keys.jwks()))
    with pytest.raises(InvalidTokenError) as caught:
        await authenticator.authenticate(token)
    assert len(caught.value.description) < 600
    assert "..." in caught.value.description


WHITESPACE = [chr(c) for c in range(0x110000) if chr(c).isspace()]
"""Every character a tuple user may not hold as whitespace (``\\s``, as tuple validation uses)."""


def _tuple_refuses(ts: TypeSystem, user: str) -> bool:
    try:
        return bool(user_problem(ts, user))
    except ControlCharacterError:
        return True


async def test_a_sub_that_cannot_be_a_tuple_user_is_refused(
    keys: Keys, make_token: TokenFactory
) -> None:
    """A ``sub`` with any whitespace character maps to a tuple user every route refuses, so the
    token is refused at authentication (401 ``subject_invalid``), not accepted and then refused
    by each question with a 400; the token rule and the tuple rule name the same characters."""
    authenticator = JwtAuthenticator(settings(), StaticKeyProvider(keys.jwks()))
    ts = TypeSystem.new(parse_dsl("model\n  schema 1.1\ntype user\n"))
    assert len(WHITESPACE) >= 25
    for space in WHITESPACE:
        sub = f"anne{space}x"
        assert _tuple_refuses(ts, f"user:{sub}"), f"tuple validation accepts {space!r}"
        with pytest.raises(InvalidTokenError) as caught:
            await authenticator.authenticate(make_token(claims(sub=sub)))
        assert caught.value.reason is R.SUBJECT_INVALID, repr(space)


HEADER_NAMES = ("alg", "kid", "typ", "crit", "jku", "x5u", "cty")
CLAIM_NAMES = (
    *("iss", "sub", "aud", "exp", "nbf", "iat", "jti"),
    *("azp", "client_id", "scope", "permissions", "gty", "act"),
)


def _signed(keys: Keys, header: str, payload: str) -> str:
    """A token over exactly these JSON texts (a JSON library would merge repeated names)."""
    signing_input = f"{b64(header)}.{b64(payload)}"
    signature = keys.k1.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64(signature)}"


def _repeat(document: dict[str, Any], name: str, value: Any) -> str:
    """``document`` as JSON text naming ``name`` twice: its own value (or ``value``), then ``value``."""
    rest = {k: v for k, v in document.items() if k != name}
    first = document.get(name, value)
    twice = f"{json.dumps(name)}: {json.dumps(first)}, {json.dumps(name)}: {json.dumps(value)}"
    return json.dumps(rest)[:-1] + f", {twice}}}"


async def test_a_name_repeated_in_the_header_or_the_claims_is_refused(keys: Keys) -> None:
    """A repeated name gives a token two readings (the first for one parser, the last for
    another: two subjects, two grant types), so every name permsvc reads, and a name inside a
    nested claim, is refused repeated, whichever value comes second."""
    authenticator = JwtAuthenticator(settings(), StaticKeyProvider(keys.jwks()))
    header = {"alg": "RS256", "typ": "JWT", "kid": "k1"}
    payload = claims(act={"sub": "svc"})
    tried = 0
    cases = [
        (_repeat(header, n, v), json.dumps(payload), R.HEADER_NOT_JSON)
        for n in HEADER_NAMES
        for v in ("x", header.get(n, "x"))
    ]
    cases += [
        (json.dumps(header), _repeat(payload, n, v), R.PAYLOAD_NOT_JSON)
        for n in CLAIM_NAMES
        for v in ("mallory", payload.get(n, "x"))
    ]
    cases.append(
        (
            json.dumps(header),
            json.dumps(payload).replace('"sub": "svc"', '"sub": "svc", "sub": "root"'),
            R.PAYLOAD_NOT_JSON,
        )
    )
    for header_text, payload_text, reason in cases:
        with pytest.raises(InvalidTokenError) as caught:
            await authenticator.authenticate(_signed(keys, header_text, payload_text))
        assert caught.value.reason is reason, (header_text, payload_text, caught.value.description)
        assert "more than once" in caught.value.description
        tried += 1
    assert tried == 2 * (len(HEADER_NAMES) + len(CLAIM_NAMES)) + 1
    # The same texts without the repetition verify.
    assert await authenticator.authenticate(_signed(keys, json.dumps(header), json.dumps(payload)))
