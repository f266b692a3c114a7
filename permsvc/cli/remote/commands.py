"""The remote commands: ``permsvc store|model|tuple|check|list-objects|list-users|claims|key|audit``
against a running permsvc (``--url`` / ``PERMSVC_URL``, ``--api-key`` / ``PERMSVC_API_KEY``).

They use the server's OpenFGA-compatible routes (``/stores/...``) and its admin API
(``/v1/admin/...``, ``/v1/claims``), print tables (or ``--json``) on stdout and messages on
stderr, and exit with the statuses of :mod:`permsvc.cli.remote.client` (documented in
``docs/cli.md``).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from permsvc.cli.remote.client import (
    DEFAULT_TIMEOUT_S,
    EXIT_DENIED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    Remote,
    RemoteError,
    UsageError,
    setting,
)
from permsvc.cli.remote.importer import ImportInterrupted, run_import
from permsvc.cli.remote.output import emit_json, print_table, ulid_time
from permsvc.cli.remote.tuples_io import CSV_HEADER, FORMATS, TupleFile, csv_row, tuple_from_words

__all__ = (
    "add_model_commands",
    "add_remote_options",
    "register",
    "remote_check",
    "run_remote",
)

Handler = Callable[[Remote, argparse.Namespace], int]


# -- options and the run wrapper -----------------------------------------------------------------


def add_remote_options(parser: argparse.ArgumentParser, *, store: bool = True) -> None:
    group = parser.add_argument_group("server")
    group.add_argument(
        "--url", help="permsvc base URL, e.g. https://authz.example.com (PERMSVC_URL)"
    )
    group.add_argument(
        "--api-key", help="credential sent as 'Authorization: Bearer ...' (PERMSVC_API_KEY)"
    )
    group.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds to wait for each answer (default {DEFAULT_TIMEOUT_S:g})",
    )
    group.add_argument("--json", action="store_true", help="print the result as JSON (for scripts)")
    if store:
        group.add_argument("--store", help="store id (PERMSVC_STORE)")


def _open_remote(args: argparse.Namespace) -> Remote:
    url = setting(getattr(args, "url", None), "PERMSVC_URL")
    if not url:
        raise UsageError("no server: pass --url URL or set PERMSVC_URL")
    return Remote(
        url, setting(getattr(args, "api_key", None), "PERMSVC_API_KEY"), timeout=args.timeout
    )


def _fail(err: RemoteError) -> int:
    print(f"permsvc: error: {err.message}", file=sys.stderr)
    return err.exit_code


def run_remote(handler: Handler) -> Callable[[argparse.Namespace], int]:
    """``func`` of a remote command: open the connection, run, map failures to exit statuses."""

    def run(args: argparse.Namespace) -> int:
        try:
            with _open_remote(args) as remote:
                return handler(remote, args)
        except RemoteError as err:
            return _fail(err)

    return run


def _store(args: argparse.Namespace, required: bool = True) -> str:
    store = setting(getattr(args, "store", None), "PERMSVC_STORE")
    if required and not store:
        raise UsageError("no store: pass --store STORE_ID or set PERMSVC_STORE")
    return store


def _seg(value: str) -> str:
    return quote(value, safe="")


def _json_arg(text: str | None, name: str) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError(f"{name} is not JSON: {err.msg}") from err
    if not isinstance(value, dict):
        raise UsageError(f"{name} must be a JSON object")
    return value


def _contextual(items: list[str] | None) -> list[dict[str, str]]:
    """``--contextual`` values, ``USER RELATION OBJECT`` or ``OBJECT#RELATION@USER``, as OpenFGA
    tuple keys."""
    out = []
    for item in items or ():
        words = item.split()
        if len(words) == 1 and "#" in item and "@" in item:
            left, _, user = item.rpartition("@")
            obj, _, relation = left.partition("#")
            words = [user, relation, obj]
        if len(words) != 3 or not all(words):
            raise UsageError(
                f"--contextual {item!r}: expected 'USER RELATION OBJECT' or OBJECT#RELATION@USER"
            )
        out.append({"user": words[0], "relation": words[1], "object": words[2]})
    return out


def _pages(fetch: Callable[[str], Any], key: str, limit: int | None = None) -> Iterator[Any]:
    """Every item of a paged listing (``continuation_token``), up to ``limit``."""
    token = ""
    seen = 0
    while True:
        page = fetch(token)
        for item in page.get(key) or ():
            yield item
            seen += 1
            if limit is not None and seen >= limit:
                return
        token = page.get("continuation_token") or ""
        if not token:
            return


# -- stores --------------------------------------------------------------------------------------


def _store_row(s: dict[str, Any]) -> list[Any]:
    return [s.get("id"), s.get("name"), s.get("created_at"), s.get("updated_at")]


def _store_create(remote: Remote, args: argparse.Namespace) -> int:
    created = remote.request("POST", "/stores", body={"name": args.name})
    if args.json:
        emit_json(created)
    else:
        print(created["id"])
        print(f"created store {created['id']} ({created.get('name', '')})", file=sys.stderr)
    return EXIT_OK


def _store_list(remote: Remote, args: argparse.Namespace) -> int:
    stores = list(
        _pages(
            lambda t: remote.request(
                "GET", "/stores", params={"page_size": 100, "continuation_token": t}
            ),
            "stores",
            args.limit,
        )
    )
    if args.json:
        emit_json({"stores": stores})
    else:
        print_table(
            ("id", "name", "created", "updated"), [_store_row(s) for s in stores], empty="no stores"
        )
    return EXIT_OK


def _store_get(remote: Remote, args: argparse.Namespace) -> int:
    store_id = args.store_id or _store(args)
    found = remote.request("GET", f"/stores/{_seg(store_id)}")
    if args.json:
        emit_json(found)
    else:
        print_table(("id", "name", "created", "updated"), [_store_row(found)])
    return EXIT_OK


def _store_delete(remote: Remote, args: argparse.Namespace) -> int:
    remote.request("GET", f"/stores/{_seg(args.store_id)}")
    remote.request("DELETE", f"/stores/{_seg(args.store_id)}")
    if args.json:
        emit_json({"id": args.store_id, "deleted": True})
    else:
        print(f"deleted store {args.store_id}", file=sys.stderr)
    return EXIT_OK


# -- models --------------------------------------------------------------------------------------


def _model_body(path: str) -> dict[str, Any]:
    """``{"dsl": text}`` or ``{"model": json}`` from a model file."""
    if path.endswith(".mod"):
        raise UsageError(
            f"{path}: a modular model; send its combined form: "
            f"`permsvc model transform {path} > model.json` then `permsvc model write model.json`"
        )
    try:
        text = Path(path).read_text(encoding="utf-8") if path != "-" else sys.stdin.read()
    except OSError as err:
        raise UsageError(f"{path}: {err.strerror or err}") from err
    stripped = text.lstrip()
    if path.endswith(".json") or stripped.startswith("{"):
        try:
            model = json.loads(text)
        except json.JSONDecodeError as err:
            raise UsageError(f"{path}: not valid JSON: {err.msg} (line {err.lineno})") from err
        if isinstance(model, dict) and isinstance(model.get("authorization_model"), dict):
            model = model["authorization_model"]
        if not isinstance(model, dict):
            raise UsageError(f"{path}: a JSON model must be an object")
        model.pop("id", None)
        return {"model": model}
    if not stripped:
        raise UsageError(f"{path}: the file is empty")
    return {"dsl": text}


def _diff_lines(diff: dict[str, Any]) -> list[str]:
    lines = []
    for key, value in diff.items():
        if not value:
            continue
        label = key.replace("_", " ")
        if key == "changed_relations":
            for change in value:
                what = f"{change.get('object_type')}#{change.get('relation')}"
                detail = []
                if change.get("old_rewrite") or change.get("new_rewrite"):
                    detail.append(f"{change.get('old_rewrite')} -> {change.get('new_rewrite')}")
                if change.get("removed_restrictions"):
                    detail.append("removed " + ", ".join(change["removed_restrictions"]))
                if change.get("added_restrictions"):
                    detail.append("added " + ", ".join(change["added_restrictions"]))
                lines.append(f"  changed relation {what}: {'; '.join(detail)}")
        elif isinstance(value, list):
            lines.append(f"  {label}: {', '.join(map(str, value))}")
        else:
            lines.append(f"  {label}")
    return lines


def _print_diff(answer: dict[str, Any]) -> None:
    base = answer.get("base_model_id") or "(none: the store has no model)"
    lines = _diff_lines(answer.get("diff") or {})
    print(f"against model {base}:")
    print("\n".join(lines) if lines else "  no changes")
    if answer.get("breaking"):
        print("breaking: stored tuples may stop fitting the model")
    count = answer.get("orphaned_count", 0)
    scanned = answer.get("tuples_scanned", 0)
    print(f"orphaned tuples: {count} (of {scanned} scanned)")
    for t in (answer.get("orphaned_tuples") or [])[:20]:
        print(f"  {t.get('user')} {t.get('relation')} {t.get('object')}")


def _model_write(remote: Remote, args: argparse.Namespace) -> int:
    body = {**_model_body(args.file), "store_id": _store(args), "force": args.force}
    try:
        answer = remote.request("POST", "/v1/admin/models", body=body)
    except RemoteError as err:
        if err.status == 409 and isinstance(err.body, dict) and "orphaned_count" in err.body:
            if args.json:
                emit_json(err.body)
            else:
                _print_diff(err.body)
            err.message += (
                " (review with `permsvc model diff`, then pass --force to write it anyway)"
            )
        raise
    if args.json:
        emit_json(answer)
    else:
        print(answer["authorization_model_id"])
        print(
            f"wrote model {answer['authorization_model_id']} to store {answer['store_id']}",
            file=sys.stderr,
        )
    return EXIT_OK


def _model_diff(remote: Remote, args: argparse.Namespace) -> int:
    body = {**_model_body(args.file), "store_id": _store(args)}
    if args.base_model_id:
        body["base_model_id"] = args.base_model_id
    answer = remote.request("POST", "/v1/admin/models/diff", body=body)
    if args.json:
        emit_json(answer)
    else:
        _print_diff(answer)
    return EXIT_OK


def _model_list(remote: Remote, args: argparse.Namespace) -> int:
    store = _store(args)
    models = list(
        _pages(
            lambda t: remote.request(
                "GET",
                f"/stores/{_seg(store)}/authorization-models",
                params={"page_size": 50, "continuation_token": t},
            ),
            "authorization_models",
            args.limit,
        )
    )
    if args.json:
        emit_json({"authorization_models": models})
    else:
        rows = [
            [
                m.get("id"),
                ulid_time(m.get("id", "")),
                m.get("schema_version"),
                len(m.get("type_definitions") or ()),
                len(m.get("conditions") or {}),
            ]
            for m in models
        ]
        print_table(("id", "created", "schema", "types", "conditions"), rows, empty="no models")
    return EXIT_OK


def _model_get(remote: Remote, args: argparse.Namespace) -> int:
    store = _store(args)
    if args.model_id:
        model = remote.request(
            "GET", f"/stores/{_seg(store)}/authorization-models/{_seg(args.model_id)}"
        )["authorization_model"]
    else:
        page = remote.request(
            "GET", f"/stores/{_seg(store)}/authorization-models", params={"page_size": 1}
        )
        if not page.get("authorization_models"):
            raise RemoteError(f"store {store} has no authorization model", 4)
        model = page["authorization_models"][0]
    if args.json or args.format == "json":
        emit_json({"authorization_model": model} if args.json else model)
        return EXIT_OK
    # The DSL printer is part of the model language (no engine or store code).
    from permsvc.model.compile import json_source_to_model
    from permsvc.model.dsl.printer import print_dsl

    print(f"# model {model.get('id', '')}")
    sys.stdout.write(print_dsl(json_source_to_model(json.dumps(model))))
    return EXIT_OK


# -- tuples --------------------------------------------------------------------------------------


def _one_or_file(args: argparse.Namespace) -> list[dict[str, Any]] | TupleFile:
    words = [args.user, args.relation, args.object]
    if args.file:
        if any(words):
            raise UsageError("give USER RELATION OBJECT or --file, not both")
        return TupleFile(args.file, args.format)
    if not all(words):
        raise UsageError("expected USER RELATION OBJECT (or --file FILE)")
    return [
        tuple_from_words(
            args.user,
            args.relation,
            args.object,
            getattr(args, "condition", None),
            getattr(args, "condition_context", None),
        )
    ]


def _write_words(
    remote: Remote,
    args: argparse.Namespace,
    store: str,
    tuples: list[dict[str, Any]],
    *,
    delete: bool,
) -> int:
    """One OpenFGA Write of the command line's tuple (``writes`` or ``deletes``)."""
    if delete:
        tuples = [{k: t[k] for k in ("object", "relation", "user")} for t in tuples]
    body: dict[str, Any] = {("deletes" if delete else "writes"): {"tuple_keys": tuples}}
    if args.model_id:
        body["authorization_model_id"] = args.model_id
    remote.request("POST", f"/stores/{_seg(store)}/write", body=body)
    t = tuples[0]
    if args.json:
        emit_json({("deleted" if delete else "written"): tuples})
    else:
        verb = "deleted" if delete else "wrote"
        print(f"{verb} {t['user']} {t['relation']} {t['object']}", file=sys.stderr)
    return EXIT_OK


