"""``permsvc model``: validate and transform authorization models (``.fga``, ``.json``, ``fga.mod``).

- ``permsvc model validate FILE``: exit 0 when the model is valid; otherwise print one
  ``FILE:LINE:COL: message`` line per problem to stderr (``FILE: message`` where the source has
  no positions, as for JSON) and exit 1.
- ``permsvc model transform FILE [--to json|dsl]``: print the model in the other form: JSON
  indented by two with sorted keys, or DSL in OpenFGA's canonical layout. Like
  ``fga model transform`` this checks syntax only.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from typing import TYPE_CHECKING

import msgspec

from permsvc.model.compile import LoadedModel, read_model_file
from permsvc.model.dsl.printer import print_dsl
from permsvc.model.errors import ModelError
from permsvc.model.json import model_to_json
from permsvc.model.validation import validate_model

if TYPE_CHECKING:
    from permsvc.model.errors import ModelIssue

__all__ = ("register",)


def _print_issues(issues: tuple[ModelIssue, ...], file: str) -> None:
    """Print one line per issue.

    Issues in the module files of an fga.mod name them as written in its ``contents`` (relative
    to it); they are shown relative to where the command was run.
    """
    base = os.path.dirname(file) if file.endswith(".mod") else ""
    for issue in issues:
        shown = issue
        if base and issue.file and issue.file != file and not os.path.isabs(issue.file):
            shown = msgspec.structs.replace(issue, file=os.path.join(base, issue.file))
        print(shown.format(file), file=sys.stderr)


def _load(file: str) -> LoadedModel | None:
    try:
        return read_model_file(file)
    except ModelError as err:
        _print_issues(err.issues, file)
        return None


def _validate(args: argparse.Namespace) -> int:
    loaded = _load(args.file)
    if loaded is None:
        return 1
    try:
        validate_model(loaded.model, locations=loaded.locations)
    except ModelError as err:
        _print_issues(err.issues, args.file)
        return 1
    model = loaded.model
    print(
        f"{args.file}: valid (schema {model.schema_version}, {_count(len(model.type_definitions), 'type')}, "
        f"{_count(len(model.conditions), 'condition')})"
    )
    return 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _transform(args: argparse.Namespace) -> int:
    loaded = _load(args.file)
    if loaded is None:
        return 1
    target = args.to or ("dsl" if loaded.format == "json" else "json")
    if target == "json":
        sys.stdout.write(
            json.dumps(model_to_json(loaded.model), indent=2, sort_keys=True, ensure_ascii=False)
            + "\n"
        )
    else:
        sys.stdout.write(print_dsl(loaded.model))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``model`` command group (``validate``, ``transform``, and ``test`` when present)."""
    parser = subparsers.add_parser(
        "model",
        help="validate and transform authorization models",
        description="Work with OpenFGA authorization models: DSL (.fga), JSON (.json) or modular (fga.mod).",
    )
    sub = parser.add_subparsers(dest="model_command", metavar="SUBCOMMAND")

    def _usage(_args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    parser.set_defaults(func=_usage)

    validate = sub.add_parser(
        "validate",
        help="check a model against OpenFGA's rules",
        description="Check a model (.fga, .json or fga.mod) against OpenFGA's syntax and semantic rules. "
        "Exit 0 when valid; otherwise print FILE:LINE:COL: message lines to stderr and exit 1.",
    )
    validate.add_argument("file", metavar="FILE", help="model file: .fga, .json or fga.mod")
    validate.set_defaults(func=_validate)

    transform = sub.add_parser(
        "transform",
        help="convert a model between DSL and JSON",
        description="Print a model in OpenFGA's JSON form (indented, sorted keys) or in canonical DSL. "
        "Checks syntax only, like `fga model transform`; use `model validate` for the full rules.",
    )
    transform.add_argument("file", metavar="FILE", help="model file: .fga, .json or fga.mod")
    transform.add_argument(
        "--to",
        choices=("json", "dsl"),
        help="output form (default: JSON for DSL and fga.mod input, DSL for JSON input)",
    )
    transform.set_defaults(func=_transform)

    try:
        model_test = importlib.import_module("permsvc.cli.model_test")
    except ModuleNotFoundError as err:
        if err.name != "permsvc.cli.model_test":
            raise
    else:
        model_test.register(sub)

    from permsvc.cli.remote.commands import add_model_commands

    add_model_commands(sub)
