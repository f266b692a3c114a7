"""OIDC access-token settings, loaded from ``PERMSVC_OIDC_*`` environment variables.

Every variable ``NAME`` may instead be given as ``NAME_FILE``: the path of a file holding the
value (the Docker/Kubernetes secrets convention), so configuration can live in mounted files.
Setting both is an error rather than a silent precedence rule.

=============================  =====================================================  ===============
Variable                       Meaning                                                Default
=============================  =====================================================  ===============
PERMSVC_OIDC_ISSUER            expected ``iss``, exactly (Auth0: ``https://T.auth0.com/``)  (unset: off)
PERMSVC_OIDC_AUDIENCE          accepted ``aud`` values, comma-separated               required
PERMSVC_OIDC_JWKS_URL          JWKS location; otherwise taken from discovery          discovery
PERMSVC_OIDC_ALGORITHMS        allowed signing algorithms, comma-separated            RS256
PERMSVC_OIDC_STRICT            RFC 9068 strict mode (``typ: at+jwt`` and its claims)  false
PERMSVC_OIDC_LEEWAY            clock tolerance for exp/nbf/iat, seconds               5
PERMSVC_OIDC_REQUIRED_CLAIMS   extra claims every token must carry, comma-separated   (none)
PERMSVC_SUBJECT_TYPE           object type of the token subject (``user:<sub>``)      user
PERMSVC_SUBJECT_CLAIM          claim naming the subject                               sub
PERMSVC_ADMIN_SCOPE            scope (or Auth0 permission) that grants admin access   permsvc:admin
=============================  =====================================================  ===============
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import msgspec

from permsvc.auth.errors import OidcConfigError

__all__ = (
    "ASYMMETRIC_ALGORITHMS",
    "DEFAULT_ADMIN_SCOPE",
    "DEFAULT_ALGORITHMS",
    "DEFAULT_HTTP_TIMEOUT_S",
    "DEFAULT_JWKS_CACHE_TTL_S",
    "DEFAULT_JWKS_COOLDOWN_S",
    "DEFAULT_LEEWAY_S",
    "DEFAULT_MAX_TOKEN_BYTES",
    "DEFAULT_SUBJECT_CLAIM",
    "DEFAULT_SUBJECT_TYPE",
    "OidcSettings",
)

DEFAULT_ALGORITHMS = ("RS256",)
"""Auth0's default and the one algorithm RFC 9068 makes mandatory."""

ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""Every algorithm that may be allowed. HS* is absent on purpose: keys come from a public JWKS,
and verifying an HMAC with public material is the classic algorithm-confusion hole."""

DEFAULT_LEEWAY_S = 5
"""Clock tolerance for ``exp``/``nbf``/``iat`` (express-oauth2-jwt-bearer's ``clockTolerance``)."""

DEFAULT_JWKS_CACHE_TTL_S = 600.0
"""How long a fetched JWKS is used before it is refreshed (Auth0 advises 5-10 minutes)."""

DEFAULT_JWKS_COOLDOWN_S = 30.0
"""Minimum time between two JWKS fetches caused by unknown ``kid`` values or failures."""

DEFAULT_HTTP_TIMEOUT_S = 5.0
"""Timeout of one discovery or JWKS request."""

DEFAULT_MAX_TOKEN_BYTES = 16 * 1024
"""Longest token inspected at all (Node's whole header block is 16 KiB)."""

DEFAULT_SUBJECT_TYPE = "user"
DEFAULT_SUBJECT_CLAIM = "sub"
DEFAULT_ADMIN_SCOPE = "permsvc:admin"

_TYPE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-./]*$")