def _tuple_write(remote: Remote, args: argparse.Namespace) -> int:
    target = _one_or_file(args)
    store = _store(args)
    if isinstance(target, TupleFile):
        return _import(remote, args, target, store)
    return _write_words(remote, args, store, target, delete=False)


def _tuple_delete(remote: Remote, args: argparse.Namespace) -> int:
    target = _one_or_file(args)
    store = _store(args)
    if not isinstance(target, TupleFile):
        return _write_words(remote, args, store, target, delete=True)
    deleted = 0
    batch: list[dict[str, Any]] = []

    def flush() -> int:
        keys = [{k: t[k] for k in ("object", "relation", "user")} for t in batch]
        answer = remote.request_retrying(
            "POST", "/v1/admin/revokes", body={"store_id": store, "tuples": keys}
        )
        batch.clear()
        return int(answer.get("changed", 0))

    for record in target.records():
        batch.append(record)
        if len(batch) >= 1000:
            deleted += flush()
    if batch:
        deleted += flush()
    if args.json:
        emit_json({"deleted": deleted})
    else:
        print(f"deleted {deleted} tuples", file=sys.stderr)
    return EXIT_OK


def _tuple_read(remote: Remote, args: argparse.Namespace) -> int:
    store = _store(args)
    key = {
        k: v
        for k, v in (("user", args.user), ("relation", args.relation), ("object", args.object))
        if v
    }
    body: dict[str, Any] = {"page_size": 100}
    if key:
        body["tuple_key"] = key

    def fetch(token: str) -> Any:
        return remote.request(
            "POST",
            f"/stores/{_seg(store)}/read",
            body={**body, **({"continuation_token": token} if token else {})},
        )

    tuples = list(_pages(fetch, "tuples", args.limit))
    if args.json:
        emit_json({"tuples": tuples})
        return EXIT_OK
    rows = []
    for t in tuples:
        k = t.get("key", {})
        cond = k.get("condition") or {}
        shown = cond.get("name", "")
        if cond.get("context"):
            shown += " " + json.dumps(cond["context"], separators=(",", ":"))
        rows.append([k.get("user"), k.get("relation"), k.get("object"), shown, t.get("timestamp")])
    print_table(("user", "relation", "object", "condition", "timestamp"), rows, empty="no tuples")
    return EXIT_OK


