"""Bearer access-token validation: :class:`JwtAuthenticator`.

The pipeline, cheapest and most explanatory first:

1. the verified-token cache (a token seen and accepted before, still unexpired, *and its signing
   key still published*: see :class:`_VerifiedTokenCache`);
2. structure (:func:`~permsvc.auth.checks.decode_token`): size, segments, base64url, JSON, JWE;
3. header and claims (:mod:`permsvc.auth.checks`) on the unverified token, so that doomed
   tokens are explained precisely and never cause a JWKS request;
4. the key for ``kid``, bound to the header ``alg`` (already on the allowlist);
5. PyJWT verifies the signature with ``algorithms=[key.algorithm_name]`` and re-checks ``iss``
   and ``aud`` on the verified payload. Time claims are checked once, in step 3, against the
   authenticator's clock, so tests can move time without patching PyJWT.

Header parameters that point at keys (``jku``, ``x5u``, ``jwk``, ``x5c``) are never used: keys
come only from the configured issuer.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import httpx
import jwt
from jwt import PyJWK

from permsvc.auth.checks import (
    TokenPolicy,
    check_claims,
    check_header,
    decode_token,
    raise_first_error,
)
from permsvc.auth.claims import AuthClaims, client_id_of, scopes_of, token_kind_of
from permsvc.auth.config import OidcSettings
from permsvc.auth.errors import (
    InsufficientScopeError,
    InvalidRequestError,
    InvalidTokenError,
    MissingBearerTokenError,
)
from permsvc.auth.findings import TokenErrorReason
from permsvc.auth.jwks import JwksKeyProvider, KeyProvider, key_fingerprint

__all__ = (
    "DEFAULT_VERIFIED_CACHE_SIZE",
    "JwtAuthenticator",
    "extract_bearer_token",
    "verify_signature",
)

DEFAULT_VERIFIED_CACHE_SIZE = 1024
"""Tokens remembered as verified (by SHA-256), each until its ``exp``."""


KNOWN_SCHEMES = frozenset(
    {
        "aws4-hmac-sha256",
        "basic",
        "concealed",
        "digest",
        "dpop",
        "gnap",
        "hoba",
        "mutual",
        "negotiate",
        "ntlm",
        "oauth",
        "privatetoken",
        "scram-sha-1",
        "scram-sha-256",
        "token",
        "vapid",
    }
)
"""Authentication schemes an error message may name (IANA's HTTP Authentication Scheme Registry
and the common ``Token``). Any other first word of a header is not quoted: it is most often the
credential itself, sent without ``Bearer`` (``Authorization: psk_...``, ``Bearer:psk_...``)."""


def _scheme_in_words(scheme: str, rest: str) -> str:
    """How an error names a header's scheme without ever quoting a credential."""
    if scheme.lower() in KNOWN_SCHEMES:
        return f"uses the '{scheme}' scheme"
    if scheme.lower().startswith("bearer"):
        return "misspells the 'Bearer' scheme (one space, then the credential)"
    if not rest.strip():
        return "holds no scheme (is the 'Bearer ' prefix missing?)"
    return "uses an unknown scheme"


def extract_bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header value (RFC 6750 §2.1).

    Raises:
        MissingBearerTokenError: no header, or another scheme (401 without an error code).
        InvalidRequestError: ``Bearer`` without a token, or with more than one word after it.
    """
    if authorization is None or not authorization.strip():
        raise MissingBearerTokenError(
            "no bearer token: send 'Authorization: Bearer <access token>'"
        )
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise MissingBearerTokenError(
            f"the Authorization header {_scheme_in_words(scheme, rest)}; send 'Authorization: Bearer <access token>'"
        )
    words = rest.split()
    if not words:
        raise InvalidRequestError("the Authorization header says 'Bearer' but carries no token")
    if len(words) > 1:
        hint = " (the 'Bearer' prefix was sent twice)" if words[0].lower() == "bearer" else ""
        raise InvalidRequestError(
            f"the Authorization header carries {len(words)} words after 'Bearer'{hint}; send "
            "exactly 'Bearer <token>'"
        )
    return words[0]


def verify_signature(
    token: str, key: PyJWK, *, issuer: str | None = None, audiences: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Verify the signature with ``key`` (and ``iss``/``aud`` when given); return the payload.

    Time claims are not checked here (see the module docstring).

    Raises:
        InvalidTokenError: reason ``SIGNATURE_INVALID``, ``ALG_KEY_MISMATCH``, or ``CLAIM_INVALID``.
    """
    options: dict[str, Any] = {
        "verify_exp": False,
        "verify_nbf": False,
        "verify_iat": False,
        "verify_iss": issuer is not None,
        "verify_aud": bool(audiences),
    }
    try:
        return jwt.decode(
            token,
            key,
            algorithms=[key.algorithm_name],
            issuer=issuer,
            audience=list(audiences) or None,
            options=options,  # type: ignore[arg-type]
        )
    except jwt.InvalidSignatureError:
        raise InvalidTokenError(
            TokenErrorReason.SIGNATURE_INVALID,
            f"the signature does not verify with the issuer's key (kid '{key.key_id}')",
            "the token was altered, or signed by someone else with the same kid; get a fresh token "
            "from the configured issuer",
        ) from None
    except jwt.DecodeError:
        raise InvalidTokenError(
            TokenErrorReason.SIGNATURE_INVALID,
            "the signature segment is malformed",
            "send the complete token as issued (it was cut off or altered)",
        ) from None
    except jwt.InvalidAlgorithmError as err:
        raise InvalidTokenError(
            TokenErrorReason.ALG_KEY_MISMATCH, f"the algorithm does not fit the key: {err}"
        ) from None
    except jwt.PyJWTError as err:
        raise InvalidTokenError(
            TokenErrorReason.CLAIM_INVALID, f"the token failed verification: {err}"
        ) from None


