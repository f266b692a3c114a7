"""One way to declare a ``permsvc`` subcommand: its ``--help`` shows the module's docstring as
written (line breaks kept), under a one-line summary."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ("add_command",)


def add_command(
    subparsers: Any, name: str, *, help: str, doc: str | None
) -> argparse.ArgumentParser:
    """Add the subcommand ``name`` to ``subparsers``: ``help`` in the parent's list, ``doc`` (the
    command module's ``__doc__``) as its own description."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    return parser
