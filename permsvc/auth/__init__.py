"""Bearer access-token validation (OIDC/Auth0), token diagnosis and API-key helpers."""

from __future__ import annotations

from permsvc.auth.claims import AuthClaims, TokenKind
from permsvc.auth.config import OidcSettings
from permsvc.auth.diagnose import Diagnosis, explain, explain_and_verify
from permsvc.auth.errors import (
    AuthError,
    ForbiddenError,
    InsufficientScopeError,
    InvalidApiKeyError,
    InvalidRequestError,
    InvalidTokenError,
    KeySetUnavailableError,
    MissingBearerTokenError,
    OidcConfigError,
)
from permsvc.auth.findings import Finding, Severity, TokenErrorReason
from permsvc.auth.jwks import JwksKeyProvider, KeyProvider, KeySet, StaticKeyProvider
from permsvc.auth.jwt import JwtAuthenticator, extract_bearer_token

__all__ = (
    "AuthClaims",
    "AuthError",
    "Diagnosis",
    "Finding",
    "ForbiddenError",
    "InsufficientScopeError",
    "InvalidApiKeyError",
    "InvalidRequestError",
    "InvalidTokenError",
    "JwksKeyProvider",
    "JwtAuthenticator",
    "KeyProvider",
    "KeySet",
    "KeySetUnavailableError",
    "MissingBearerTokenError",
    "OidcConfigError",
    "OidcSettings",
    "Severity",
    "StaticKeyProvider",
    "TokenErrorReason",
    "TokenKind",
    "explain",
    "explain_and_verify",
    "extract_bearer_token",
)
