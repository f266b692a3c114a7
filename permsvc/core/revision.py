"""Store revisions and the consistency tokens that carry them.

Every committed write to a store gets the next per-store revision (1, 2, 3, ...; 0 = empty store).
Commit order equals revision order. A *consistency token* is the opaque string a write returns; a
read that presents it is answered at that revision or later (read-your-writes).

Token format (opaque to clients): ``"v1." + base64url(store_id + ":" + revision)`` without padding.
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal

import msgspec

from permsvc.core.errors import PermsvcError

__all__ = (
    "HIGHER_CONSISTENCY",
    "MINIMIZE_LATENCY",
    "Consistency",
    "ConsistencyLevel",
    "ConsistencyToken",
    "InvalidConsistencyTokenError",
    "Revision",
    "decode_token",
    "encode_token",
)

Revision = int
"""A per-store revision number; 0 means "nothing written yet"."""

_PREFIX = "v1."


class InvalidConsistencyTokenError(PermsvcError):
    """A consistency token is malformed or belongs to another store."""


class ConsistencyToken(msgspec.Struct, frozen=True):
    """A decoded consistency token."""

    store_id: str
    revision: Revision

    def encode(self) -> str:
        return encode_token(self.store_id, self.revision)


def encode_token(store_id: str, revision: Revision) -> str:
    raw = f"{store_id}:{revision}".encode()
    return _PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, *, store_id: str | None = None) -> ConsistencyToken:
    """Decode a token; when ``store_id`` is given, the token must belong to that store."""
    if not token.startswith(_PREFIX) or len(token) > 200:
        raise InvalidConsistencyTokenError("invalid consistency token")
    body = token[len(_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        sid, _, rev = raw.rpartition(":")
        revision = int(rev)
    except (binascii.Error, UnicodeDecodeError, ValueError) as err:
        raise InvalidConsistencyTokenError("invalid consistency token") from err
    if not sid or revision < 0:
        raise InvalidConsistencyTokenError("invalid consistency token")
    if store_id is not None and sid != store_id:
        raise InvalidConsistencyTokenError("the consistency token belongs to another store")
    return ConsistencyToken(sid, revision)


ConsistencyLevel = Literal["MINIMIZE_LATENCY", "HIGHER_CONSISTENCY"]


class Consistency(msgspec.Struct, frozen=True, kw_only=True):
    """What a read requires of the revision it is answered at.

    - ``MINIMIZE_LATENCY`` (the default): whatever the serving process has applied (bounded
      staleness: its in-memory index follows the changelog within milliseconds);
    - ``HIGHER_CONSISTENCY``: at least the database head at the time of the request;
    - ``token`` (a write's consistency token, either level): at least the token's revision
      (read-your-writes). A token of another store is rejected with
      :class:`InvalidConsistencyTokenError`.
    """

    level: ConsistencyLevel = "MINIMIZE_LATENCY"
    token: str = ""


MINIMIZE_LATENCY = Consistency()
HIGHER_CONSISTENCY = Consistency(level="HIGHER_CONSISTENCY")
