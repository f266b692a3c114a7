"""The token checks that need no key: structure, header and claims.

These run on the *unverified* token, before any key is fetched, for two reasons: a doomed token
(wrong issuer, expired, an ID token) never causes a JWKS request, and ``permsvc token explain``
gives the same diagnosis offline that the server gives online. The signature is verified
afterwards (:mod:`permsvc.auth.jwt`), and PyJWT re-checks ``iss``/``aud`` on the verified payload.

Order matters: the authenticator reports the first error, so the most specific explanation
comes first (an ID token is named as such before its audience is found wrong; ``alg: none`` is
named before its missing signature).

ID-token heuristics: a token is taken for an OpenID Connect ID token when its header ``typ`` is
not ``at+jwt`` and either it carries a claim only ID tokens have (``nonce``, ``at_hash``,
``c_hash``, ``s_hash``), or it has no access-token claim (``scope``, ``scp``, ``permissions``,
``client_id``), none of its audiences is an accepted one, and it has login-session claims
(``sid``, ``auth_time``, ``email``, ``name``): then its ``aud`` is a client id.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

import msgspec

from permsvc.auth.claims import client_id_of, scopes_of, token_kind_of
from permsvc.auth.config import (
    ASYMMETRIC_ALGORITHMS,
    DEFAULT_ALGORITHMS,
    DEFAULT_LEEWAY_S,
    DEFAULT_MAX_TOKEN_BYTES,
    DEFAULT_SUBJECT_CLAIM,
    DEFAULT_SUBJECT_TYPE,
    OidcSettings,
)
from permsvc.auth.errors import InvalidTokenError
from permsvc.auth.findings import Finding, Severity, TokenErrorReason, clip

__all__ = (
    "DecodedToken",
    "TokenPolicy",
    "check_claims",
    "check_header",
    "decode_token",
    "raise_first_error",
)

R = TokenErrorReason

_SEGMENT = re.compile(r"^[A-Za-z0-9_-]*$")
"""base64url without padding, as JWS compact serialization requires (RFC 7515 §2): a padded
segment is another spelling of the same bytes, refused so that a token has one form only."""
_KEY_URL_HEADERS = ("jku", "x5u", "jwk", "x5c")
_ID_TOKEN_ONLY_CLAIMS = ("nonce", "at_hash", "c_hash", "s_hash")
_ACCESS_TOKEN_CLAIMS = ("scope", "scp", "permissions", "client_id")
_SESSION_CLAIMS = ("sid", "auth_time", "email", "name")
_STRICT_CLAIMS = ("sub", "client_id", "jti", "iat")
_ACCEPTED_TYP = ("jwt", "at+jwt")


class TokenPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """What a token is checked against. :class:`OidcSettings` in the server; partial in
    ``permsvc token explain``, where an unset issuer or audience is reported, not checked."""

    issuer: str | None = None
    audiences: tuple[str, ...] = ()
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    strict: bool = False
    leeway_s: int = DEFAULT_LEEWAY_S
    required_claims: tuple[str, ...] = ()
    subject_type: str = DEFAULT_SUBJECT_TYPE
    subject_claim: str = DEFAULT_SUBJECT_CLAIM
    max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES

    @classmethod
    def from_settings(cls, settings: OidcSettings) -> TokenPolicy:
        return cls(
            issuer=settings.issuer,
            audiences=settings.audiences,
            algorithms=settings.algorithms,
            strict=settings.strict,
            leeway_s=settings.leeway_s,
            required_claims=settings.required_claims,
            subject_type=settings.subject_type,
            subject_claim=settings.subject_claim,
            max_token_bytes=settings.max_token_bytes,
        )


class DecodedToken(msgspec.Struct, frozen=True, kw_only=True):
    """A compact token taken apart, nothing verified."""

    segments: int
    header: dict[str, Any]
    payload: dict[str, Any] | None
    """``None`` for an encrypted (5-segment) token."""
    has_signature: bool

    @property
    def encrypted(self) -> bool:
        return self.segments == 5


def _error(reason: TokenErrorReason, what: str, fix: str = "") -> InvalidTokenError:
    return InvalidTokenError(reason, what, fix)


def _b64decode(segment: str, name: str) -> bytes:
    if not _SEGMENT.match(segment) or len(segment.rstrip("=")) % 4 == 1:
        raise _error(
            R.NOT_BASE64URL,
            f"the token's {name} segment is not base64url",
            "send the access token exactly as the token endpoint returned it (it was altered or is not a JWT)",
        )
    try:
        return base64.urlsafe_b64decode(segment.rstrip("=") + "=" * (-len(segment.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise _error(R.NOT_BASE64URL, f"the token's {name} segment is not base64url") from None


def _reject_constant(name: str) -> Any:
    """``NaN`` and ``Infinity`` are not JSON (RFC 8259), though Python's parser takes them."""
    raise ValueError(f"{name} is not JSON")