class _Verified:
    """A cache entry: the claims of a verified token and the key that verified it."""

    __slots__ = ("alg", "claims", "fingerprint", "key", "kid")

    def __init__(self, claims: AuthClaims, kid: str | None, alg: str, key: PyJWK) -> None:
        self.claims = claims
        self.kid = kid
        self.alg = alg
        self.key = key
        self.fingerprint = key_fingerprint(key)


class _VerifiedTokenCache:
    """Accepted tokens by SHA-256, each valid until its ``exp`` and only while the key that
    verified it is still the issuer's; least recently used evicted first.

    An entry remembers the token's ``kid`` and the fingerprint of the key that verified it. A hit
    first asks the key provider for that ``kid`` again (a dictionary lookup in the current key
    set, which the provider refreshes on its TTL): when the issuer no longer publishes the key, or
    publishes another key under the same ``kid``, the entry is dropped and the token validated
    afresh, which refuses it. So an entry dies with its key, in every process: each worker's cache
    consults that worker's own key set, and each worker refuses the token from its first refetch
    that lacks the key (at the latest one JWKS TTL after the issuer dropped it), exactly as it
    refuses tokens it never saw. Entries also expire at ``exp`` exactly (not ``exp`` + leeway): the
    cache never accepts what a fresh validation would refuse.
    """

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._entries: OrderedDict[bytes, _Verified] = OrderedDict()
        self.hits = 0
        """Tokens accepted from the cache, without signature work (for metrics and tests)."""

    async def get(self, digest: bytes, now: float, keys: KeyProvider) -> AuthClaims | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if now >= entry.claims.expires_at:
            del self._entries[digest]
            return None
        try:
            key = await keys.get_key(entry.kid, entry.alg)
        except InvalidTokenError:
            self._entries.pop(digest, None)
            return None
        if key is not entry.key:
            if key_fingerprint(key) != entry.fingerprint:
                self._entries.pop(digest, None)
                return None
            entry.key = key  # the same key from a refetched key set
        self._entries.move_to_end(digest)
        self.hits += 1
        return entry.claims

    def put(self, digest: bytes, entry: _Verified) -> None:
        if self._max <= 0:
            return
        self._entries[digest] = entry
        self._entries.move_to_end(digest)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class JwtAuthenticator:
    """Validates bearer access tokens against one issuer and turns them into :class:`AuthClaims`.

    Build it once at start-up (``JwtAuthenticator.from_settings(settings)``), share it across
    requests, and ``await aclose()`` on shutdown.
    """

    def __init__(
        self,
        settings: OidcSettings,
        keys: KeyProvider,
        *,
        cache_size: int = DEFAULT_VERIFIED_CACHE_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.policy = TokenPolicy.from_settings(settings)
        self.keys = keys
        self._clock = clock
        self._cache = _VerifiedTokenCache(cache_size)

    @classmethod
    def from_settings(
        cls, settings: OidcSettings, *, client: httpx.AsyncClient | None = None
    ) -> JwtAuthenticator:
        """An authenticator whose keys come from the issuer's JWKS (see :class:`JwksKeyProvider`)."""
        return cls(settings, JwksKeyProvider.from_settings(settings, client=client))

    async def aclose(self) -> None:
        aclose = getattr(self.keys, "aclose", None)
        if aclose is not None:
            await aclose()

    async def authenticate_header(self, authorization: str | None) -> AuthClaims:
        """Validate the token of an ``Authorization`` header value (see :func:`extract_bearer_token`)."""
        return await self.authenticate(extract_bearer_token(authorization))

    async def authenticate(self, token: str) -> AuthClaims:
        """Validate a bearer access token.

        Raises:
            InvalidTokenError: the token is not acceptable; ``reason`` says why and ``description``
                says how to fix it (401 ``invalid_token``).
            KeySetUnavailableError: the issuer's keys cannot be loaded (503).
        """
        now = self._clock()
        policy = self.policy
        digest = None
        if len(token) <= policy.max_token_bytes:
            digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
            if (hit := await self._cache.get(digest, now, self.keys)) is not None:
                return hit
        decoded = decode_token(token, max_bytes=policy.max_token_bytes)
        raise_first_error(check_header(decoded, policy))
        raise_first_error(check_claims(decoded, policy, now))
        alg: str = decoded.header["alg"]
        kid: str | None = decoded.header.get("kid")
        key = await self.keys.get_key(kid, alg)
        payload = verify_signature(token, key, issuer=policy.issuer, audiences=policy.audiences)
        claims = self._claims(payload)
        if digest is not None:
            self._cache.put(digest, _Verified(claims, kid, alg, key))
        return claims

    @property
    def cache_hits(self) -> int:
        """Tokens accepted from the verified-token cache so far."""
        return self._cache.hits

    def require_admin(self, claims: AuthClaims) -> None:
        """Raise :class:`InsufficientScopeError` unless the token grants the admin scope."""
        if self.settings.admin_scope not in claims.scopes:
            raise InsufficientScopeError((self.settings.admin_scope,), claims.scopes)

    def _claims(self, payload: dict[str, Any]) -> AuthClaims:
        aud = payload["aud"]
        jti = payload.get("jti")
        return AuthClaims(
            subject=payload[self.policy.subject_claim],
            subject_type=self.policy.subject_type,
            token_type=token_kind_of(payload),
            client_id=client_id_of(payload),
            scopes=scopes_of(payload),
            audience=(aud,) if isinstance(aud, str) else tuple(aud),
            issuer=payload["iss"],
            expires_at=int(payload["exp"]),
            token_id=jti if isinstance(jti, str) else None,
            raw=MappingProxyType(payload),
        )