def _import(remote: Remote, args: argparse.Namespace, source: TupleFile, store: str) -> int:
    try:
        result = run_import(
            remote,
            source,
            store_id=store,
            model_id=args.model_id or "",
            batch_size=args.batch_size,
            resume_from=args.resume_from,
            checkpoint_file=args.checkpoint_file,
            progress=not args.no_progress,
        )
    except ImportInterrupted as stop:
        print(
            f"permsvc: interrupted; the first {stop.done} records are imported. Resume with:\n"
            f"  permsvc tuple import {source.path} --store {store} --resume-from {stop.done}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except RemoteError as err:
        done = getattr(err, "checkpoint", None)
        code = _fail(err)
        if done is not None:
            print(
                f"permsvc: the first {done} records are imported; after fixing the cause resume with:\n"
                f"  permsvc tuple import {source.path} --store {store} --resume-from {done}",
                file=sys.stderr,
            )
        return code
    summary = result.as_json()
    if args.json:
        emit_json(summary)
    else:
        print(
            f"imported {result.sent:,} tuples ({result.stored:,} new) from {source.path} in "
            f"{result.seconds:.1f} s, {summary['tuples_per_second']:,.0f} tuples/s"
            + (f", resumed at record {result.resumed_from}" if result.resumed_from else ""),
            file=sys.stderr,
        )
    return EXIT_OK


def _tuple_import(remote: Remote, args: argparse.Namespace) -> int:
    return _import(remote, args, TupleFile(args.file, args.format), _store(args))


def _tuple_export(remote: Remote, args: argparse.Namespace) -> int:
    store = _store(args)
    fmt = args.format or (Path(args.output).suffix.lstrip(".") if args.output else "jsonl")
    fmt = {"ndjson": "jsonl", "yml": "yaml"}.get(fmt, fmt)
    if fmt not in FORMATS:
        raise UsageError(f"cannot export as {fmt!r}: use --format {', '.join(FORMATS)}")
    lines = remote.stream_lines(
        "/v1/admin/tuples/export",
        params={
            "store_id": store,
            "object": args.object,
            "relation": args.relation,
            "user": args.user,
        },
    )
    out = open(args.output, "w", encoding="utf-8", newline="") if args.output else sys.stdout  # noqa: SIM115
    count = 0
    try:
        if fmt == "jsonl":
            for line in lines:
                out.write(line.decode() + "\n")
                count += 1
        elif fmt == "csv":
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(CSV_HEADER)
            for line in lines:
                writer.writerow(csv_row(json.loads(line)))
                count += 1
        elif fmt == "json":
            out.write("[")
            for line in lines:
                out.write(("\n  " if not count else ",\n  ") + line.decode())
                count += 1
            out.write("\n]\n" if count else "]\n")
        else:
            for line in lines:
                t = json.loads(line)
                out.write(
                    f"- user: {json.dumps(t['user'])}\n  relation: {json.dumps(t['relation'])}\n"
                    f"  object: {json.dumps(t['object'])}\n"
                )
                if t.get("condition"):
                    out.write(f"  condition: {json.dumps(t['condition'])}\n")
                count += 1
            if not count:
                out.write("[]\n")
    finally:
        if out is not sys.stdout:
            out.close()
        else:
            out.flush()
    print(
        f"exported {count} tuples" + (f" to {args.output}" if args.output else ""), file=sys.stderr
    )
    return EXIT_OK


# -- queries -------------------------------------------------------------------------------------


def _query_extras(args: argparse.Namespace) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    contextual = _contextual(args.contextual)
    if contextual:
        extras["contextual_tuples"] = {"tuple_keys": contextual}
    context = _json_arg(args.context, "--context")
    if context is not None:
        extras["context"] = context
    if args.model_id:
        extras["authorization_model_id"] = args.model_id
    return extras


def remote_check(args: argparse.Namespace, words: list[str]) -> int:
    """``permsvc check USER RELATION OBJECT`` (or ``OBJECT#RELATION@USER``) against the server."""

    def handler(remote: Remote, args: argparse.Namespace) -> int:
        if len(words) == 3:
            user, relation, obj = words
        elif len(words) == 1 and "#" in words[0] and "@" in words[0]:
            left, _, user = words[0].rpartition("@")
            obj, _, relation = left.partition("#")
        else:
            raise UsageError(
                "a remote check takes USER RELATION OBJECT (the fga order) or OBJECT#RELATION@USER"
            )
        store = _store(args)
        body = {
            "tuple_key": {"user": user, "relation": relation, "object": obj},
            **_query_extras(args),
        }
        answer = remote.request("POST", f"/stores/{_seg(store)}/check", body=body)
        allowed = bool(answer.get("allowed"))
        if args.json:
            emit_json(answer)
        else:
            print(f"{user} {relation} {obj}: {'allowed' if allowed else 'denied'}")
        return EXIT_OK if allowed else EXIT_DENIED

    return run_remote(handler)(args)


def _list_objects(remote: Remote, args: argparse.Namespace) -> int:
    store = _store(args)
    body = {"user": args.user, "relation": args.relation, "type": args.type, **_query_extras(args)}
    answer = remote.request("POST", f"/stores/{_seg(store)}/list-objects", body=body)
    objects = sorted(answer.get("objects") or ())
    if args.json:
        emit_json({"objects": objects})
    else:
        for obj in objects:
            print(obj)
        if not objects:
            print(
                f"no {args.type} object on which {args.user} has {args.relation}", file=sys.stderr
            )
    return EXIT_OK


def _user_text(entry: dict[str, Any]) -> str:
    if "object" in entry:
        o = entry["object"]
        return f"{o.get('type')}:{o.get('id')}"
    if "userset" in entry:
        u = entry["userset"]
        return f"{u.get('type')}:{u.get('id')}#{u.get('relation')}"
    if "wildcard" in entry:
        return f"{entry['wildcard'].get('type')}:*"
    return json.dumps(entry)


def _list_users(remote: Remote, args: argparse.Namespace) -> int:
    store = _store(args)
    obj_type, sep, obj_id = args.object.partition(":")
    if not sep or not obj_type or not obj_id:
        raise UsageError(f"OBJECT must be TYPE:ID, got {args.object!r}")
    filters = []
    for item in args.user_filter:
        ftype, _, frel = item.partition("#")
        filters.append({"type": ftype, **({"relation": frel} if frel else {})})
    body = {
        "object": {"type": obj_type, "id": obj_id},
        "relation": args.relation,
        "user_filters": filters,
        **_query_extras(args),
    }
    answer = remote.request("POST", f"/stores/{_seg(store)}/list-users", body=body)
    users = sorted(_user_text(u) for u in answer.get("users") or ())
    if args.json:
        emit_json(answer)
    else:
        for user in users:
            print(user)
        if not users:
            print(f"no user has {args.relation} on {args.object}", file=sys.stderr)
    return EXIT_OK


def _claims_preview(remote: Remote, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"user_id": args.user}
    store = _store(args, required=False)
    if store:
        body["store_id"] = store
    if args.audience:
        body["audience"] = args.audience
    answer = remote.request("POST", "/v1/claims", body=body)
    if args.json:
        emit_json(answer)
        return EXIT_OK
    for name, value in (answer.get("claims") or {}).items():
        print(f"{name}: {json.dumps(value, ensure_ascii=False)}")
    size = len(json.dumps(answer.get("claims") or {}, separators=(",", ":")).encode())
    note = ", truncated to the budget" if answer.get("truncated") else ""
    print(f"revision {answer.get('revision')}, {size} bytes{note}", file=sys.stderr)
    return EXIT_OK


# -- keys and audit ------------------------------------------------------------------------------


def _key_row(k: dict[str, Any]) -> list[Any]:
    return [
        k.get("id"),
        ",".join(k["roles"]) if k.get("roles") else k.get("scope"),
        k.get("store_id") or "any",
        k.get("name"),
        k.get("created_at"),
        k.get("revoked_at") or "",
    ]


_KEY_HEADERS = ("id", "roles", "store", "name", "created", "revoked")


def _key_create(remote: Remote, args: argparse.Namespace) -> int:
    if bool(args.roles) == bool(args.scope):
        raise UsageError(
            "give the key's roles with --roles (e.g. --roles check or --roles read,claims)"
        )
    body: dict[str, Any] = {"name": args.name or ""}
    if args.roles:
        body["roles"] = [r.strip() for r in args.roles.split(",") if r.strip()]
    else:
        body["scope"] = args.scope
    if args.store:
        body["store_id"] = args.store
    answer = remote.request("POST", "/v1/admin/keys", body=body)
    if args.json:
        emit_json(answer)
    else:
        print(answer["key"])
        info = answer.get("info") or {}
        roles = ",".join(info["roles"]) if info.get("roles") else info.get("scope")
        print(
            f"created API key {info.get('id')} (roles {roles}, store "
            f"{info.get('store_id') or 'any'}); it is printed once, store it now",
            file=sys.stderr,
        )
    return EXIT_OK


def _key_list(remote: Remote, args: argparse.Namespace) -> int:
    answer = remote.request(
        "GET", "/v1/admin/keys", params={"include_revoked": "true" if args.all else None}
    )
    if args.json:
        emit_json(answer)
    else:
        print_table(
            _KEY_HEADERS, [_key_row(k) for k in answer.get("keys") or ()], empty="no API keys"
        )
    return EXIT_OK


def _key_revoke(remote: Remote, args: argparse.Namespace) -> int:
    answer = remote.request("DELETE", f"/v1/admin/keys/{_seg(args.key_id)}")
    if args.json:
        emit_json(answer)
    else:
        print(
            f"revoked API key {answer.get('id')} (revoked at {answer.get('revoked_at')})",
            file=sys.stderr,
        )
    return EXIT_OK


def _audit_list(remote: Remote, args: argparse.Namespace) -> int:
    params = {
        "store_id": args.store,
        "actor": args.actor,
        "action": args.action,
        "since": args.since,
        "until": args.until,
        "page_size": min(args.limit, 100),
    }

    def fetch(token: str) -> Any:
        return remote.request(
            "GET", "/v1/admin/audit", params={**params, "continuation_token": token}
        )

    entries = list(_pages(fetch, "entries", args.limit))
    if args.json:
        emit_json({"entries": entries})
        return EXIT_OK
    rows = []
    for e in entries:
        detail = json.dumps(e.get("detail") or {}, separators=(",", ":"), ensure_ascii=False)
        if len(detail) > 80 and not args.wide:
            detail = detail[:77] + "..."
        rows.append(
            [
                e.get("id"),
                e.get("at"),
                e.get("actor"),
                e.get("action"),
                e.get("store_id") or "",
                e.get("revision") if e.get("revision") is not None else "",
                detail,
            ]
        )
    print_table(
        ("id", "at", "actor", "action", "store", "revision", "detail"),
        rows,
        empty="no audit entries",
    )
    return EXIT_OK


# -- registration --------------------------------------------------------------------------------


def _group(subparsers: Any, name: str, help_text: str, description: str) -> Any:
    parser = subparsers.add_parser(name, help=help_text, description=description)
    sub = parser.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND")

    def usage(_: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    parser.set_defaults(func=usage)
    return sub


def _command(
    sub: Any, name: str, help_text: str, handler: Handler, *, store: bool = True
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
    add_remote_options(parser, store=store)
    parser.set_defaults(func=run_remote(handler))
    return parser


def _query_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-id", help="authorization model id (default: the store's latest)")
    parser.add_argument("--context", help="condition context, a JSON object")
    parser.add_argument(
        "--contextual",
        "--contextual-tuple",
        action="append",
        dest="contextual",
        metavar="'USER RELATION OBJECT'",
        help="a contextual tuple, or OBJECT#RELATION@USER (repeatable)",
    )


def _tuple_args(parser: argparse.ArgumentParser, *, condition: bool) -> None:
    parser.add_argument("user", nargs="?", metavar="USER")
    parser.add_argument("relation", nargs="?", metavar="RELATION")
    parser.add_argument("object", nargs="?", metavar="OBJECT")
    parser.add_argument("--file", help="a tuple file instead (JSON lines, JSON, YAML or CSV)")
    parser.add_argument(
        "--format", choices=FORMATS, help="the file's format (default: from its extension)"
    )
    parser.add_argument("--model-id", help="authorization model id to validate against")
    if condition:
        parser.add_argument("--condition", help="condition name")
        parser.add_argument("--condition-context", help="condition context, a JSON object")


def _import_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--batch-size",
        type=int,
        default=5000,
        help="tuples per request, each stored as one revision (default 5000)",
    )
    parser.add_argument(
        "--resume-from",
        type=int,
        metavar="N",
        help="skip the first N records (the checkpoint printed by an interrupted import)",
    )
    parser.add_argument(
        "--checkpoint-file",
        metavar="PATH",
        help="record progress here after every batch and resume from it when it exists",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress line on stderr")


def add_model_commands(sub: Any) -> None:
    """``model write|get|list|diff`` in the ``model`` group of :mod:`permsvc.cli.model`."""
    write = _command(sub, "write", "upload a model (DSL or JSON) to a remote store", _model_write)
    write.add_argument("file", metavar="FILE", help="model file: .fga DSL or .json ('-': stdin)")
    write.add_argument(
        "--force",
        action="store_true",
        help="write it even when stored tuples would no longer fit it",
    )
    get = _command(sub, "get", "print a remote store's model (default: the latest)", _model_get)
    get.add_argument("model_id", nargs="?", metavar="MODEL_ID")
    get.add_argument(
        "--format", choices=("dsl", "json"), default="dsl", help="output form (default dsl)"
    )
    listing = _command(sub, "list", "list a remote store's models, newest first", _model_list)
    listing.add_argument("--limit", type=int, help="at most this many")
    diff = _command(sub, "diff", "compare a model file with a remote store's model", _model_diff)
    diff.add_argument("file", metavar="FILE", help="model file: .fga DSL or .json")
    diff.add_argument("--base-model-id", help="compare with this model instead of the latest")


def register(subparsers: Any) -> None:
    """The remote command groups (``check`` and ``model`` live in their local modules)."""
    stores = _group(
        subparsers,
        "store",
        "stores on a permsvc server: create, list, get, delete",
        "Manage the stores of a running permsvc (--url / PERMSVC_URL).",
    )
    create = _command(
        stores, "create", "create a store (prints its id)", _store_create, store=False
    )
    create.add_argument("name", metavar="NAME")
    listing = _command(stores, "list", "list stores", _store_list, store=False)
    listing.add_argument("--limit", type=int, help="at most this many")
    get = _command(stores, "get", "show a store", _store_get)
    get.add_argument(
        "store_id", nargs="?", metavar="STORE_ID", help="default: --store / PERMSVC_STORE"
    )
    delete = _command(
        stores, "delete", "delete a store and everything in it", _store_delete, store=False
    )
    delete.add_argument("store_id", metavar="STORE_ID")

    tuples = _group(
        subparsers,
        "tuple",
        "tuples on a permsvc server: write, delete, read, import, export",
        "Write, delete, read, import and export the tuples of a remote store.",
    )
    write = _command(tuples, "write", "write a tuple (or a file of them: see import)", _tuple_write)
    _tuple_args(write, condition=True)
    _import_options(write)
    delete = _command(tuples, "delete", "delete a tuple (or every tuple of a file)", _tuple_delete)
    _tuple_args(delete, condition=False)
    read = _command(tuples, "read", "list stored tuples matching a filter", _tuple_read)
    read.add_argument("--user")
    read.add_argument("--relation")
    read.add_argument("--object", help="TYPE:ID, or TYPE: with --user")
    read.add_argument("--limit", type=int, help="at most this many")
    imp = _command(
        tuples, "import", "import a tuple file in batches, with progress, resumable", _tuple_import
    )
    imp.add_argument(
        "file", metavar="FILE", help="JSON lines, JSON, YAML or CSV ('-': JSON lines on stdin)"
    )
    imp.add_argument(
        "--format", choices=FORMATS, help="the file's format (default: from its extension)"
    )
    imp.add_argument("--model-id", help="authorization model id to validate against")
    _import_options(imp)
    export = _command(tuples, "export", "stream every tuple matching a filter", _tuple_export)
    export.add_argument("--output", "-o", metavar="FILE", help="write here (default stdout)")
    export.add_argument(
        "--format", choices=FORMATS, help="default: from --output's extension, else jsonl"
    )
    export.add_argument("--user")
    export.add_argument("--relation")
    export.add_argument("--object")

    objects = _command(
        subparsers, "list-objects", "objects of a type on which USER has RELATION", _list_objects
    )
    objects.add_argument("user", metavar="USER")
    objects.add_argument("relation", metavar="RELATION")
    objects.add_argument("type", metavar="TYPE")
    _query_options(objects)

    users = _command(subparsers, "list-users", "users that have RELATION on OBJECT", _list_users)
    users.add_argument("object", metavar="OBJECT")
    users.add_argument("relation", metavar="RELATION")
    users.add_argument(
        "--user-filter",
        action="append",
        required=True,
        metavar="TYPE[#RELATION]",
        help="the kind of user to list, e.g. user or group#member (repeatable)",
    )
    _query_options(users)

    claims = _group(
        subparsers,
        "claims",
        "claim feed: preview a user's permission claim",
        "What the post-login claim feed would put into USER's token.",
    )
    preview = _command(
        claims, "preview", "the claim USER's next token would carry", _claims_preview
    )
    preview.add_argument(
        "user", metavar="USER", help="the identity provider's user id, e.g. auth0|123"
    )
    preview.add_argument("--audience", help="the API the token is for")

    keys = _group(
        subparsers,
        "key",
        "API keys on a permsvc server: create, list, revoke",
        "API keys of a running permsvc (needs an admin credential).",
    )
    kcreate = _command(
        keys, "create", "create an API key (printed once on stdout)", _key_create, store=False
    )
    kcreate.add_argument(
        "--roles",
        help="comma-separated roles: check, read, write, admin, claims (servers with roles)",
    )
    kcreate.add_argument(
        "--scope", help="one role, as servers before roles take it: admin, check or claims"
    )
    kcreate.add_argument("--store", help="limit the key to this store id")
    kcreate.add_argument("--name", default="", help="a label for the key")
    klist = _command(keys, "list", "list API keys (never their secrets)", _key_list, store=False)
    klist.add_argument("--all", action="store_true", help="include revoked keys")
    krevoke = _command(keys, "revoke", "revoke an API key", _key_revoke, store=False)
    krevoke.add_argument("key_id", metavar="KEY_ID")

    audit = _group(
        subparsers,
        "audit",
        "the audit log of a permsvc server",
        "Read the audit log of a running permsvc, newest first.",
    )
    alist = _command(audit, "list", "audit entries, newest first", _audit_list)
    alist.add_argument("--actor")
    alist.add_argument("--action")
    alist.add_argument("--since", help="RFC 3339 time")
    alist.add_argument("--until", help="RFC 3339 time")
    alist.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    alist.add_argument("--wide", action="store_true", help="do not shorten the detail column")
