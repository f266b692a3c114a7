"""API-key management: create (the secret is returned once), list, revoke, verify.

Keys have the form of :mod:`permsvc.auth.keys` (``psk_<id>_<secret>``); only a hash of the
secret is stored, and verification compares in constant time. A key has roles (``check``,
``read``, ``write``, ``admin``, ``claims``; see :mod:`permsvc.auth.roles`), kept space-separated
in the record's ``scope``, and optionally one store it is limited to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from permsvc.auth.errors import InvalidApiKeyError
from permsvc.auth.keys import (
    ApiKey,
    generate_api_key,
    hash_api_key,
    key_id_of,
    parse_api_key,
    verify_api_key,
)
from permsvc.auth.roles import ROLES, InvalidRolesError, parse_roles
from permsvc.commands.errors import CommandError, InvalidInputError
from permsvc.store.errors import CollisionError
from permsvc.store.protocol import ApiKeyRecord, ApiKeyStore

__all__ = (
    "API_KEY_SCOPES",
    "AdminKeyExistsError",
    "ApiKeyNotFoundError",
    "CreateApiKeyCommand",
    "CreatedApiKey",
    "ListApiKeysQuery",
    "RevokeApiKeyCommand",
    "VerifyApiKeyQuery",
    "key_audit_detail",
    "require_scope",
)

API_KEY_SCOPES: tuple[str, ...] = ROLES
"""The roles a key may carry (the name predates roles)."""
_MAX_NAME = 200
_ATTEMPTS = 3
# Verifying against this when a key id is unknown keeps the unknown-id path as slow as a mismatch.
_DUMMY_HASH = hash_api_key(ApiKey(key_id="a" * 10, secret="a" * 32))


class ApiKeyNotFoundError(CommandError):
    """No API key has this id."""

    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"no API key with id '{key_id}' (list them with GET /v1/admin/keys or `permsvc admin list-keys`)"
        )
        self.key_id = key_id


class AdminKeyExistsError(CommandError):
    """``bootstrap`` refused: an admin key exists already."""


class CreatedApiKey(msgspec.Struct, frozen=True, kw_only=True):
    """A new key: ``key`` is the full secret value, shown to its owner once and never stored."""

    record: ApiKeyRecord
    key: str


def require_scope(roles: str | Iterable[str]) -> str:
    """The canonical role string of ``roles`` (a list, or space/comma-separated), or ``InvalidInputError``."""
    try:
        return " ".join(parse_roles(roles))
    except InvalidRolesError as err:
        raise InvalidInputError(err.detail) from err


@dataclass(frozen=True, kw_only=True, slots=True)
class CreateApiKeyCommand:
    """Create a key. ``bootstrap=True`` creates the first admin key only when no live admin key
    exists (``AdminKeyExistsError`` otherwise), so a leaked bootstrap step cannot mint more."""

    keys: ApiKeyStore

    async def execute(
        self,
        roles: str | Iterable[str],
        *,
        store_id: str | None = None,
        name: str = "",
        bootstrap: bool = False,
    ) -> CreatedApiKey:
        checked = require_scope(roles)
        if len(name) > _MAX_NAME:
            raise InvalidInputError(f"an API key name is at most {_MAX_NAME} characters")
        if bootstrap:
            if checked != "admin":
                raise InvalidInputError("bootstrap creates an admin key")
            if any("admin" in k.roles for k in await self.keys.list_api_keys()):
                raise AdminKeyExistsError(
                    "an admin API key exists already; create more with `permsvc admin create-key --roles admin` "
                    "or POST /v1/admin/keys, or revoke the existing ones first"
                )
        for attempt in range(_ATTEMPTS):
            key = generate_api_key()
            record = ApiKeyRecord(
                id=key.key_id,
                hashed_secret=hash_api_key(key),
                scope=checked,
                store_id=store_id or None,
                name=name,
                created_at=dt.datetime.now(dt.UTC),
            )
            try:
                await self.keys.create_api_key(record)
            except CollisionError:
                if attempt == _ATTEMPTS - 1:
                    raise
                continue
            return CreatedApiKey(record=record, key=str(key))
        raise AssertionError("unreachable")


@dataclass(frozen=True, kw_only=True, slots=True)
class ListApiKeysQuery:
    keys: ApiKeyStore

    async def execute(self, *, include_revoked: bool = False) -> list[ApiKeyRecord]:
        return await self.keys.list_api_keys(include_revoked=include_revoked)


@dataclass(frozen=True, kw_only=True, slots=True)
class RevokeApiKeyCommand:
    """Revoke a key (idempotent). Raises ``ApiKeyNotFoundError``. Given a whole key
    (``psk_<id>_<secret>``, e.g. a leaked one pasted as is), revokes its id: the secret part is
    never looked up, stored or echoed."""

    keys: ApiKeyStore

    async def execute(self, key_id: str) -> ApiKeyRecord:
        key_id = key_id_of(key_id)
        record = await self.keys.revoke_api_key(key_id)
        if record is None:
            raise ApiKeyNotFoundError(key_id)
        return record


@dataclass(frozen=True, kw_only=True, slots=True)
class VerifyApiKeyQuery:
    """The live record of a presented key, or ``InvalidApiKeyError`` (401).

    Unknown id and wrong secret give the same message and cost the same hash-and-compare; a
    revoked key is named as revoked (its id is public, and the owner needs to know to replace it).
    """

    keys: ApiKeyStore

    async def execute(self, presented: str) -> ApiKeyRecord:
        key = parse_api_key(presented)
        record = await self.keys.get_api_key(key.key_id)
        matched = verify_api_key(key, record.hashed_secret if record is not None else _DUMMY_HASH)
        if record is None or not matched:
            raise InvalidApiKeyError(
                f"API key '{key.key_id}' is not known or its secret does not match; send the whole key as "
                "printed when it was created (psk_<id>_<secret>)"
            )
        if record.revoked_at is not None:
            raise InvalidApiKeyError(
                f"API key '{key.key_id}' was revoked at {record.revoked_at.isoformat()}; ask an admin for a new key"
            )
        return record


def key_audit_detail(record: ApiKeyRecord, **extra: Any) -> dict[str, Any]:
    """The ``detail`` of a ``key_create`` audit row (the API's and the CLI's alike): the key's id,
    roles, store limit and name, then ``extra``."""
    return {
        "key_id": record.id,
        "roles": list(record.roles),
        "store_id": record.store_id,
        "name": record.name,
        **extra,
    }