def _check_url(name: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise OidcConfigError(f"{name} must be an http(s) URL, got {value!r}")


class OidcSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How bearer access tokens are validated. Validated on construction."""

    issuer: str
    """The exact ``iss`` value. Auth0 issuers end with ``/``; no normalisation is applied."""
    audiences: tuple[str, ...]
    """A token is accepted if any of its ``aud`` values is one of these (the API identifier)."""
    jwks_url: str | None = None
    """Where the signing keys are; when ``None``, ``jwks_uri`` from the issuer's discovery document."""
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    """Allowed ``alg`` values; only asymmetric algorithms (see :data:`ASYMMETRIC_ALGORITHMS`)."""
    strict: bool = False
    """RFC 9068 strict mode: ``typ`` must be ``at+jwt`` and ``sub``, ``client_id``, ``jti``,
    ``iat`` must be present."""
    leeway_s: int = DEFAULT_LEEWAY_S
    """Clock tolerance for ``exp``, ``nbf`` and ``iat``."""
    required_claims: tuple[str, ...] = ()
    """Claims that must be present in addition to ``iss``, ``aud``, ``exp``, ``iat`` and the subject claim."""
    subject_type: str = DEFAULT_SUBJECT_TYPE
    """The object type of the token subject: ``sub`` maps to ``<subject_type>:<sub>``."""
    subject_claim: str = DEFAULT_SUBJECT_CLAIM
    """The claim holding the subject id."""
    admin_scope: str = DEFAULT_ADMIN_SCOPE
    """A scope (``scope`` claim) or permission (Auth0 ``permissions`` claim) granting admin access."""
    jwks_cache_ttl_s: float = DEFAULT_JWKS_CACHE_TTL_S
    jwks_cooldown_s: float = DEFAULT_JWKS_COOLDOWN_S
    http_timeout_s: float = DEFAULT_HTTP_TIMEOUT_S
    max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES

    def __post_init__(self) -> None:
        _check_url("the issuer (PERMSVC_OIDC_ISSUER)", self.issuer)
        if self.jwks_url is not None:
            _check_url("the JWKS URL (PERMSVC_OIDC_JWKS_URL)", self.jwks_url)
        if not self.audiences or not all(self.audiences):
            raise OidcConfigError(
                "PERMSVC_OIDC_AUDIENCE must name at least one audience (your API identifier)"
            )
        if not self.algorithms:
            raise OidcConfigError("PERMSVC_OIDC_ALGORITHMS must name at least one algorithm")
        for alg in self.algorithms:
            if alg.lower() == "none":
                raise OidcConfigError("alg 'none' cannot be allowed: unsigned tokens prove nothing")
            if alg.upper().startswith("HS"):
                raise OidcConfigError(
                    f"{alg} cannot be allowed: keys come from the issuer's public JWKS, and HMAC "
                    "with public key material is forgeable; use RS256, PS256 or ES256"
                )
            if alg not in ASYMMETRIC_ALGORITHMS:
                raise OidcConfigError(
                    f"unknown algorithm {alg!r} in PERMSVC_OIDC_ALGORITHMS; choose from "
                    + ", ".join(sorted(ASYMMETRIC_ALGORITHMS))
                )
        if not _TYPE_NAME.match(self.subject_type):
            raise OidcConfigError(
                f"PERMSVC_SUBJECT_TYPE {self.subject_type!r} is not a type name (no ':', '#', spaces)"
            )
        if not self.subject_claim:
            raise OidcConfigError("PERMSVC_SUBJECT_CLAIM must not be empty")
        if not 0 <= self.leeway_s <= 300:
            raise OidcConfigError(
                f"PERMSVC_OIDC_LEEWAY must be 0..300 seconds, got {self.leeway_s}"
            )
        if self.max_token_bytes < 1024:
            raise OidcConfigError("max_token_bytes must be at least 1024")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> OidcSettings | None:
        """Read the settings from ``PERMSVC_*`` variables (or their ``*_FILE`` equivalents).

        Returns:
            ``None`` when ``PERMSVC_OIDC_ISSUER`` is not set: token validation is then off.

        Raises:
            OidcConfigError: a variable is malformed, given twice, or a required one is missing.
        """
        env = os.environ if environ is None else environ
        issuer = _read(env, "PERMSVC_OIDC_ISSUER")
        if issuer is None:
            return None
        audience = _read(env, "PERMSVC_OIDC_AUDIENCE")
        if audience is None:
            raise OidcConfigError(
                "PERMSVC_OIDC_ISSUER is set but PERMSVC_OIDC_AUDIENCE is not; set it to your API "
                "identifier (the audience your tokens are requested for)"
            )
        values: dict[str, object] = {"issuer": issuer, "audiences": _split(audience)}
        if (jwks := _read(env, "PERMSVC_OIDC_JWKS_URL")) is not None:
            values["jwks_url"] = jwks
        if (algs := _read(env, "PERMSVC_OIDC_ALGORITHMS")) is not None:
            values["algorithms"] = _split(algs)
        if (strict := _read(env, "PERMSVC_OIDC_STRICT")) is not None:
            values["strict"] = _bool("PERMSVC_OIDC_STRICT", strict)
        if (leeway := _read(env, "PERMSVC_OIDC_LEEWAY")) is not None:
            values["leeway_s"] = _int("PERMSVC_OIDC_LEEWAY", leeway)
        if (required := _read(env, "PERMSVC_OIDC_REQUIRED_CLAIMS")) is not None:
            values["required_claims"] = _split(required)
        if (subject_type := _read(env, "PERMSVC_SUBJECT_TYPE")) is not None:
            values["subject_type"] = subject_type
        if (subject_claim := _read(env, "PERMSVC_SUBJECT_CLAIM")) is not None:
            values["subject_claim"] = subject_claim
        if (admin_scope := _read(env, "PERMSVC_ADMIN_SCOPE")) is not None:
            values["admin_scope"] = admin_scope
        return cls(**values)  # type: ignore[arg-type]


def _read(env: Mapping[str, str], name: str) -> str | None:
    direct = env.get(name)
    file_name = env.get(f"{name}_FILE")
    if direct is not None and file_name is not None:
        raise OidcConfigError(f"both {name} and {name}_FILE are set; set only one")
    if file_name is not None:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as err:
            raise OidcConfigError(
                f"{name}_FILE: cannot read {file_name!r}: {err.strerror}"
            ) from err
    return direct.strip() if direct is not None else None


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _bool(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise OidcConfigError(f"{name} must be true or false, got {value!r}")


def _int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise OidcConfigError(f"{name} must be an integer, got {value!r}") from None
