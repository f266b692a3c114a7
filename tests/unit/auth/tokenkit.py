"""Keys, token builders and settings for the auth tests: local key sets, no network."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from permsvc.auth.config import OidcSettings

ISSUER = "https://tenant.example.auth0.com/"
AUDIENCE = "https://my-api"


def b64(data: bytes | str | dict[str, Any] | list[Any]) -> str:
    if isinstance(data, dict | list):
        data = json.dumps(data, separators=(",", ":"))
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return f"{b64(header)}.{b64(payload)}.{b64(signature) if signature else ''}"


def public_jwk(private_key: Any, kid: str, alg: str | None) -> dict[str, Any]:
    if isinstance(private_key, rsa.RSAPrivateKey):
        jwk = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    else:
        jwk = ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    jwk.update({"kid": kid, "use": "sig"})
    if alg:
        jwk["alg"] = alg
    return jwk


class Keys:
    """The issuer's keys (k1, k2: RSA; e1: EC P-256) and an attacker's key."""

    def __init__(self) -> None:
        self.k1 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.k2 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.e1 = ec.generate_private_key(ec.SECP256R1())
        self.attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                public_jwk(self.k1, "k1", "RS256"),
                public_jwk(self.k2, "k2", None),
                public_jwk(self.e1, "e1", "ES256"),
            ]
        }


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "auth0|42",
        "aud": [AUDIENCE, f"{ISSUER}userinfo"],
        "iat": now,
        "exp": now + 3600,
        "azp": "spa-client",
        "scope": "openid profile read:docs",
    }
    for name, value in overrides.items():
        if value is None:
            base.pop(name, None)
        else:
            base[name] = value
    return base


class TokenFactory:
    def __init__(self, keys: Keys) -> None:
        self.keys = keys

    def __call__(
        self,
        payload: dict[str, Any] | None = None,
        *,
        key: Any = None,
        alg: str = "RS256",
        kid: str | None = "k1",
        **header: Any,
    ) -> str:
        headers = (
            {"kid": kid, "typ": "JWT", **header} if kid is not None else {"typ": "JWT", **header}
        )
        headers = {k: v for k, v in headers.items() if v is not None}
        return jwt.encode(
            claims() if payload is None else payload,
            key or self.keys.k1,
            algorithm=alg,
            headers=headers,
        )


def settings(**overrides: Any) -> OidcSettings:
    values: dict[str, Any] = {
        "issuer": ISSUER,
        "audiences": (AUDIENCE,),
        "algorithms": ("RS256", "PS256"),
    }
    values.update(overrides)
    return OidcSettings(**values)
