"""Tuple files in the ``fga`` CLI's formats, read as a stream of tuple dicts, and written back.

Formats (chosen by extension, or ``--format``):

- ``jsonl`` (``.jsonl``, ``.ndjson``): one JSON tuple per line, blank lines skipped;
- ``json`` (``.json``): an array of tuples (or ``{"tuples": [...]}``);
- ``yaml`` (``.yaml``, ``.yml``): a list of tuples;
- ``csv`` (``.csv``): the ``fga`` header ``user_type,user_id,user_relation,relation,object_type,
  object_id[,condition_name,condition_context]``.

A tuple is ``{"user", "relation", "object"}`` with an optional ``condition``
(``{"name", "context"}``); the OpenFGA read shape ``{"key": {...}}`` and ``{"tuple_key": {...}}``
are unwrapped. JSON lines and CSV are read lazily, so a file of any size streams.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from permsvc.cli.remote.client import UsageError

__all__ = (
    "CSV_HEADER",
    "FORMATS",
    "TupleFile",
    "csv_row",
    "detect_format",
    "tuple_from_words",
)

FORMATS = ("jsonl", "json", "yaml", "csv")

CSV_HEADER = (
    "user_type",
    "user_id",
    "user_relation",
    "relation",
    "object_type",
    "object_id",
    "condition_name",
    "condition_context",
)
_CSV_REQUIRED = ("user_type", "user_id", "relation", "object_type", "object_id")

_EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".csv": "csv",
}


def detect_format(path: str, explicit: str | None) -> str:
    if explicit:
        return explicit
    if path == "-":
        return "jsonl"
    suffix = Path(path).suffix.lower()
    try:
        return _EXTENSIONS[suffix]
    except KeyError:
        raise UsageError(
            f"{path}: cannot tell the format from the extension {suffix or '(none)'!r}; "
            f"name it with --format ({', '.join(FORMATS)})"
        ) from None


def _clean(raw: Any, where: str) -> dict[str, Any]:
    """A tuple dict with exactly the import format's fields, or a :class:`UsageError`."""
    if isinstance(raw, dict):
        for wrapper in ("key", "tuple_key"):
            inner = raw.get(wrapper)
            if isinstance(inner, dict) and "object" in inner:
                raw = inner
                break
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: expected a tuple object with user, relation and object")
    out: dict[str, Any] = {}
    for field in ("object", "relation", "user"):
        value = raw.get(field)
        if not isinstance(value, str) or not value:
            raise UsageError(f"{where}: '{field}' is missing or not a non-empty string")
        out[field] = value
    condition = raw.get("condition")
    if condition not in (None, {}):
        if not isinstance(condition, dict) or not isinstance(condition.get("name"), str):
            raise UsageError(f'{where}: \'condition\' must be {{"name": ..., "context": {{...}}}}')
        cond: dict[str, Any] = {"name": condition["name"]}
        if condition.get("context") is not None:
            if not isinstance(condition["context"], dict):
                raise UsageError(f"{where}: 'condition.context' must be an object")
            cond["context"] = condition["context"]
        out["condition"] = cond
    return out


def tuple_from_words(
    user: str, relation: str, obj: str, condition: str | None = None, context: str | None = None
) -> dict[str, Any]:
    raw: dict[str, Any] = {"user": user, "relation": relation, "object": obj}
    if condition:
        ctx: Any = None
        if context:
            try:
                ctx = json.loads(context)
            except json.JSONDecodeError as err:
                raise UsageError(f"--condition-context is not JSON: {err.msg}") from err
        raw["condition"] = {"name": condition, "context": ctx}
    elif context:
        raise UsageError("--condition-context needs --condition NAME")
    return _clean(raw, "the tuple")


