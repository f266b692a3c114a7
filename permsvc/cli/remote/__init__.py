"""The remote CLI: ``permsvc`` commands that talk to a running permsvc over HTTP.

:mod:`~permsvc.cli.remote.client` (connection, credential, exit statuses),
:mod:`~permsvc.cli.remote.commands` (the commands), :mod:`~permsvc.cli.remote.importer`
(batched, resumable imports), :mod:`~permsvc.cli.remote.tuples_io` (the ``fga`` tuple file
formats) and :mod:`~permsvc.cli.remote.completion` (shell completion). None of them imports the
server's engine, store or API code.
"""

from __future__ import annotations

from typing import Any

from permsvc.cli.remote import commands, completion

__all__ = ("register",)


def register(subparsers: Any) -> None:
    commands.register(subparsers)
    completion.register(subparsers)