def _json_object(data: bytes, reason: TokenErrorReason, name: str) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError):
        value = None
    if not isinstance(value, dict):
        raise _error(
            reason,
            f"the token's {name} is not a JSON object",
            "this is not a JWT access token; send the access_token from the token response",
        )
    return cast("dict[str, Any]", value)


def decode_token(token: str, *, max_bytes: int = DEFAULT_MAX_TOKEN_BYTES) -> DecodedToken:
    """Take a compact JWS (3 segments) or JWE (5 segments) apart without verifying it.

    The size limit is checked before anything is decoded, so an oversized header costs nothing.

    Raises:
        InvalidTokenError: empty, oversized, not 3 or 5 segments, not base64url, not JSON.
    """
    if not token or token.isspace():
        raise _error(R.EMPTY, "no token was sent", "send 'Authorization: Bearer <access token>'")
    size = len(token.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise _error(
            R.OVERSIZED,
            f"the token is {size} bytes, more than the {max_bytes} accepted",
            "access tokens are normally 1-4 KiB; move large custom claims out of the token",
        )
    if token[:7].lower() == "bearer ":
        raise _error(
            R.MALFORMED,
            "the token starts with 'Bearer ': the prefix was sent twice",
            "send 'Authorization: Bearer <token>' with the bare token after one 'Bearer '",
        )
    if any(ch.isspace() or ch in "\"'" for ch in token):
        raise _error(
            R.MALFORMED,
            "the token contains whitespace or quotes",
            "send the bare token, unquoted, as one word after 'Bearer '",
        )
    parts = token.split(".")
    if len(parts) == 1:
        raise _error(
            R.MALFORMED,
            "the token is opaque (not a JWT: it has no '.'-separated segments)",
            "permsvc accepts JWT access tokens only; request the token with audience=<your API "
            "identifier> so the identity provider issues a JWT for your API",
        )
    if len(parts) == 5:
        header = _json_object(_b64decode(parts[0], "header"), R.HEADER_NOT_JSON, "header")
        return DecodedToken(segments=5, header=header, payload=None, has_signature=False)
    if len(parts) != 3:
        raise _error(
            R.MALFORMED,
            f"a JWT has 3 '.'-separated segments (5 when encrypted); this token has {len(parts)}",
            "the token was cut off or joined with something when it was copied; send the "
            "access_token exactly as the token endpoint returned it",
        )
    header = _json_object(_b64decode(parts[0], "header"), R.HEADER_NOT_JSON, "header")
    payload = _json_object(_b64decode(parts[1], "payload"), R.PAYLOAD_NOT_JSON, "payload")
    _b64decode(parts[2], "signature")
    return DecodedToken(segments=3, header=header, payload=payload, has_signature=bool(parts[2]))


def _encrypted_finding(header: Mapping[str, Any], policy: TokenPolicy) -> Finding:
    alg, enc = header.get("alg"), header.get("enc")
    audience = policy.audiences[0] if policy.audiences else "<your API identifier>"
    if alg == "dir":
        iss = header.get("iss")
        userinfo = (
            f"{clip(iss.rstrip('/'))}/userinfo"
            if isinstance(iss, str)
            else "the identity provider's /userinfo"
        )
        return Finding(
            severity=Severity.ERROR,
            code=R.ENCRYPTED_JWE,
            what=(
                f"the token is encrypted (a 5-segment JWE, alg 'dir', enc '{clip(enc)}'), not a signed "
                "JWT access token: this is what Auth0 issues when the login asked for no audience, "
                f"and only {userinfo} accepts it"
            ),
            fix=(
                f"request the token with audience={audience} (Auth0 SPA SDK: "
                f"authorizationParams: {{ audience: '{audience}' }}); the identity provider then "
                "issues a signed JWT for your API"
            ),
        )
    return Finding(
        severity=Severity.ERROR,
        code=R.ENCRYPTED_JWE,
        what=(
            f"the token is encrypted (a 5-segment JWE, alg '{clip(alg)}', enc '{clip(enc)}'): the API is "
            "configured to encrypt its access tokens, and permsvc verifies signed tokens only"
        ),
        fix="turn off access-token encryption for this API in the identity provider",
    )


def check_header(token: DecodedToken, policy: TokenPolicy) -> list[Finding]:
    """Findings about the header: form, algorithm, signature presence, ``crit``, ``typ``."""
    header = token.header
    if token.encrypted:
        return [_encrypted_finding(header, policy)]
    out: list[Finding] = []

    def error(reason: TokenErrorReason, what: str, fix: str = "") -> None:
        out.append(Finding(severity=Severity.ERROR, code=reason, what=what, fix=fix))

    alg = header.get("alg")
    if not isinstance(alg, str) or not alg:
        error(R.ALG_NOT_ALLOWED, "the token header has no 'alg'", "send a JWT signed by the issuer")
    elif alg.lower() == "none":
        error(
            R.ALG_NONE,
            f"the token is unsigned (alg '{clip(alg)}')",
            "access tokens must be signed by the issuer; this one was built by hand or by a test tool",
        )
    elif alg.upper().startswith("HS"):
        error(
            R.ALG_HMAC,
            f"the token is signed with {clip(alg)}, a shared-secret (HMAC) algorithm",
            "permsvc verifies signatures with the issuer's public keys only; sign this API's "
            "tokens with RS256 (Auth0: Applications > APIs > your API > Signing Algorithm)",
        )
    elif alg not in policy.algorithms:
        fix = (
            f"if your identity provider signs with {alg}, add it to PERMSVC_OIDC_ALGORITHMS"
            if alg in ASYMMETRIC_ALGORITHMS
            else "sign access tokens with RS256"
        )
        error(
            R.ALG_NOT_ALLOWED,
            f"the token is signed with {clip(alg)}, which is not allowed (allowed: "
            f"{', '.join(policy.algorithms)})",
            fix,
        )
    else:
        out.append(Finding(severity=Severity.INFO, code="alg", what=f"signed with {alg}"))
    if not token.has_signature:
        error(
            R.SIGNATURE_MISSING,
            "the token has no signature (its third segment is empty)",
            "send the complete token as issued",
        )
    if "crit" in header:
        error(
            R.CRIT_UNSUPPORTED,
            f"the header marks extension(s) {clip(header['crit'])} as critical, and permsvc supports none",
            "issue the token without a 'crit' header",
        )
    typ = header.get("typ")
    norm = typ.lower().removeprefix("application/") if isinstance(typ, str) else None
    if typ is not None and norm not in _ACCEPTED_TYP:
        error(
            R.TYP_INVALID,
            f"the header typ '{clip(typ)}' does not mark an access token",
            "send an OAuth access token (typ 'at+jwt' or 'JWT'), not another kind of JWT",
        )
    elif policy.strict and norm != "at+jwt":
        error(
            R.TYP_NOT_AT_JWT,
            f"strict RFC 9068 mode requires typ 'at+jwt'; the token has {clip(typ)!r}",
            "issue RFC 9068 access tokens (Auth0: set the API's token profile to RFC 9068), "
            "or turn off PERMSVC_OIDC_STRICT",
        )
    for name in _KEY_URL_HEADERS:
        if name in header:
            out.append(
                Finding(
                    severity=Severity.WARNING,
                    code="key_header_ignored",
                    what=f"header '{name}' is ignored: keys come only from the configured issuer's JWKS",
                )
            )
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        error(
            R.KID_UNKNOWN,
            "the header 'kid' is not a string",
            "send a token issued by the configured issuer",
        )
    return out


def _duration(seconds: float) -> str:
    s = int(abs(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    shown = [f"{n} {unit}" for n, unit in parts if n][:2]
    return " ".join(shown) or "0 s"


def _when(timestamp: float) -> str:
    try:
        return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return str(timestamp)


def _is_number(value: object) -> bool:
    """A JSON number usable as a NumericDate: not a bool, not infinite (``1e999`` parses as inf)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def _joined(values: tuple[str, ...], most: int = 5) -> str:
    shown = ", ".join(clip(v) for v in values[:most])
    return shown + (f" (+{len(values) - most} more)" if len(values) > most else "")


def _audiences(value: object) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        items = cast("list[object]", value)
        if items and all(isinstance(v, str) for v in items):
            return tuple(cast("list[str]", items))
    return None


def _id_token_marker(
    header: Mapping[str, Any], payload: Mapping[str, Any], policy: TokenPolicy
) -> str | None:
    typ = header.get("typ")
    if isinstance(typ, str) and typ.lower().removeprefix("application/") == "at+jwt":
        return None
    for claim in _ID_TOKEN_ONLY_CLAIMS:
        if claim in payload:
            return f"it has the ID-token claim '{claim}'"
    if any(claim in payload for claim in _ACCESS_TOKEN_CLAIMS):
        return None
    auds = _audiences(payload.get("aud")) or ()
    if policy.audiences and set(auds) & set(policy.audiences):
        return None
    azp = payload.get("azp")
    if auds and (azp is None or auds == (azp,)) and any(c in payload for c in _SESSION_CLAIMS):
        return "it has login-session claims and no scope, and its audience is a client id"
    return None


def check_claims(token: DecodedToken, policy: TokenPolicy, now: float) -> list[Finding]:
    """Findings about the payload: token kind, ``iss``, ``aud``, times, required claims, subject."""
    payload = token.payload
    if payload is None:
        return []
    out: list[Finding] = []

    def error(reason: TokenErrorReason, what: str, fix: str = "") -> None:
        out.append(Finding(severity=Severity.ERROR, code=reason, what=what, fix=fix))

    def info(code: str, what: str) -> None:
        out.append(Finding(severity=Severity.INFO, code=code, what=what))

    audience_hint = policy.audiences[0] if policy.audiences else "<your API identifier>"
    marker = _id_token_marker(token.header, payload, policy)
    if marker:
        error(
            R.ID_TOKEN,
            f"this is an OpenID Connect ID token ({marker}), not an access token",
            f"send the access_token from the token response, not the id_token, and request it "
            f"with audience={audience_hint}",
        )

    iss = payload.get("iss")
    if not isinstance(iss, str) or not iss:
        error(
            R.ISSUER_MISSING,
            "the token has no 'iss' (issuer) claim",
            "send a token issued by your identity provider",
        )
    elif policy.issuer is None:
        info("issuer", f"issued by {clip(iss)} (not checked: no issuer configured)")
    elif iss != policy.issuer:
        if iss.rstrip("/") == policy.issuer.rstrip("/"):
            if policy.issuer.endswith("/"):
                fix = (
                    f"the issuer must be exactly '{policy.issuer}' (Auth0 issuers end with '/'); "
                    "check which issuer your identity provider's discovery document names"
                )
            else:
                fix = (
                    f"set PERMSVC_OIDC_ISSUER to '{iss}' with the trailing slash (Auth0 issuers "
                    "end with '/' and must match exactly)"
                )
            error(
                R.ISSUER_TRAILING_SLASH,
                f"the token's issuer '{clip(iss)}' and the configured issuer '{policy.issuer}' differ "
                "only in the trailing slash",
                fix,
            )
        else:
            error(
                R.ISSUER_MISMATCH,
                f"the token was issued by '{clip(iss)}', expected '{policy.issuer}'",
                "get the token from the configured issuer (another tenant, custom domain or "
                "environment issued this one), or change PERMSVC_OIDC_ISSUER",
            )

    raw_aud = payload.get("aud")
    auds = _audiences(raw_aud)
    if raw_aud is None:
        error(
            R.AUDIENCE_MISSING,
            "the token has no 'aud' (audience) claim",
            f"request the token with audience={audience_hint}",
        )
    elif auds is None:
        error(R.CLAIM_INVALID, "the token's 'aud' is neither a string nor a list of strings")
    elif marker:
        pass
    elif not policy.audiences:
        info("audience", f"audience {_joined(auds)} (not checked: no audience configured)")
    elif not set(auds) & set(policy.audiences):
        found, expected = _joined(auds), ", ".join(policy.audiences)
        if all(a.endswith("/userinfo") for a in auds):
            what = f"the token is only for the identity provider's /userinfo ({found}), expected {expected}"
        else:
            what = f"the token is for audience {found}, expected {expected}"
        error(
            R.AUDIENCE_MISMATCH,
            what,
            f"request the token with audience={audience_hint} (Auth0 SPA SDK: "
            "authorizationParams.audience), or add the token's audience to PERMSVC_OIDC_AUDIENCE "
            "if this API should accept it",
        )

    leeway = policy.leeway_s
    exp = payload.get("exp")
    if exp is None:
        error(
            R.CLAIM_MISSING,
            "the token has no 'exp' claim: access tokens must expire",
            "issue tokens with an expiry",
        )
    elif not _is_number(exp):
        error(R.CLAIM_INVALID, "the token's 'exp' is not a number")
    elif now > exp + leeway:
        error(
            R.EXPIRED,
            f"the token expired {_duration(now - exp)} ago (exp {_when(exp)})",
            "get a new access token (refresh it); if fresh tokens fail too, check the clocks of "
            "this server and of the identity provider",
        )
    else:
        info("expires", f"expires in {_duration(exp - now)} ({_when(exp)})")
    for claim, reason, too_early in (
        ("nbf", R.NOT_YET_VALID, "the token is not valid before {when}, {ahead} from now"),
        ("iat", R.ISSUED_IN_FUTURE, "the token claims to be issued {ahead} in the future ({when})"),
    ):  # optional times that must not lie in the future
        value = payload.get(claim)
        if value is not None and not _is_number(value):
            error(R.CLAIM_INVALID, f"the token's '{claim}' is not a number")
        elif value is not None and value > now + leeway:
            error(
                reason,
                too_early.format(when=_when(value), ahead=_duration(value - now)),
                "check the clocks: this server's and the identity provider's disagree",
            )

    required: dict[str, str] = {"iat": "access tokens must say when they were issued"}
    if policy.strict:
        required.update(
            {c: "strict RFC 9068 mode (PERMSVC_OIDC_STRICT) requires it" for c in _STRICT_CLAIMS}
        )
    required.update({c: "PERMSVC_OIDC_REQUIRED_CLAIMS requires it" for c in policy.required_claims})
    for claim, why in required.items():
        if claim not in payload and claim != policy.subject_claim:
            error(R.CLAIM_MISSING, f"the token has no '{claim}' claim", why)

    for claim in ("scope", "client_id", "jti", "azp", "gty"):
        if claim in payload and not isinstance(payload[claim], str):
            error(R.CLAIM_INVALID, f"the token's '{claim}' claim is not a string")
    permissions = payload.get("permissions")
    if permissions is not None and not (
        isinstance(permissions, list)
        and all(isinstance(p, str) for p in cast("list[object]", permissions))
    ):
        error(R.CLAIM_INVALID, "the token's 'permissions' claim is not a list of strings")

    subject = payload.get(policy.subject_claim)
    if subject is None:
        error(
            R.CLAIM_MISSING,
            f"the token has no '{policy.subject_claim}' claim, so it names no subject",
            "issue tokens that name their subject (PERMSVC_SUBJECT_CLAIM selects the claim)",
        )
    elif (
        not isinstance(subject, str)
        or not subject
        or subject == "*"
        or "#" in subject
        or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in subject)
    ):
        error(
            R.SUBJECT_INVALID,
            f"the token's '{policy.subject_claim}' claim cannot be a subject id "
            "(it must be a non-empty string without '#' or control characters, and not '*')",
        )
    else:
        kind = token_kind_of(payload)
        client = client_id_of(payload)
        info(
            "subject",
            f"subject {policy.subject_type}:{clip(subject)} ({kind.value} token"
            + (f", client {clip(client)}" if client else "")
            + ")",
        )
        scopes = scopes_of(payload)
        if scopes:
            info("scopes", "scopes " + " ".join(sorted(scopes)))
    return out


def raise_first_error(findings: list[Finding]) -> None:
    """Raise the first error finding as :class:`InvalidTokenError`; do nothing if there is none."""
    for finding in findings:
        if finding.is_error:
            raise InvalidTokenError.from_finding(finding)
