"""``permsvc admin``: API keys from the command line (the first admin key, scoped keys, revocation).

``bootstrap`` creates the first admin key and refuses once any admin key exists; ``create-key``
creates a key with roles (``--roles check,read``; ``check``, ``read``, ``write``, ``admin``,
``claims``; ``--scope`` names one), optionally limited to one store.
Both print the key once on stdout, and nothing else there, so it can be captured
(``KEY=$(permsvc admin bootstrap)``); the key's id and scope go to stderr. Only a hash of the
secret is stored: a lost key cannot be shown again, only revoked and replaced.

The database is chosen exactly as ``permsvc serve`` chooses it (:mod:`permsvc.cli.database`:
``--database-url`` / ``PERMSVC_DATABASE_URL``, else the SQLite file in ``--data-dir`` /
``PERMSVC_DATA_DIR``), and every command says on stderr which database it used (the URL without
its password), warning when that is the default SQLite file. Pending migrations are applied
first. Key creation and revocation are recorded in the audit log as actor ``cli:<os user>``.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from permsvc.cli.database import add_database_options, database_of
from permsvc.cli.subcommand import add_command
from permsvc.commands.audit import Actor, AuditRecorder
from permsvc.commands.keys import (
    API_KEY_SCOPES,
    CreateApiKeyCommand,
    ListApiKeysQuery,
    RevokeApiKeyCommand,
    key_audit_detail,
)
from permsvc.core.errors import PermsvcError
from permsvc.store.factory import open_datastore
from permsvc.store.protocol import ApiKeyRecord, ApiKeyStore, AuditLog, unwrap

__all__ = ("register",)

T = TypeVar("T")


class NoKeyStoreError(PermsvcError):
    """The configured datastore keeps no API keys, or keeps them only for this process."""


def _actor() -> Actor:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(id=f"cli:{user}", kind="cli")


def _with_keys(
    args: argparse.Namespace, work: Callable[[ApiKeyStore, AuditRecorder], Awaitable[T]]
) -> T:
    database = database_of(args)
    if database.url == "memory:":
        raise NoKeyStoreError(
            "memory: keeps nothing after this command; name the server's database with "
            "--database-url or PERMSVC_DATABASE_URL"
        )

    async def run() -> T:
        datastore = await open_datastore(database.url, data_dir=database.data_dir)
        try:
            keys = unwrap(datastore, ApiKeyStore)
            if keys is None:
                raise NoKeyStoreError("this datastore keeps no API keys")
            return await work(keys, AuditRecorder(log=unwrap(datastore, AuditLog)))
        finally:
            await datastore.aclose()

    print(database.wrote_to(), file=sys.stderr)
    return asyncio.run(run())


def _describe(record: ApiKeyRecord) -> str:
    where = f", store {record.store_id}" if record.store_id else ", any store"
    name = f" ({record.name})" if record.name else ""
    revoked = f", revoked {record.revoked_at.isoformat()}" if record.revoked_at else ""
    return f"{record.id}{name}: roles {','.join(record.roles)}{where}, created {record.created_at.isoformat()}{revoked}"


def _create(args: argparse.Namespace, *, scope: str, bootstrap: bool) -> int:
    async def work(keys: ApiKeyStore, audit: AuditRecorder) -> str:
        created = await CreateApiKeyCommand(keys=keys).execute(
            scope, store_id=getattr(args, "store", None), name=args.name or "", bootstrap=bootstrap
        )
        record = created.record
        await audit.record(
            actor=_actor(),
            action="key_create",
            store_id=record.store_id or "",
            detail=key_audit_detail(record, bootstrap=bootstrap),
        )
        print(
            f"created API key {_describe(record)}; it is printed once, store it now",
            file=sys.stderr,
        )
        return created.key

    print(_with_keys(args, work))
    return 0


def _bootstrap(args: argparse.Namespace) -> int:
    return _create(args, scope="admin", bootstrap=True)


def _create_key(args: argparse.Namespace) -> int:
    if bool(args.roles) == bool(args.scope):
        print(
            "permsvc admin create-key: give the key's roles with --roles (e.g. --roles check)",
            file=sys.stderr,
        )
        return 2
    return _create(args, scope=args.roles or args.scope, bootstrap=False)


def _revoke_key(args: argparse.Namespace) -> int:
    async def work(keys: ApiKeyStore, audit: AuditRecorder) -> ApiKeyRecord:
        record = await RevokeApiKeyCommand(keys=keys).execute(args.key_id)
        await audit.record(
            actor=_actor(),
            action="key_revoke",
            store_id=record.store_id or "",
            detail={"key_id": record.id, "roles": list(record.roles)},
        )
        return record

    print(f"revoked {_describe(_with_keys(args, work))}")
    return 0


def _list_keys(args: argparse.Namespace) -> int:
    async def work(keys: ApiKeyStore, _: AuditRecorder) -> list[ApiKeyRecord]:
        return await ListApiKeysQuery(keys=keys).execute(include_revoked=args.all)

    records = _with_keys(args, work)
    for record in records:
        print(_describe(record))
    if not records:
        print(
            "no API keys; create the first admin key with `permsvc admin bootstrap`",
            file=sys.stderr,
        )
    return 0


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "admin",
        help="API keys: bootstrap, create-key, revoke-key, list-keys",
        doc=__doc__,
    )
    commands = parser.add_subparsers(dest="admin_command", metavar="ADMIN_COMMAND", required=True)

    bootstrap = commands.add_parser(
        "bootstrap", help="create the first admin API key (printed once on stdout)"
    )
    bootstrap.add_argument(
        "--name", default="bootstrap", help="a label for the key (default: bootstrap)"
    )
    add_database_options(bootstrap)
    bootstrap.set_defaults(func=_bootstrap)

    create = commands.add_parser(
        "create-key", help="create a scoped API key (printed once on stdout)"
    )
    create.add_argument(
        "--roles", help=f"comma-separated roles: {', '.join(API_KEY_SCOPES)} (see docs/security.md)"
    )
    create.add_argument("--scope", choices=API_KEY_SCOPES, help="one role (before --roles existed)")
    create.add_argument("--store", help="limit the key to this store id")
    create.add_argument("--name", default="", help="a label for the key")
    add_database_options(create)
    create.set_defaults(func=_create_key)

    revoke = commands.add_parser("revoke-key", help="revoke an API key by id")
    revoke.add_argument("key_id", help="the key id (the <id> of psk_<id>_<secret>)")
    add_database_options(revoke)
    revoke.set_defaults(func=_revoke_key)

    listing = commands.add_parser("list-keys", help="list API keys (ids and scopes, never secrets)")
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    add_database_options(listing)
    listing.set_defaults(func=_list_keys)
