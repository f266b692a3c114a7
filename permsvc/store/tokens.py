"""Opaque continuation tokens shared by every backend: URL-safe base64 of a small JSON object."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec

from permsvc.store.errors import InvalidContinuationTokenError

__all__ = ("decode_page_token", "encode_page_token")

_MAX_TOKEN_LENGTH = 1024


def encode_page_token(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(payload)).decode().rstrip("=")


def decode_page_token(token: str, *, kind: str) -> dict[str, Any]:
    """Decode a token made by :func:`encode_page_token` whose ``k`` field equals ``kind``."""
    if len(token) > _MAX_TOKEN_LENGTH:
        raise InvalidContinuationTokenError()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = msgspec.json.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError) as err:
        raise InvalidContinuationTokenError() from err
    if not isinstance(payload, dict) or payload.get("k") != kind:
        raise InvalidContinuationTokenError()
    return payload
