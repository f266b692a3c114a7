"""``permsvc`` entry point: builds the argument parser from the command modules and runs one.

Each command group lives in its own module under ``permsvc/cli/`` and exposes
``register(subparsers)``, which adds its sub-parser(s) and sets ``func`` (a callable taking the
parsed ``argparse.Namespace`` and returning an exit code). User errors are printed to stderr as
one line (no traceback) and exit with status 1; usage errors exit with status 2. The remote
commands (:mod:`permsvc.cli.remote`) map failures to their own documented statuses (docs/cli.md).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from permsvc import __version__
from permsvc.core.errors import PermsvcError

__all__ = ("main",)

# Command modules, in the order their groups appear in --help. A module listed here that does not
# exist yet is skipped, so command groups can land one at a time.
_COMMAND_MODULES = (
    "permsvc.cli.serve",
    "permsvc.cli.migrate",
    "permsvc.cli.snapshot_index",
    "permsvc.cli.model",
    "permsvc.cli.tuple",
    "permsvc.cli.check",
    "permsvc.cli.token",
    "permsvc.cli.admin",
    "permsvc.cli.remote",
    "permsvc.cli.bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="permsvc",
        description="permsvc: fine-grained, OpenFGA-compatible permissions outside your identity provider.",
    )
    parser.add_argument("--version", action="version", version=f"permsvc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:
                continue
            raise
        module.register(sub)
    return parser


def _database_guess(args: argparse.Namespace) -> str:
    """Why a local database command must not run, or ``""``.

    With ``PERMSVC_URL`` set (this shell talks to a server) and no database named at all, a
    database command (``admin``, ``migrate``) would fall back to the SQLite file in ./.permsvc,
    almost certainly not the database the server uses: refused instead. ``serve`` is the server
    itself and ``check`` chooses for itself (:mod:`permsvc.cli.check`)."""
    if args.command in ("serve", "check") or not hasattr(args, "database_url"):
        return ""
    if not os.environ.get("PERMSVC_URL", "").strip():
        return ""
    if args.database_url or getattr(args, "data_dir", None):
        return ""
    if (
        os.environ.get("PERMSVC_DATABASE_URL", "").strip()
        or os.environ.get("PERMSVC_DATA_DIR", "").strip()
    ):
        return ""
    return (
        f"PERMSVC_URL is set, but `permsvc {args.command}` works on a database, not a server, and "
        "none is named: pass --database-url or --data-dir (or set PERMSVC_DATABASE_URL) for a "
        "database; for the server use the remote commands (e.g. `permsvc key create`)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    refusal = _database_guess(args)
    if refusal:
        print(f"permsvc: error: {refusal}", file=sys.stderr)
        return 2
    try:
        return int(func(args) or 0)
    except PermsvcError as err:
        print(f"permsvc: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
