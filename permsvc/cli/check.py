"""``permsvc check``: ask the configured database a Check (or every relation) from the shell.

::

    permsvc check document:readme#viewer@user:anne          # allowed / not allowed
    permsvc check document:readme viewer user:anne          # the same, as three words
    permsvc check document:readme user:anne                 # every relation anne has on it
    permsvc check document:readme#viewer@user:anne --explain  # why: the proof, as a tree
    permsvc check document:1#viewer@user:anne --context '{"current_time": "2025-03-02T09:00:00Z"}' \\
        --contextual group:eng#member@user:anne

The database is chosen like ``permsvc serve`` chooses it (``--database-url`` /
``PERMSVC_DATABASE_URL``, else the SQLite file in ``--data-dir`` / ``PERMSVC_DATA_DIR``); the
store is ``--store`` or ``PERMSVC_STORE``; the model is the store's latest unless ``--model-id``.
Exit status: 0 when allowed (or when at least one relation is listed), 1 when not (or on an
error, printed as one line). ``--explain`` prints the decision's proof under the verdict: the
shortest witness (``--all-paths``: up to ``--limit`` witnesses) or the branches that failed
(a database check only).

With ``--url`` / ``PERMSVC_URL`` the check is asked of a running server instead, in the ``fga``
order (``--api-key`` / ``PERMSVC_API_KEY`` is sent as the bearer credential)::

    permsvc check user:anne viewer document:readme --url https://authz.example.com

Exit status then: 0 allowed, 1 denied, 2 usage, 3 credential refused, 4 not found, 5 server
unavailable, 6 request refused (docs/cli.md). Naming both a server and a database
(``--url`` with ``--database-url`` or ``--data-dir``, or both environment variables without
either option) is refused as ambiguous.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from permsvc.cli.database import add_database_options
from permsvc.core.errors import PermsvcError

__all__ = ("register",)


class _InvalidInput(PermsvcError):
    """A malformed local check (exit 1, as every local error)."""


def _query(words: list[str]) -> tuple[str, str, str]:
    """``(object, relation, user)`` from ``o#r@u``, ``o r u`` or ``o u`` (relation ``""``)."""
    from permsvc.core.refs import parse_tuple

    if len(words) == 1:
        key = parse_tuple(words[0])
        return key.object, key.relation, key.user
    if len(words) == 2:
        return words[0], "", words[1]
    if len(words) == 3:
        return words[0], words[1], words[2]
    raise _InvalidInput("expected OBJECT#RELATION@USER, OBJECT RELATION USER, or OBJECT USER")


