"""Signing keys: a JWKS as a :class:`KeySet`, and the providers the authenticator asks for keys.

:class:`JwksKeyProvider` fetches the issuer's JWKS asynchronously with httpx (PyJWT's
``PyJWKClient`` fetches with blocking ``urllib`` and would stall the event loop). It follows the
conventions of Auth0's guidance and express-oauth2-jwt-bearer:

- the JWKS URL is configured, or read from ``<issuer>/.well-known/openid-configuration``;
- the key set is cached for a TTL (10 min) and refreshed when it is older;
- an unknown ``kid`` triggers one refetch, at most once per cooldown (30 s), so a stream of
  forged ``kid`` values cannot turn into a stream of requests to the identity provider;
- concurrent refreshes are single-flight: one request, the other callers wait for its result;
- a failed refresh keeps the last good key set (an IdP outage must not log everybody out);
- only ``http``/``https``, no redirects, a response size limit and a timeout.

Keys are bound to algorithms: a JWK that names its ``alg`` verifies only that algorithm; one that
does not verifies only algorithms of its own key type (RSA: RS*/PS*; EC: the ES* of its curve;
OKP: EdDSA). Symmetric (``oct``) members are dropped, so no JWKS content can ever become an
HMAC secret, and private members are stripped.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

import httpx
import msgspec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwt import PyJWK
from jwt.exceptions import PyJWTError

from permsvc.auth.config import (
    DEFAULT_HTTP_TIMEOUT_S,
    DEFAULT_JWKS_CACHE_TTL_S,
    DEFAULT_JWKS_COOLDOWN_S,
    OidcSettings,
)
from permsvc.auth.errors import InvalidTokenError, KeySetUnavailableError, KeysNotRefreshedError
from permsvc.auth.findings import TokenErrorReason, clip

__all__ = (
    "DEFAULT_MAX_JWKS_BYTES",
    "JwksKeyProvider",
    "KeyProvider",
    "KeySet",
    "StaticKeyProvider",
    "key_fingerprint",
)

DEFAULT_MAX_JWKS_BYTES = 256 * 1024
"""Largest discovery document or JWKS read; real ones are a few KiB."""

_log = logging.getLogger(__name__)

_RSA_ALGS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_ALGS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
_PUBLIC_MEMBERS = ("kty", "kid", "alg", "use", "n", "e", "crv", "x", "y", "key_ops")
_SHOWN_KIDS = 5


class KeyProvider(Protocol):
    """Where the authenticator gets verification keys (a JWKS endpoint, or a fixed set in tests)."""

    async def get_key(self, kid: str | None, alg: str) -> PyJWK:
        """The key that verifies a token with header ``kid`` and ``alg``.

        ``alg`` is already on the allowlist; the key returned is bound to it.

        Raises:
            InvalidTokenError: reason ``KID_UNKNOWN`` (no such key, after any refetch the provider
                allows), ``KID_MISSING`` (no ``kid`` and several keys) or ``ALG_KEY_MISMATCH``.
            KeySetUnavailableError: no key set could be loaded at all.
        """
        ...


def key_fingerprint(key: PyJWK) -> bytes:
    """What identifies a verification key whatever its ``kid``: the SHA-256 of its public key
    (DER SubjectPublicKeyInfo). Two JWKs with the same ``kid`` but other key material differ."""
    public = key.key
    public = public.public_key() if hasattr(public, "public_key") else public
    der = public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).digest()


def _compatible(jwk: Mapping[str, Any], alg: str) -> bool:
    kty = jwk.get("kty")
    if kty == "RSA":
        return alg in _RSA_ALGS
    if kty == "EC":
        crv = jwk.get("crv")
        return isinstance(crv, str) and _EC_ALGS.get(crv) == alg
    if kty == "OKP":
        return alg == "EdDSA" and jwk.get("crv") in ("Ed25519", "Ed448")
    return False


class _Jwk(msgspec.Struct, frozen=True):
    kid: str | None
    alg: str | None
    data: dict[str, Any]


class KeySet:
    """The usable public signing keys of one JWKS document (immutable)."""

    def __init__(self, keys: Sequence[_Jwk], *, source: str) -> None:
        self._keys = tuple(keys)
        self._pyjwk: dict[tuple[int, str], PyJWK] = {}
        self.source = source
        """Where the keys came from (a URL, or a label), for messages."""

    @classmethod
    def from_jwks(cls, document: object, *, source: str) -> KeySet:
        """Keep the members of a JWKS that can verify signatures; skip the rest (as PyJWKSet does).

        Raises:
            KeySetUnavailableError: the document is not a JWKS or holds no usable signing key.
        """
        members = (
            cast("dict[str, Any]", document).get("keys") if isinstance(document, dict) else None
        )
        if not isinstance(members, list):
            raise KeySetUnavailableError(f"{source} is not a JWK Set (no 'keys' array)")
        keys: list[_Jwk] = []
        for item in members:
            if not isinstance(item, dict):
                continue
            member = cast("dict[str, Any]", item)
            if member.get("kty") not in ("RSA", "EC", "OKP"):
                continue
            if member.get("use", "sig") != "sig":
                continue
            ops = member.get("key_ops")
            if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
                continue
            data = {k: member[k] for k in _PUBLIC_MEMBERS if k in member}
            kid, alg = data.get("kid"), data.get("alg")
            if (kid is not None and not isinstance(kid, str)) or (
                alg is not None and (not isinstance(alg, str) or not _compatible(data, alg))
            ):
                continue
            try:
                PyJWK(data, algorithm=alg)
            except (PyJWTError, ValueError, TypeError, KeyError):
                continue
            keys.append(_Jwk(kid, alg, data))
        if not keys:
            raise KeySetUnavailableError(f"{source} holds no usable public signing key")
        return cls(keys, source=source)

    @property
    def kids(self) -> tuple[str | None, ...]:
        return tuple(k.kid for k in self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def has_kid(self, kid: str | None) -> bool:
        return kid is None or any(k.kid == kid for k in self._keys)

    def select(self, kid: str | None, alg: str) -> PyJWK:
        """The key for ``kid``, bound to ``alg``. Raises :class:`InvalidTokenError` (see KeyProvider)."""
        if kid is None:
            if len(self._keys) != 1:
                raise InvalidTokenError(
                    TokenErrorReason.KID_MISSING,
                    f"the token has no 'kid' header and the issuer's JWKS ({self.source}) holds "
                    f"{len(self._keys)} keys, so its signing key is ambiguous",
                    "send a token issued by the configured issuer (issuers put 'kid' in every token)",
                )
            candidates = [0]
        else:
            candidates = [i for i, k in enumerate(self._keys) if k.kid == kid]
        if not candidates:
            shown = ", ".join(str(k) for k in self.kids[:_SHOWN_KIDS])
            raise InvalidTokenError(
                TokenErrorReason.KID_UNKNOWN,
                f"the token's signing key (kid '{clip(kid)}') is not among the issuer's keys "
                f"({self.source}: {shown})",
                "the token was signed by another tenant or environment, or with a key the issuer "
                "no longer publishes; get a fresh token from the configured issuer",
            )
        for index in candidates:
            jwk = self._keys[index]
            if (jwk.alg or alg) == alg and _compatible(jwk.data, alg):
                cached = self._pyjwk.get((index, alg))
                if cached is None:
                    cached = self._pyjwk[(index, alg)] = PyJWK(jwk.data, algorithm=alg)
                return cached
        jwk = self._keys[candidates[0]]
        raise InvalidTokenError(
            TokenErrorReason.ALG_KEY_MISMATCH,
            f"the token says alg {alg}, but its key (kid '{jwk.kid}') is an {jwk.data.get('kty')} "
            f"key for {jwk.alg or 'other algorithms'}",
            "the token's header was altered, or the issuer signs with another algorithm than it declares",
        )


class StaticKeyProvider:
    """A fixed key set: tests, and deployments that pin their keys."""

    def __init__(
        self, keys: KeySet | Mapping[str, Any], *, source: str = "the configured JWKS"
    ) -> None:
        self.keys = (
            keys if isinstance(keys, KeySet) else KeySet.from_jwks(dict(keys), source=source)
        )

    async def get_key(self, kid: str | None, alg: str) -> PyJWK:
        return self.keys.select(kid, alg)


def _require_http(url: str, what: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise KeySetUnavailableError(f"{what} URL {url!r} is not http(s); it is not fetched")


class JwksKeyProvider:
    """The issuer's JWKS, fetched asynchronously, cached, refreshed with cooldown and single flight.

    Attributes:
        fetch_count: JWKS fetches attempted (for metrics and tests).
        last_error: why the last fetch failed, or ``None`` after a success.
        discovered_issuer: the ``issuer`` of the discovery document, when discovery was used.
    """

    def __init__(
        self,
        *,
        issuer: str,
        jwks_url: str | None = None,
        client: httpx.AsyncClient | None = None,
        cache_ttl_s: float = DEFAULT_JWKS_CACHE_TTL_S,
        cooldown_s: float = DEFAULT_JWKS_COOLDOWN_S,
        timeout_s: float = DEFAULT_HTTP_TIMEOUT_S,
        max_bytes: int = DEFAULT_MAX_JWKS_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _require_http(issuer, "issuer")
        if jwks_url is not None:
            _require_http(jwks_url, "JWKS")
        self._issuer = issuer
        self._configured_jwks_url = jwks_url
        self._jwks_url = jwks_url
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)
        self._ttl = cache_ttl_s
        self._cooldown = cooldown_s
        self._timeout = timeout_s
        self._max_bytes = max_bytes
        self._clock = clock
        self._lock = asyncio.Lock()
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._last_attempt: float | None = None
        self._attempts: int = 0
        self.fetch_count = 0
        self.last_error: str | None = None
        self.discovered_issuer: str | None = None

    @classmethod
    def from_settings(
        cls, settings: OidcSettings, *, client: httpx.AsyncClient | None = None
    ) -> JwksKeyProvider:
        return cls(
            issuer=settings.issuer,
            jwks_url=settings.jwks_url,
            client=client,
            cache_ttl_s=settings.jwks_cache_ttl_s,
            cooldown_s=settings.jwks_cooldown_s,
            timeout_s=settings.http_timeout_s,
        )

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def get_key(self, kid: str | None, alg: str) -> PyJWK:
        """See :class:`KeyProvider`; also raises :class:`KeysNotRefreshedError` (503) for an
        unknown ``kid`` while the JWKS cannot be fetched (the last attempt failed): the token may
        be signed with a key the issuer published since."""
        keys = await self.key_set()
        if keys.has_kid(kid):
            return keys.select(kid, alg)
        await self._refresh()
        latest = self._keys if self._keys is not None else keys
        if not latest.has_kid(kid) and self.last_error is not None:
            raise KeysNotRefreshedError(kid, latest.source, self.last_error)
        return latest.select(kid, alg)

    async def key_set(self) -> KeySet:
        """The current key set: loaded on first use, refreshed once older than the TTL.

        Raises:
            KeySetUnavailableError: nothing could be loaded yet (or retried within the cooldown).
        """
        keys = self._keys
        if keys is None or self._clock() - self._fetched_at >= self._ttl:
            refreshed = await self._refresh()
            keys = self._keys if refreshed is None else refreshed
        if keys is None:
            raise KeySetUnavailableError(
                f"the signing keys of {self._issuer} could not be loaded: {self.last_error}"
            )
        return keys

    async def _refresh(self) -> KeySet | None:
        """Fetch once for everybody waiting; ``None`` when the cooldown forbids it or it failed.

        Callers that queued behind a fetch get its outcome (the current set) instead of fetching
        again: that is the single flight.
        """
        seen = self._attempts
        async with self._lock:
            if self._attempts != seen:
                return self._keys
            now = self._clock()
            if self._last_attempt is not None and now - self._last_attempt < self._cooldown:
                return None
            self._last_attempt = now
            self.fetch_count += 1
            try:
                keys = await self._fetch()
            except KeySetUnavailableError as err:
                self.last_error = err.detail
                if self._configured_jwks_url is None:
                    self._jwks_url = None
                _log.warning(
                    "JWKS refresh failed (keeping %s): %s",
                    "the last good key set" if self._keys else "no key set",
                    err.detail,
                )
                return None
            finally:
                self._attempts += 1
            self._keys = keys
            self._fetched_at = now
            self.last_error = None
            return keys

    async def _fetch(self) -> KeySet:
        if self._jwks_url is None:
            discovery_url = self._issuer.rstrip("/") + "/.well-known/openid-configuration"
            document = await self._get_json(discovery_url, "discovery document")
            if not isinstance(document, dict):
                raise KeySetUnavailableError(
                    f"discovery document {discovery_url} is not a JSON object"
                )
            document = cast("dict[str, Any]", document)
            jwks_uri = document.get("jwks_uri")
            if not isinstance(jwks_uri, str):
                raise KeySetUnavailableError(f"discovery document {discovery_url} has no jwks_uri")
            _require_http(jwks_uri, "JWKS")
            issuer = document.get("issuer")
            self.discovered_issuer = issuer if isinstance(issuer, str) else None
            if self.discovered_issuer is not None and self.discovered_issuer != self._issuer:
                _log.warning(
                    "the discovery document names issuer %r, but PERMSVC_OIDC_ISSUER is %r: tokens "
                    "will be rejected as issued by another issuer",
                    self.discovered_issuer,
                    self._issuer,
                )
            self._jwks_url = jwks_uri
        return KeySet.from_jwks(await self._get_json(self._jwks_url, "JWKS"), source=self._jwks_url)

    async def _get_json(self, url: str, what: str) -> Any:
        _require_http(url, what)
        body = bytearray()
        try:
            async with asyncio.timeout(self._timeout):
                async with self._client.stream(
                    "GET", url, headers={"Accept": "application/json"}, follow_redirects=False
                ) as response:
                    if response.is_redirect:
                        raise KeySetUnavailableError(
                            f"{what} {url} answered {response.status_code} (a redirect); redirects "
                            "are not followed: configure the final URL"
                        )
                    if response.status_code != 200:
                        raise KeySetUnavailableError(
                            f"{what} {url} answered HTTP {response.status_code}"
                        )
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > self._max_bytes:
                            raise KeySetUnavailableError(
                                f"{what} {url} is larger than {self._max_bytes} bytes"
                            )
        except TimeoutError:
            raise KeySetUnavailableError(
                f"{what} {url} did not answer within {self._timeout} s"
            ) from None
        except httpx.HTTPError as err:
            raise KeySetUnavailableError(
                f"{what} {url} could not be fetched ({type(err).__name__})"
            ) from err
        try:
            return json.loads(bytes(body))
        except ValueError:
            raise KeySetUnavailableError(f"{what} {url} is not JSON") from None
