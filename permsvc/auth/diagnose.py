"""Token diagnosis: everything the checks say about a token, for people.

:func:`explain` runs the same checks as :class:`~permsvc.auth.jwt.JwtAuthenticator` but collects
every finding instead of stopping at the first, and needs no network: it is what
``permsvc token explain`` prints. :func:`explain_and_verify` adds the signature check against the
issuer's keys (the one step that needs the JWKS).

Both take what a person pastes: the bare token, or a header value as copied from a browser's
network tab or a curl command (``Bearer eyJ...``, ``Authorization: Bearer eyJ...``, quoted or
not); :func:`unwrap_pasted` finds the token inside and the diagnosis says so.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec

from permsvc.auth.checks import DecodedToken, TokenPolicy, check_claims, check_header, decode_token
from permsvc.auth.config import OidcSettings
from permsvc.auth.errors import InvalidTokenError, KeySetUnavailableError
from permsvc.auth.findings import Finding, Severity
from permsvc.auth.jwks import KeyProvider
from permsvc.auth.jwt import verify_signature

__all__ = ("Diagnosis", "explain", "explain_and_verify", "unwrap_pasted")

_QUOTES = ('"', "'")


class Diagnosis(msgspec.Struct, frozen=True, kw_only=True):
    """What a token is and whether it would be accepted."""

    accepted: bool
    """No error finding. Offline (``signature == "not_checked"``) this means "acceptable unless
    the signature is bad"."""
    form: str
    """``jws`` (signed JWT), ``jwe`` (encrypted) or ``invalid`` (not a JWT at all)."""
    signature: str
    """``valid``, ``invalid`` or ``not_checked``."""
    header: dict[str, Any] | None
    claims: dict[str, Any] | None
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.is_error)


def _policy(settings: OidcSettings | TokenPolicy | None) -> TokenPolicy:
    if settings is None:
        return TokenPolicy()
    if isinstance(settings, OidcSettings):
        return TokenPolicy.from_settings(settings)
    return settings


def unwrap_pasted(value: str) -> tuple[str, str]:
    """The token in a pasted value and what was taken off around it (``""`` when nothing was).

    Takes off surrounding whitespace and quotes, an ``Authorization:`` header name and one
    ``Bearer`` scheme word (any case, any whitespace after it). Whatever remains is the token as
    sent: ``Bearer Bearer eyJ...`` leaves ``Bearer eyJ...``, which the checks name as the prefix
    sent twice, as the server would.
    """
    text = value.strip()
    removed: list[str] = []
    if len(text) >= 2 and text[0] == text[-1] and text[0] in _QUOTES:
        text = text[1:-1].strip()
        removed.append("quotes")
    name, sep, rest = text.partition(":")
    if sep and name.strip().lower() == "authorization":
        text = rest.strip()
        removed.append("'Authorization:'")
    parts = text.split(None, 1)
    if len(parts) == 2 and parts[0].lower() == "bearer":
        text = parts[1].strip()
        removed.append(f"'{parts[0]}'")
    return text, " and ".join(removed)


def _diagnose(
    value: str, policy: TokenPolicy, now: float
) -> tuple[DecodedToken | None, list[Finding], list[Finding], str]:
    """The decoded token (``None`` if undecodable), the header findings, the claim findings, and
    the token itself (see :func:`unwrap_pasted`)."""
    token, removed = unwrap_pasted(value)
    notes = (
        [
            Finding(
                severity=Severity.INFO,
                code="pasted",
                what=f"read the token from a pasted header value ({removed} taken off)",
            )
        ]
        if removed
        else []
    )
    try:
        decoded = decode_token(token, max_bytes=policy.max_token_bytes)
    except InvalidTokenError as err:
        return None, [*notes, err.finding], [], token
    return (
        decoded,
        [*notes, *check_header(decoded, policy)],
        check_claims(decoded, policy, now),
        token,
    )


def _diagnosis(decoded: DecodedToken | None, findings: list[Finding], signature: str) -> Diagnosis:
    form = "invalid" if decoded is None else ("jwe" if decoded.encrypted else "jws")
    return Diagnosis(
        accepted=not any(f.is_error for f in findings),
        form=form,
        signature=signature,
        header=decoded.header if decoded else None,
        claims=decoded.payload if decoded else None,
        findings=tuple(findings),
    )


def explain(
    token: str, settings: OidcSettings | TokenPolicy | None = None, *, now: float | None = None
) -> Diagnosis:
    """Diagnose ``token`` (or a pasted header value) offline. Without settings, ``iss`` and
    ``aud`` are reported, not checked."""
    decoded, header, claims, _ = _diagnose(
        token, _policy(settings), time.time() if now is None else now
    )
    return _diagnosis(decoded, header + claims, "not_checked")


async def explain_and_verify(
    token: str, settings: OidcSettings | TokenPolicy, keys: KeyProvider, *, now: float | None = None
) -> Diagnosis:
    """:func:`explain`, plus the signature checked with a key from ``keys``.

    The signature is checked whenever the header allows it (even if, say, the token expired), so
    the answer says both "expired" and whether the token is genuine.
    """
    policy = _policy(settings)
    decoded, header, claims, token = _diagnose(token, policy, time.time() if now is None else now)
    findings = header + claims
    if decoded is None or any(f.is_error for f in header):
        return _diagnosis(decoded, findings, "not_checked")
    try:
        key = await keys.get_key(decoded.header.get("kid"), decoded.header["alg"])
        verify_signature(token, key)
    except InvalidTokenError as err:
        return _diagnosis(decoded, [*findings, err.finding], "invalid")
    except KeySetUnavailableError as err:
        finding = Finding(
            severity=Severity.WARNING,
            code="keys_unavailable",
            what=f"the signature was not checked: {err.detail}",
            fix="check PERMSVC_OIDC_ISSUER / --jwks-url and the network",
        )
        return _diagnosis(decoded, [*findings, finding], "not_checked")
    ok = Finding(
        severity=Severity.INFO, code="signature", what=f"signature valid (key '{key.key_id}')"
    )
    return _diagnosis(decoded, [*findings, ok], "valid")