def _context(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise _InvalidInput(f"--context is not JSON: {err.msg}") from err
    if not isinstance(value, dict):
        raise _InvalidInput("--context must be a JSON object")
    return value


async def _run_async(args: argparse.Namespace) -> int:
    # Imported here: a remote check (--url) must not load the engine and the store.
    from permsvc.cli.database import database_of
    from permsvc.commands.check import CheckQuery
    from permsvc.commands.explain import ExplainParams, ExplainQuery
    from permsvc.commands.list_relations import ListRelationsParams, ListRelationsQuery
    from permsvc.commands.models import ModelResolver
    from permsvc.core.refs import TupleKey, parse_tuple
    from permsvc.engine.explain import render
    from permsvc.store.factory import open_datastore, sqlite_path

    obj, relation, user = _query(args.query)
    if args.explain and not relation:
        raise _InvalidInput("--explain needs a relation: OBJECT#RELATION@USER")
    store_id = args.store or os.environ.get("PERMSVC_STORE", "")
    if not store_id:
        raise _InvalidInput("name the store with --store or PERMSVC_STORE")
    context = _context(args.context)
    contextual = tuple(parse_tuple(t) for t in args.contextual or ())
    database = database_of(args)
    path = sqlite_path(database.url, data_dir=database.data_dir)
    if path is not None and not path.exists():
        # A question can only be about data that exists: opening would create an empty file.
        raise _InvalidInput(
            f"no database at {path}: run permsvc check where `permsvc serve` keeps its data, "
            "or name that database with --database-url or --data-dir"
        )
    datastore = await open_datastore(database.url, data_dir=database.data_dir, migrate=False)
    try:
        resolver = ModelResolver(datastore)
        if relation:
            # One request for both: an ExplainParams is a CheckParams plus what to explain.
            asked = ExplainParams(
                store_id=store_id,
                tuple_key=TupleKey(object=obj, relation=relation, user=user),
                model_id=args.model_id or "",
                contextual_tuples=contextual,
                context=context,
                all_paths=args.all_paths,
                limit=args.limit,
            )
            if args.explain:
                explained = await ExplainQuery(reader=datastore, resolver=resolver).execute(asked)
                e = explained.explanation
                verdict = "allowed" if e.allowed else "not allowed"
                print(
                    f"{obj}#{relation}@{user}: {verdict}  [model {explained.model_id}, revision {explained.revision}]"
                )
                for line in render(e):
                    print(line)
                return 0 if e.allowed else 1
            outcome = await CheckQuery(reader=datastore, resolver=resolver).execute(asked)
            verdict = "allowed" if outcome.allowed else "not allowed"
            note = " (a cycle was met)" if outcome.cycle_detected else ""
            print(
                f"{obj}#{relation}@{user}: {verdict}{note}  [model {outcome.model_id}, revision {outcome.revision}]"
            )
            return 0 if outcome.allowed else 1
        listed = await ListRelationsQuery(reader=datastore, resolver=resolver).execute(
            ListRelationsParams(
                store_id=store_id,
                object=obj,
                user=user,
                model_id=args.model_id or "",
                contextual_tuples=contextual,
                context=context,
            )
        )
        shown = ", ".join(listed.relations) if listed.relations else "no relation"
        print(f"{user} on {obj}: {shown}  [model {listed.model_id}, revision {listed.revision}]")
        return 0 if listed.relations else 1
    finally:
        await datastore.aclose()


def _remote_wanted(args: argparse.Namespace) -> bool:
    """Whether to ask a server (``--url`` / ``PERMSVC_URL``) or the database; ambiguity is a
    usage error. An option beats the other side's environment variable."""
    local_opt = bool(args.database_url or args.data_dir)
    if args.url and local_opt:
        raise _Usage(
            "give either --url (a server) or --database-url/--data-dir (a database), not both"
        )
    if args.url:
        return True
    if local_opt:
        if args.api_key:
            raise _Usage("--api-key is for a server: add --url, or drop it for a database check")
        return False
    env_url = os.environ.get("PERMSVC_URL", "").strip()
    env_db = os.environ.get("PERMSVC_DATABASE_URL", "").strip()
    if env_url and env_db:
        raise _Usage(
            "both PERMSVC_URL and PERMSVC_DATABASE_URL are set: choose with --url or --database-url"
        )
    if env_url:
        return True
    if args.api_key:
        raise _Usage("--api-key is for a server: add --url URL (or set PERMSVC_URL)")
    if args.json:
        raise _Usage("--json is for a server check: add --url URL (or set PERMSVC_URL)")
    return False


class _Usage(Exception):
    pass


def _run(args: argparse.Namespace) -> int:
    try:
        remote = _remote_wanted(args)
    except _Usage as err:
        print(f"permsvc: error: {err}", file=sys.stderr)
        return 2
    if remote:
        if args.explain:
            print(
                "permsvc: error: --explain asks the database; with --url, POST /v1/explain",
                file=sys.stderr,
            )
            return 2
        from permsvc.cli.remote.commands import remote_check

        return remote_check(args, list(args.query))
    return asyncio.run(_run_async(args))


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check a relation (or list a user's relations on an object) in the configured database",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "query",
        nargs="+",
        metavar="QUERY",
        help="OBJECT#RELATION@USER, OBJECT RELATION USER, or OBJECT USER (every relation); "
        "with --url: USER RELATION OBJECT or OBJECT#RELATION@USER",
    )
    parser.add_argument("--store", help="store id (PERMSVC_STORE)")
    parser.add_argument("--model-id", help="authorization model id (default: the store's latest)")
    parser.add_argument("--context", help="condition context, a JSON object")
    parser.add_argument(
        "--contextual",
        action="append",
        metavar="TUPLE",
        help="a contextual tuple OBJECT#RELATION@USER (repeatable; with --url also "
        "'USER RELATION OBJECT')",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print why: the shortest witness, or the branches that failed, as a tree",
    )
    parser.add_argument(
        "--all-paths", action="store_true", help="with --explain: every witness up to --limit"
    )
    parser.add_argument(
        "--limit",
        type=int,
        help="with --explain --all-paths: the most witnesses (1-100, default 10)",
    )
    add_database_options(parser)
    server = parser.add_argument_group("server (instead of the database)")
    server.add_argument(
        "--url", help="ask this permsvc server, e.g. https://authz.example.com (PERMSVC_URL)"
    )
    server.add_argument(
        "--api-key", help="credential sent as 'Authorization: Bearer ...' (PERMSVC_API_KEY)"
    )
    server.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the answer (default 30)"
    )
    server.add_argument("--json", action="store_true", help="print the server's answer as JSON")
    parser.set_defaults(func=_run)
