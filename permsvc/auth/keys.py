"""API keys for machine callers of the admin API: ``psk_<id>_<secret>``.

The id is public (it names the key in listings and logs and finds the stored row); only a hash of
the secret is stored. The secret has 160 random bits, so one SHA-256 is enough: slow hashes
(scrypt) defend guessable passwords, not random keys. ``scrypt`` is offered for deployments whose
policy asks for it. Verification compares in constant time (:func:`hmac.compare_digest`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

import msgspec

from permsvc.auth.errors import InvalidApiKeyError

__all__ = (
    "API_KEY_PREFIX",
    "ApiKey",
    "generate_api_key",
    "hash_api_key",
    "key_id_of",
    "parse_api_key",
    "secret_digest",
    "verify_api_key",
)

API_KEY_PREFIX = "psk"
_ID_BYTES = 6
_SECRET_BYTES = 20
_KEY = re.compile(rf"^{API_KEY_PREFIX}_([a-z2-7]{{10}})_([a-z2-7]{{32}})$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


class ApiKey(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed API key. ``repr`` hides the secret."""

    key_id: str
    secret: str

    def __str__(self) -> str:
        return f"{API_KEY_PREFIX}_{self.key_id}_{self.secret}"

    def __repr__(self) -> str:
        return f"ApiKey(key_id={self.key_id!r}, secret=<hidden>)"


def secret_digest(value: str) -> bytes:
    """SHA-256 of a configured secret (a ``PERMSVC_API_KEYS`` entry, or a presented credential to
    compare with one). Configured keys are kept only in this form, and comparing digests with
    :func:`hmac.compare_digest` takes the same time whatever the lengths of the two secrets."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def generate_api_key() -> ApiKey:
    """A new random key; show ``str(key)`` to its owner once and store :func:`hash_api_key`."""
    return ApiKey(
        key_id=_b32(secrets.token_bytes(_ID_BYTES)), secret=_b32(secrets.token_bytes(_SECRET_BYTES))
    )


def parse_api_key(value: str) -> ApiKey:
    """Parse ``psk_<id>_<secret>``.

    Raises:
        InvalidApiKeyError: the value is not an API key (the message never echoes it).
    """
    match = _KEY.match(value.strip())
    if match is None:
        raise InvalidApiKeyError(
            f"not a permsvc API key: expected '{API_KEY_PREFIX}_<id>_<secret>'"
        )
    return ApiKey(key_id=match.group(1), secret=match.group(2))


def key_id_of(value: str) -> str:
    """The key id a value names: ``value`` itself, or the ``<id>`` of a whole (or cut-off)
    ``psk_<id>_<secret>`` pasted where an id was asked for, so the secret part is never used,
    stored or echoed."""
    value = value.strip()
    if value.startswith(f"{API_KEY_PREFIX}_"):
        return value[len(API_KEY_PREFIX) + 1 :].partition("_")[0]
    return value


def hash_api_key(key: ApiKey, *, scheme: str = "sha256") -> str:
    """The stored form of ``key``'s secret: ``sha256$<hex>`` or ``scrypt$<salt>$<hex>``."""
    secret = key.secret.encode("ascii")
    if scheme == "sha256":
        return "sha256$" + hashlib.sha256(secret).hexdigest()
    if scheme == "scrypt":
        salt = secrets.token_bytes(16)
        digest = hashlib.scrypt(secret, salt=salt, **_SCRYPT)
        return f"scrypt${salt.hex()}${digest.hex()}"
    raise ValueError(f"unknown API key hash scheme {scheme!r}: use 'sha256' or 'scrypt'")


def verify_api_key(key: ApiKey, stored: str) -> bool:
    """Whether ``key`` matches ``stored`` (from :func:`hash_api_key`), compared in constant time.

    A malformed ``stored`` value never matches.
    """
    scheme, _, rest = stored.partition("$")
    secret = key.secret.encode("ascii")
    if scheme == "sha256":
        expected = hashlib.sha256(secret).hexdigest()
        return hmac.compare_digest(expected.encode(), rest.encode())
    if scheme == "scrypt":
        salt_hex, _, digest_hex = rest.partition("$")
        try:
            salt = bytes.fromhex(salt_hex)
        except ValueError:
            return False
        if not salt or not digest_hex:
            return False
        digest = hashlib.scrypt(secret, salt=salt, **_SCRYPT)
        return hmac.compare_digest(digest.hex().encode(), digest_hex.encode())
    return False
