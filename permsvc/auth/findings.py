"""Findings: what the token checks say about a token, shared by validation and diagnosis.

The authenticator stops at the first :attr:`Severity.ERROR` finding and raises it as an
:class:`~permsvc.auth.errors.InvalidTokenError`; ``permsvc token explain`` collects all of them.
One list of checks serves both, so the HTTP ``error_description`` and the offline explanation
can never disagree.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

__all__ = ("Finding", "Severity", "TokenErrorReason", "clip")


class Severity(StrEnum):
    """How much a finding matters. Only errors make a token unacceptable."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class TokenErrorReason(StrEnum):
    """Why a token was rejected: a stable, machine-readable code (tests and clients match on it,
    never on the message text)."""

    EMPTY = "empty"
    OVERSIZED = "oversized"
    MALFORMED = "malformed"
    NOT_BASE64URL = "not_base64url"
    HEADER_NOT_JSON = "header_not_json"
    PAYLOAD_NOT_JSON = "payload_not_json"
    ENCRYPTED_JWE = "encrypted_jwe"
    SIGNATURE_MISSING = "signature_missing"
    ALG_NONE = "alg_none"
    ALG_HMAC = "alg_hmac"
    ALG_NOT_ALLOWED = "alg_not_allowed"
    ALG_KEY_MISMATCH = "alg_key_mismatch"
    CRIT_UNSUPPORTED = "crit_unsupported"
    TYP_INVALID = "typ_invalid"
    TYP_NOT_AT_JWT = "typ_not_at_jwt"
    ID_TOKEN = "id_token"
    ISSUER_MISSING = "issuer_missing"
    ISSUER_TRAILING_SLASH = "issuer_trailing_slash"
    ISSUER_MISMATCH = "issuer_mismatch"
    AUDIENCE_MISSING = "audience_missing"
    AUDIENCE_MISMATCH = "audience_mismatch"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    ISSUED_IN_FUTURE = "issued_in_future"
    CLAIM_MISSING = "claim_missing"
    CLAIM_INVALID = "claim_invalid"
    SUBJECT_INVALID = "subject_invalid"
    KID_MISSING = "kid_missing"
    KID_UNKNOWN = "kid_unknown"
    SIGNATURE_INVALID = "signature_invalid"


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """One observation about a token.

    ``what`` and ``fix`` are written for the developer holding the token. They may quote claim
    values (issuer, audience, kid, times), which the caller sent anyway, but never the token, a
    signature, or key material.
    """

    severity: Severity
    code: str
    """A :class:`TokenErrorReason` value for errors; a short snake_case label otherwise."""
    what: str
    fix: str = ""

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    @property
    def text(self) -> str:
        """``what`` and ``fix`` as one sentence pair (the RFC 6750 ``error_description``)."""
        return f"{self.what}. {self.fix[:1].upper()}{self.fix[1:]}" if self.fix else self.what


def clip(value: object, limit: int = 80) -> str:
    """A token-supplied value as it may appear in a message: shortened, so a hostile token cannot
    inflate the ``WWW-Authenticate`` header (or a log line) to the size of the token."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