def _from_csv_row(row: dict[str, str | None], where: str) -> dict[str, Any]:
    def get(name: str) -> str:
        return (row.get(name) or "").strip()

    for name in _CSV_REQUIRED:
        if not get(name):
            raise UsageError(f"{where}: column '{name}' is empty")
    user = f"{get('user_type')}:{get('user_id')}"
    if get("user_relation"):
        user += f"#{get('user_relation')}"
    raw: dict[str, Any] = {
        "user": user,
        "relation": get("relation"),
        "object": f"{get('object_type')}:{get('object_id')}",
    }
    if get("condition_name"):
        context: Any = None
        if get("condition_context"):
            try:
                context = json.loads(get("condition_context"))
            except json.JSONDecodeError as err:
                raise UsageError(f"{where}: condition_context is not JSON: {err.msg}") from err
        raw["condition"] = {"name": get("condition_name"), "context": context}
    return _clean(raw, where)


def csv_row(t: dict[str, Any]) -> list[str]:
    """The ``fga`` CSV row of a tuple (the inverse of the CSV reader)."""
    user_type, _, rest = t["user"].partition(":")
    user_id, _, user_relation = rest.partition("#")
    object_type, _, object_id = t["object"].partition(":")
    condition = t.get("condition") or {}
    context = condition.get("context")
    return [
        user_type,
        user_id,
        user_relation,
        t["relation"],
        object_type,
        object_id,
        condition.get("name", ""),
        json.dumps(context, separators=(",", ":")) if context else "",
    ]


class TupleFile:
    """A tuple file: its format, its record count (when it can be known) and its records."""

    def __init__(self, path: str, fmt: str | None = None) -> None:
        self.path = path
        self.format = detect_format(path, fmt)
        if path != "-" and not Path(path).is_file():
            raise UsageError(f"{path}: no such file")
        self._loaded: list[Any] | None = None

    def _open(self) -> IO[str]:
        if self.path == "-":
            return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", newline="")
        return open(self.path, encoding="utf-8", newline="")

    def _load(self) -> list[Any]:
        if self._loaded is None:
            with self._open() as handle:
                text = handle.read()
            try:
                if self.format == "json":
                    data = json.loads(text)
                else:
                    from permsvc.core.yaml_text import load_yaml

                    data = load_yaml(text)
            except (json.JSONDecodeError, ValueError) as err:
                raise UsageError(f"{self.path}: not valid {self.format.upper()}: {err}") from err
            except Exception as err:  # yaml.YAMLError and its subclasses
                raise UsageError(f"{self.path}: not valid YAML: {err}") from err
            if isinstance(data, dict) and isinstance(data.get("tuples"), list):
                data = data["tuples"]
            if data is None:
                data = []
            if not isinstance(data, list):
                raise UsageError(f"{self.path}: expected a list of tuples")
            self._loaded = data
        return self._loaded

    def count(self) -> int | None:
        """How many records the file holds; ``None`` for standard input."""
        if self.path == "-":
            return None
        if self.format in ("json", "yaml"):
            return len(self._load())
        records = 0
        with open(self.path, "rb") as handle:
            if self.format == "csv":
                handle.readline()
            for line in handle:
                if line.strip():
                    records += 1
        return records

    def records(self) -> Iterator[dict[str, Any]]:
        """The tuples, in file order; a malformed record raises :class:`UsageError` naming it."""
        if self.format in ("json", "yaml"):
            for number, raw in enumerate(self._load(), start=1):
                yield _clean(raw, f"{self.path}: record {number}")
            return
        with self._open() as handle:
            if self.format == "csv":
                reader = csv.DictReader(handle)
                header = [h.strip() for h in reader.fieldnames or ()]
                unknown = [h for h in header if h not in CSV_HEADER]
                if unknown:
                    raise UsageError(
                        f"{self.path}: invalid CSV header {unknown[0]!r}; valid headers are "
                        + ",".join(CSV_HEADER)
                    )
                missing = [h for h in _CSV_REQUIRED if h not in header]
                if missing:
                    raise UsageError(f"{self.path}: CSV header misses {', '.join(missing)}")
                reader.fieldnames = header
                for number, row in enumerate(reader, start=1):
                    yield _from_csv_row(
                        row, f"{self.path}: record {number} (line {reader.line_num})"
                    )
                return
            number = 0
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                number += 1
                where = f"{self.path}: record {number} (line {line_no})"
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError as err:
                    raise UsageError(f"{where}: not JSON: {err.msg}") from err
                yield _clean(raw, where)
