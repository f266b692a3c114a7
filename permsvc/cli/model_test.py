"""``permsvc model test --tests GLOB``: run OpenFGA store test files (``*.fga.yaml``) like ``fga model test``.

A store test file names a model (``model`` inline, or ``model_file``: ``.fga``, ``.json`` or
``fga.mod``), global tuples (``tuples`` inline plus ``tuple_file`` / ``tuple_files`` in YAML,
JSON, JSONL or CSV) and ``tests``. Semantics are ``fga model test``'s: every test runs in a fresh
in-memory store holding the model plus the global tuples and the test's own tuples (``tuples``
plus ``tuple_file``), written through the same validation as the Write API; then each assertion
is one query:

- ``check``: ``user``/``users`` x ``object``/``objects`` x each ``assertions`` relation -> bool;
- ``list_objects``: ``user``, ``type``, each relation -> the exact set of objects;
- ``list_users``: ``object``, ``user_filter``, each relation -> the exact set in ``users``.

``context`` (condition context) applies to the queries of its entry. Output: one status line per
test, one line per failing assertion (what was asked, expected vs got), then
``N passed, M failed`` (assertions). Exit status 1 when anything failed or a file could not be
run. ``--json`` prints every assertion's result instead.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import glob
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import msgspec
import yaml

from permsvc.cli.remote.tuples_io import CSV_HEADER
from permsvc.commands.check import CheckParams, CheckQuery
from permsvc.commands.list_objects import ListObjectsParams, ListObjectsQuery
from permsvc.commands.list_users import ListUsersParams, ListUsersQuery, UserFilter
from permsvc.commands.models import ModelResolver
from permsvc.core.errors import PermsvcError
from permsvc.core.refs import TupleCondition, TupleKey
from permsvc.model.compile import load_model, load_model_file
from permsvc.model.schema import AuthorizationModel
from permsvc.model.tuple_validation import validate_tuple
from permsvc.model.typesystem import TypeSystem
from permsvc.model.validation import validate_model
from permsvc.store.memory import MemoryDatastore

__all__ = ("AssertionOutcome", "StoreFileError", "load_store_file", "register", "run_store_file")


class StoreFileError(PermsvcError):
    """A store test file cannot be read or set up (bad YAML, model, tuple file or tuple)."""


class _NoTimestampLoader(yaml.SafeLoader):
    """YAML without implicit timestamps: condition contexts must reach CEL as the strings written."""


_NoTimestampLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class TestCase(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    description: str = ""
    tuples: tuple[TupleKey, ...] = ()
    check: tuple[dict[str, Any], ...] = ()
    list_objects: tuple[dict[str, Any], ...] = ()
    list_users: tuple[dict[str, Any], ...] = ()


class StoreFile(msgspec.Struct, frozen=True, kw_only=True):
    path: str
    name: str
    model: AuthorizationModel
    tuples: tuple[TupleKey, ...]
    tests: tuple[TestCase, ...]


class AssertionOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """One assertion. ``got`` is ``None`` when the query failed with ``error``."""

    file: str
    test: str
    kind: str
    request: dict[str, Any]
    expected: Any
    got: Any = None
    error: str = ""

    @property
    def passed(self) -> bool:
        return not self.error and self.got == self.expected

    def describe(self) -> str:
        """``check(user:anne, viewer, document:1)``-style summary of what was asked."""
        r = self.request
        match self.kind:
            case "check":
                what = f"check {r['user']} {r['relation']} {r['object']}"
            case "list_objects":
                what = f"list_objects {r['user']} {r['relation']} {r['type']}:*"
            case _:
                what = f"list_users {r['object']} {r['relation']} [{', '.join(r['user_filter'])}]"
        if r.get("context"):
            what += f" with context {json.dumps(r['context'], sort_keys=True)}"
        return what

    def mismatch(self) -> str:
        """``expected X, got Y`` (with what is missing / unexpected for sets)."""
        if self.error:
            return f"expected {_show(self.expected)}, got error: {self.error}"
        text = f"expected {_show(self.expected)}, got {_show(self.got)}"
        if isinstance(self.expected, list) and isinstance(self.got, list):
            missing = sorted(set(self.expected) - set(self.got))
            extra = sorted(set(self.got) - set(self.expected))
            notes = ([f"missing {', '.join(missing)}"] if missing else []) + (
                [f"unexpected {', '.join(extra)}"] if extra else []
            )
            if notes:
                text += f" ({'; '.join(notes)})"
        return text


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(value) + "]"
    return str(value)


# -- loading ------------------------------------------------------------------------------------


def _tuple(raw: Any, where: str) -> TupleKey:
    if not isinstance(raw, dict):
        raise StoreFileError(f"{where}: a tuple must be a mapping with user, relation and object")
    missing = [f for f in ("user", "relation", "object") if not raw.get(f)]
    if missing:
        raise StoreFileError(f"{where}: tuple is missing {', '.join(missing)}")
    cond = raw.get("condition")
    condition = None
    if cond:
        if not isinstance(cond, dict) or not cond.get("name"):
            raise StoreFileError(f"{where}: a tuple condition needs a name")
        condition = TupleCondition(name=str(cond["name"]), context=cond.get("context") or None)
    return TupleKey(
        object=str(raw["object"]),
        relation=str(raw["relation"]),
        user=str(raw["user"]),
        condition=condition,
    )


def _csv_tuples(text: str, where: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    known = set(CSV_HEADER)
    headers = [h.strip() for h in reader.fieldnames or ()]
    unknown = [h for h in headers if h not in known]
    if unknown:
        raise StoreFileError(
            f"{where}: invalid CSV header {unknown[0]!r}; valid headers are {', '.join(sorted(known))}"
        )
    for required in ("user_type", "user_id", "relation", "object_type", "object_id"):
        if required not in headers:
            raise StoreFileError(f"{where}: missing required CSV header {required!r}")
    out: list[dict[str, Any]] = []
    for n, row in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        user = f"{row['user_type']}:{row['user_id']}"
        if row.get("user_relation"):
            user += f"#{row['user_relation']}"
        item: dict[str, Any] = {
            "user": user,
            "relation": row["relation"],
            "object": f"{row['object_type']}:{row['object_id']}",
        }
        if row.get("condition_name"):
            context = row.get("condition_context") or ""
            try:
                item["condition"] = {
                    "name": row["condition_name"],
                    "context": json.loads(context) if context else None,
                }
            except json.JSONDecodeError as err:
                raise StoreFileError(
                    f"{where}:{n}: condition_context is not JSON: {err.msg}"
                ) from err
        out.append(item)
    return out


def _read_tuple_file(path: Path) -> list[TupleKey]:
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise StoreFileError(f"cannot read tuple file {where}: {err.strerror}") from err
    suffix = path.suffix.lower()
    try:
        if suffix in (".yaml", ".yml", ".json"):
            raw = yaml.load(text, Loader=_NoTimestampLoader)
        elif suffix == ".jsonl":
            raw = [json.loads(line) for line in text.splitlines() if line.strip()]
        elif suffix == ".csv":
            raw = _csv_tuples(text, where)
        else:
            raise StoreFileError(
                f"{where}: unsupported tuple file format {suffix!r} (use yaml, json, jsonl or csv)"
            )
    except (yaml.YAMLError, json.JSONDecodeError) as err:
        raise StoreFileError(f"{where}: not valid {suffix.lstrip('.')}: {err}") from err
    if not isinstance(raw, list) or not raw:
        raise StoreFileError(f"{where}: expected a non-empty list of tuples")
    return [_tuple(t, f"{where} tuple {i + 1}") for i, t in enumerate(raw)]


def _tuples_of(section: dict[str, Any], base: Path, where: str) -> list[TupleKey]:
    tuples = [
        _tuple(t, f"{where} tuple {i + 1}") for i, t in enumerate(section.get("tuples") or ())
    ]
    files = list(section.get("tuple_files") or ())
    if section.get("tuple_file"):
        files.insert(0, section["tuple_file"])
    seen = {t.key for t in tuples}
    for name in files:
        for key in _read_tuple_file(base / str(name)):
            if key.key not in seen:
                seen.add(key.key)
                tuples.append(key)
    return tuples


def _entries(test: dict[str, Any], field: str, where: str) -> tuple[dict[str, Any], ...]:
    value = test.get(field) or []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise StoreFileError(f"{where}: '{field}' must be a list of mappings")
    return tuple(value)


def load_store_file(path: str | os.PathLike[str]) -> StoreFile:
    """Read a store test file and everything it refers to (paths are relative to the file)."""
    p = Path(path)
    try:
        data = yaml.load(p.read_text(encoding="utf-8"), Loader=_NoTimestampLoader)
    except OSError as err:
        raise StoreFileError(f"cannot read {p}: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise StoreFileError(f"{p}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise StoreFileError(f"{p}: expected a mapping with model, tuples and tests")
    base = p.parent
    if data.get("model"):
        model = load_model(str(data["model"]), file=f"{p} (model)").model
    elif data.get("model_file"):
        model = load_model_file(base / str(data["model_file"]))
    else:
        raise StoreFileError(f"{p}: needs 'model' or 'model_file'")
    validate_model(model)
    tests = []
    for i, raw in enumerate(data.get("tests") or ()):
        if not isinstance(raw, dict):
            raise StoreFileError(f"{p}: test {i + 1} must be a mapping")
        name = str(raw.get("name") or f"test {i + 1}")
        where = f"{p} test '{name}'"
        tests.append(
            TestCase(
                name=name,
                description=str(raw.get("description") or ""),
                tuples=tuple(_tuples_of(raw, base, where)),
                check=_entries(raw, "check", where),
                list_objects=_entries(raw, "list_objects", where),
                list_users=_entries(raw, "list_users", where),
            )
        )
    return StoreFile(
        path=str(p),
        name=str(data.get("name") or ""),
        model=model,
        tuples=tuple(_tuples_of(data, base, str(p))),
        tests=tuple(tests),
    )


# -- running ------------------------------------------------------------------------------------


def _listed(entry: dict[str, Any], one: str, many: str) -> list[str]:
    if entry.get(many):
        return [str(v) for v in entry[many]]
    return [str(entry.get(one, ""))]


async def _setup(store_file: StoreFile, test: TestCase) -> tuple[MemoryDatastore, str]:
    datastore = MemoryDatastore()
    store = await datastore.create_store(store_file.name or test.name)
    stored = await datastore.write_model(store.id, store_file.model)
    ts = TypeSystem.new(stored.model)
    tuples = [*store_file.tuples, *test.tuples]
    seen: set[tuple[str, str, str]] = set()
    for key in tuples:
        if key.key in seen:
            raise StoreFileError(
                f"duplicate tuple {key}: it is both in the global tuples and in the test's"
            )
        seen.add(key.key)
        validate_tuple(ts, key)
    if tuples:
        await datastore.write(store.id, writes=tuples)
    return datastore, store.id


async def _run_test(store_file: StoreFile, test: TestCase) -> list[AssertionOutcome]:
    datastore, store_id = await _setup(store_file, test)
    resolver = ModelResolver(datastore)
    out: list[AssertionOutcome] = []

    def outcome(
        kind: str, request: dict[str, Any], expected: Any, got: Any = None, error: str = ""
    ) -> None:
        out.append(
            AssertionOutcome(
                file=store_file.path,
                test=test.name,
                kind=kind,
                request=request,
                expected=expected,
                got=got,
                error=error,
            )
        )

    check = CheckQuery(reader=datastore, resolver=resolver)
    for entry in test.check:
        context = entry.get("context") or None
        for user in _listed(entry, "user", "users"):
            for obj in _listed(entry, "object", "objects"):
                for relation, expected in (entry.get("assertions") or {}).items():
                    request = {
                        "user": user,
                        "relation": relation,
                        "object": obj,
                        "context": context,
                    }
                    try:
                        got = (
                            await check.execute(
                                CheckParams(
                                    store_id=store_id,
                                    tuple_key=TupleKey(object=obj, relation=relation, user=user),
                                    context=context,
                                )
                            )
                        ).allowed
                    except PermsvcError as err:
                        outcome("check", request, bool(expected), error=str(err))
                    else:
                        outcome("check", request, bool(expected), got)
    list_objects = ListObjectsQuery(reader=datastore, resolver=resolver)
    for entry in test.list_objects:
        context = entry.get("context") or None
        for relation, expected in (entry.get("assertions") or {}).items():
            request = {
                "user": str(entry.get("user", "")),
                "relation": relation,
                "type": str(entry.get("type", "")),
                "context": context,
            }
            want = sorted(set(expected or ()))
            try:
                objects = [
                    o
                    async for o in list_objects.stream(
                        ListObjectsParams(
                            store_id=store_id,
                            type=request["type"],
                            relation=relation,
                            user=request["user"],
                            context=context,
                        )
                    )
                ]
            except PermsvcError as err:
                outcome("list_objects", request, want, error=str(err))
            else:
                outcome("list_objects", request, want, sorted(set(objects)))
    list_users = ListUsersQuery(reader=datastore, resolver=resolver)
    for entry in test.list_users:
        context = entry.get("context") or None
        filters = tuple(
            UserFilter(type=str(f.get("type", "")), relation=str(f.get("relation") or ""))
            for f in entry.get("user_filter") or ()
        )
        for relation, expected in (entry.get("assertions") or {}).items():
            request = {
                "object": str(entry.get("object", "")),
                "relation": relation,
                "context": context,
                "user_filter": [
                    f"{f.type}#{f.relation}" if f.relation else f.type for f in filters
                ],
            }
            want = sorted(set((expected or {}).get("users") or ()))
            try:
                users = await _all_users(
                    list_users,
                    ListUsersParams(
                        store_id=store_id,
                        object=request["object"],
                        relation=relation,
                        user_filters=filters,
                        context=context,
                    ),
                )
            except PermsvcError as err:
                outcome("list_users", request, want, error=str(err))
            else:
                outcome("list_users", request, want, users)
    return out


async def _all_users(query: ListUsersQuery, params: ListUsersParams) -> list[str]:
    users: list[str] = []
    token = ""
    while True:
        page = await query.execute(msgspec.structs.replace(params, continuation_token=token))
        users.extend(page.users)
        token = page.continuation_token
        if not token:
            return sorted(set(users))


async def run_store_file(
    store_file: StoreFile,
) -> list[tuple[TestCase, list[AssertionOutcome], str]]:
    """Run every test of a loaded file: ``(test, assertion outcomes, setup error)`` per test."""
    results = []
    for test in store_file.tests:
        try:
            results.append((test, await _run_test(store_file, test), ""))
        except PermsvcError as err:
            results.append((test, [], str(err)))
    return results


# -- the command --------------------------------------------------------------------------------


class _Style:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text


def _files(patterns: list[str]) -> list[str]:
    found: list[str] = []
    for pattern in patterns:
        matches = (
            sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
        )
        found.extend(m for m in matches if m not in found)
    return found


def _test(args: argparse.Namespace) -> int:
    files = _files(args.tests)
    if not files:
        print(f"permsvc: error: no store test files match {' '.join(args.tests)}", file=sys.stderr)
        return 1
    style = _Style(sys.stdout.isatty() and not os.environ.get("NO_COLOR") and not args.json)
    passed = failed = 0
    broken = 0
    records: list[dict[str, Any]] = []
    for file in files:
        try:
            store_file = load_store_file(file)
            results = asyncio.run(run_store_file(store_file))
        except PermsvcError as err:
            broken += 1
            records.append({"file": file, "error": str(err)})
            if not args.json:
                print(f"{style('ERROR', '1;31')} {file}: {err}")
            continue
        if not args.json:
            title = f"{file}" + (f" ({store_file.name})" if store_file.name else "")
            print(style(title, "1"))
        for test, outcomes, error in results:
            ok = sum(o.passed for o in outcomes)
            bad = len(outcomes) - ok
            passed += ok
            failed += bad
            if error:
                broken += 1
            for o in outcomes:
                records.append(
                    {
                        "file": o.file,
                        "test": o.test,
                        "kind": o.kind,
                        "request": o.request,
                        "expected": o.expected,
                        "got": o.got,
                        "error": o.error or None,
                        "passed": o.passed,
                    }
                )
            if error:
                records.append({"file": file, "test": test.name, "error": error})
            if args.json:
                continue
            if error:
                print(f"  {style('ERROR', '1;31')} {test.name}: {error}")
            elif bad:
                print(
                    f"  {style('FAIL', '1;31')}  {test.name}  ({ok} of {len(outcomes)} assertions passed)"
                )
            else:
                print(f"  {style('PASS', '1;32')}  {test.name}  ({len(outcomes)} assertions)")
            for o in outcomes:
                if not o.passed:
                    print(f"        {style('✗', '31')} {o.describe()}: {o.mismatch()}")
    summary = f"{passed} passed, {failed} failed"
    if broken:
        summary += f", {broken} could not run"
    if args.json:
        json.dump(
            {"results": records, "passed": passed, "failed": failed, "errors": broken},
            sys.stdout,
            indent=2,
            default=str,
        )
        sys.stdout.write("\n")
    else:
        print()
        print(style(summary, "1;32" if not failed and not broken else "1;31"))
    return 1 if failed or broken else 0


def register(model_subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``model test`` to the ``model`` command group."""
    parser = model_subparsers.add_parser(
        "test",
        help="run store test files (*.fga.yaml) like `fga model test`",
        description="Run OpenFGA store test files: each test gets a fresh in-memory store with the model, the "
        "global tuples and its own tuples, then its check / list_objects / list_users assertions run. "
        "Prints one line per failing assertion and 'N passed, M failed'; exits 1 if anything failed.",
    )
    parser.add_argument(
        "--tests",
        action="append",
        required=True,
        metavar="GLOB",
        help="store test file(s), e.g. 'tests/**/*.fga.yaml' (quote globs; repeatable)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print every assertion's result as JSON"
    )
    parser.set_defaults(func=_test)
