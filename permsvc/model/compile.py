"""DSL syntax tree -> :class:`~permsvc.model.schema.AuthorizationModel`, and the DSL <-> JSON transforms.

Three inputs are understood, as ``fga model transform`` understands them:

- a single ``.fga`` file (``model`` / ``schema 1.1`` header);
- OpenFGA's JSON form (``.json``), read by :func:`permsvc.model.json.model_from_json`;
- a modular model: an ``fga.mod`` manifest (``schema: '1.2'``, optional ``module:``, and
  ``contents:`` listing ``.fga`` module files relative to it). Each module file starts with
  ``module <name>`` and may ``extend type`` a type defined in another module. The combined model
  has schema ``1.2`` and records, as OpenFGA does, each type's and condition's ``module`` and
  ``source_info.file``, and the same for every relation added by ``extend type``.

Compiling also yields a :data:`SourceMap` from model elements to source positions, so that
:func:`permsvc.model.validation.validate_model` can point at the exact symbol at fault.

This module reads files (:func:`load_model_file`) but never validates semantics: transforming
is syntax-only, as it is in OpenFGA; call ``validate_model`` (or ``TypeSystem.validated``) for
the server's rules.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from permsvc.model.dsl.ast import (
    Computed,
    Direct,
    DslFile,
    FromParent,
    Operation,
    RelationDecl,
    RelationExpr,
)
from permsvc.model.dsl.parser import parse
from permsvc.model.dsl.printer import print_dsl
from permsvc.model.errors import DslSyntaxError, ModelError, ModelIssue, ModelJsonError
from permsvc.model.json import model_from_json, model_to_json
from permsvc.model.schema import (
    CONDITION_TYPE_NAMES,
    AuthorizationModel,
    ComputedUserset,
    Condition,
    ConditionParam,
    Difference,
    Intersection,
    RelationDefinition,
    RelationReference,
    Rewrite,
    SourcePos,
    This,
    TupleToUserset,
    TypeDefinition,
    Union,
)

__all__ = (
    "MAX_MODEL_BYTES",
    "LoadedModel",
    "SourceMap",
    "compile_dsl",
    "dsl_to_json",
    "json_to_dsl",
    "load_model",
    "load_model_file",
    "parse_dsl",
    "read_model_file",
)

MAX_MODEL_BYTES = 256 * 1024
"""Largest model source accepted (OpenFGA's limit on a model, 256 KiB), checked before parsing."""

SourceMap = dict[tuple[str, ...], SourcePos]
"""Where model elements were written. Keys (all strings):

- ``("type", type)`` and ``("relation", type, relation)``: the name in its declaration;
- ``("restriction", type, relation, str(ref))``: one entry of ``[...]``;
- ``("restriction_condition", type, relation, str(ref))``: the name after ``with``;
- ``("computed", type, relation, target)``: the first use of ``target`` in the definition;
- ``("ttu", type, relation, tupleset, target)``: ``target from tupleset``;
- ``("tupleset", type, relation, tupleset)``: the ``tupleset`` name in it;
- ``("condition", name)`` and ``("param", condition, parameter)``.
"""


class LoadedModel(msgspec.Struct, frozen=True, kw_only=True):
    """A model read from a source, with where its elements were written (empty for JSON)."""

    model: AuthorizationModel
    locations: SourceMap = msgspec.field(default_factory=dict)
    format: str = "dsl"
    """``dsl``, ``json`` or ``modular``: which form the source was in."""


# -- AST -> schema ---------------------------------------------------------------------------


class _Compiler:
    def __init__(self, locations: SourceMap) -> None:
        self.locations = locations

    def note(self, key: tuple[str, ...], pos: SourcePos) -> None:
        self.locations.setdefault(key, pos)

    def rewrite(
        self, expr: RelationExpr, type_name: str, rel: str, refs: list[RelationReference]
    ) -> Rewrite:
        match expr:
            case Direct(restrictions=restrictions):
                for r in restrictions:
                    ref = RelationReference(
                        type=r.type.text,
                        relation=r.relation.text if r.relation else "",
                        wildcard=r.wildcard,
                        condition=r.condition.text if r.condition else "",
                    )
                    refs.append(ref)
                    self.note(("restriction", type_name, rel, str(ref)), r.pos)
                    if r.condition:
                        self.note(
                            ("restriction_condition", type_name, rel, str(ref)), r.condition.pos
                        )
                return This()
            case Computed(relation=target):
                self.note(("computed", type_name, rel, target.text), target.pos)
                return ComputedUserset(target.text)
            case FromParent(relation=target, tupleset=tupleset, pos=pos):
                self.note(("ttu", type_name, rel, tupleset.text, target.text), pos)
                self.note(("tupleset", type_name, rel, tupleset.text), tupleset.pos)
                return TupleToUserset(tupleset.text, target.text)
            case Operation(op="difference", children=(base, subtract)):
                return Difference(
                    self.rewrite(base, type_name, rel, refs),
                    self.rewrite(subtract, type_name, rel, refs),
                )
            case Operation(op=op, children=children):
                kids = tuple(self.rewrite(c, type_name, rel, refs) for c in children)
                return Union(kids) if op == "union" else Intersection(kids)
        raise TypeError(f"not a relation expression: {expr!r}")

    def relations(
        self, type_name: str, decls: tuple[RelationDecl, ...], module: str = "", file: str = ""
    ) -> dict[str, RelationDefinition]:
        out: dict[str, RelationDefinition] = {}
        for decl in decls:
            refs: list[RelationReference] = []
            rewrite = self.rewrite(decl.expr, type_name, decl.name.text, refs)
            self.note(("relation", type_name, decl.name.text), decl.name.pos)
            out[decl.name.text] = RelationDefinition(
                name=decl.name.text,
                rewrite=rewrite,
                directly_related=tuple(refs),
                module=module,
                source_file=file,
                pos=decl.name.pos,
            )
        return out

    def conditions(self, tree: DslFile, module: str = "", file: str = "") -> dict[str, Condition]:
        out: dict[str, Condition] = {}
        for c in tree.conditions:
            self.note(("condition", c.name.text), c.name.pos)
            params: dict[str, ConditionParam] = {}
            for p in c.params:
                self.note(("param", c.name.text, p.name.text), p.name.pos)
                generics = (
                    (ConditionParam(type_name=CONDITION_TYPE_NAMES[p.generic]),)
                    if p.generic
                    else ()
                )
                params[p.name.text] = ConditionParam(
                    type_name=CONDITION_TYPE_NAMES[p.type_name], generic_types=generics
                )
            out[c.name.text] = Condition(
                name=c.name.text,
                expression=c.expression,
                parameters=params,
                module=module,
                source_file=file,
                pos=c.name.pos,
            )
        return out


def compile_dsl(text: str, file: str = "") -> LoadedModel:
    """Parse and compile one ``model`` DSL file (syntax only; see :mod:`permsvc.model.validation`).

    Raises:
        DslSyntaxError: every syntax error, located; also raised for a ``module`` file, which
            only makes sense as part of an ``fga.mod`` modular model.
    """
    _check_size(len(text.encode("utf-8", "surrogatepass")), file)
    tree = parse(text, file)
    if tree.module:
        raise DslSyntaxError(
            [
                ModelIssue(
                    message=f"'module {tree.module}' is a module file of a modular model; it has no schema version "
                    "of its own: validate or transform the fga.mod that lists it",
                    line=tree.pos.line,
                    column=tree.pos.column,
                    file=file,
                    rule="syntax",
                )
            ]
        )
    locations: SourceMap = {("schema",): tree.pos}
    c = _Compiler(locations)
    types = []
    for td in tree.types:
        locations.setdefault(("type", td.name.text), td.name.pos)
        types.append(
            TypeDefinition(
                name=td.name.text,
                relations=c.relations(td.name.text, td.relations),
                pos=td.name.pos,
            )
        )
    model = AuthorizationModel(
        schema_version=tree.schema_version,
        type_definitions=tuple(types),
        conditions=c.conditions(tree),
    )
    return LoadedModel(model=model, locations=locations, format="dsl")


def parse_dsl(text: str, file: str = "") -> AuthorizationModel:
    """The model written in ``text`` (one ``model`` DSL file). Syntax only; raises :class:`DslSyntaxError`."""
    return compile_dsl(text, file).model


# -- modular models --------------------------------------------------------------------------

_MOD_LINE = re.compile(r"^(?P<key>[A-Za-z_][\w-]*)\s*:\s*(?P<value>.*)$")


def _mod_scalar(raw: str) -> str | bool | int | None:
    value = raw.strip()
    if value[:1] in ("'", '"'):
        quote = value[0]
        end = value.find(quote, 1)
        return value[1:end] if end > 0 else value[1:]
    value = re.sub(r"\s+#.*$", "", value)
    if value in ("true", "false"):
        return value == "true"
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    return value or None


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return f"boolean value {str(value).lower()}"
    if isinstance(value, int):
        return f"number value {value}"
    return f"{type(value).__name__} value {value!r}"


def parse_mod_file(text: str, file: str = "fga.mod") -> tuple[str, list[str]]:
    """``(module, contents)`` of an ``fga.mod`` manifest.

    Understands the YAML that manifests use (``key: value`` lines, ``contents`` as a block list
    of ``- item`` lines or a ``[a, b]`` flow list, ``#`` comments) without a YAML library, keeping
    :mod:`permsvc.model` free of I/O-format dependencies.

    Raises:
        ModelError: a missing or wrong field, each problem located.
    """
    fields: dict[str, Any] = {}
    lines: dict[str, int] = {}
    current_list: list[Any] | None = None
    issues: list[ModelIssue] = []

    def problem(message: str, line: int = 0, column: int = 1) -> None:
        """A problem at ``line`` and ``column`` of the manifest (line 0: the file as a whole)."""
        issues.append(
            ModelIssue(message=message, line=line, column=column if line else 0, file=file)
        )

    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#") or stripped == "---":
            continue
        if stripped.startswith("- ") or stripped == "-":
            if current_list is None:
                problem("list item outside of 'contents'", n)
                continue
            current_list.append((_mod_scalar(stripped[1:]), n, len(line) - len(stripped) + 3))
            continue
        m = _MOD_LINE.match(stripped)
        if not m or line != stripped:
            problem(f"cannot read this line of {file}: {stripped[:40]!r}", n)
            current_list = None
            continue
        key, value = m.group("key"), m.group("value").strip()
        lines[key] = n
        current_list = None
        if not value or value.startswith("#"):
            current_list = []
            fields[key] = current_list
        elif value.startswith("["):
            inner = value[1 : value.rfind("]")] if "]" in value else value[1:]
            col = line.index("[") + 2
            fields[key] = [(_mod_scalar(x), n, col) for x in inner.split(",") if x.strip()]
        else:
            fields[key] = _mod_scalar(value)
    schema = fields.get("schema")
    if schema is None:
        problem("missing schema field: add schema: '1.2'")
    elif not isinstance(schema, str):
        problem(f"unexpected schema type, expected string got {_describe(schema)}", lines["schema"])
    elif schema != "1.2":
        problem(
            f"unsupported schema version {schema!r}, fga.mod is only supported in version '1.2'",
            lines["schema"],
        )
    module = fields.get("module", "")
    if not isinstance(module, str):
        problem(f"unexpected module type, expected string got {_describe(module)}", lines["module"])
        module = ""
    contents = fields.get("contents")
    paths: list[str] = []
    if contents is None:
        problem("missing contents field: list the module files, e.g. contents: [core.fga]")
    elif not isinstance(contents, list):
        problem(
            f"unexpected contents type, expected list of strings got {_describe(contents)}",
            lines["contents"],
        )
    else:
        for value, n, col in contents:
            if not isinstance(value, str):
                problem(
                    f"unexpected contents item type, expected string got {_describe(value)}", n, col
                )
            elif not value.endswith(".fga"):
                problem(f"contents items should use fga file extension, got {value}", n, col)
            else:
                paths.append(value)
        if not contents:
            problem("contents is empty: list at least one module file", lines["contents"])
    if issues:
        raise ModelError(issues)
    return module, paths


def compile_modular(files: Mapping[str, str]) -> LoadedModel:
    """Combine module files (path -> text, in ``contents`` order) into one schema ``1.2`` model.

    Raises:
        DslSyntaxError: syntax errors in any file, duplicate types or conditions across modules,
            ``extend type`` of a type no module defines, or an extension redefining a relation.
    """
    issues: list[ModelIssue] = []

    def report(path: str, pos: SourcePos | None, rule: str, message: str) -> None:
        """A problem in module file ``path`` at ``pos`` (none: the file's start)."""
        pos = pos or SourcePos(0, 0, path)
        issues.append(
            ModelIssue(message=message, line=pos.line, column=pos.column, file=path, rule=rule)
        )

    locations: SourceMap = {}
    c = _Compiler(locations)
    trees: list[tuple[str, DslFile]] = []
    for path, text in files.items():
        try:
            _check_size(len(text.encode("utf-8", "surrogatepass")), path)
            tree = parse(text, path)
        except ModelError as err:
            issues.extend(err.issues)
            continue
        if not tree.module:
            report(
                path,
                tree.pos,
                "syntax",
                f"{path} is listed in fga.mod but is not a module file: "
                "it must start with 'module <name>'",
            )
            continue
        trees.append((path, tree))
    types: dict[str, TypeDefinition] = {}
    conditions: dict[str, Condition] = {}
    for path, tree in trees:
        for td in tree.types:
            if td.extend:
                continue
            if td.name.text in types:
                report(
                    path,
                    td.name.pos,
                    "duplicate-type",
                    f"duplicate type definition {td.name.text} (already defined in "
                    f"{types[td.name.text].source_file})",
                )
                continue
            locations.setdefault(("type", td.name.text), td.name.pos)
            types[td.name.text] = TypeDefinition(
                name=td.name.text,
                relations=c.relations(td.name.text, td.relations),
                module=tree.module,
                source_file=path,
                pos=td.name.pos,
            )
        for name, cond in c.conditions(tree, tree.module, path).items():
            if name in conditions:
                report(
                    path,
                    cond.pos,
                    "duplicate-condition",
                    f"duplicate condition {name} (already defined in "
                    f"{conditions[name].source_file})",
                )
                continue
            conditions[name] = cond
    for path, tree in trees:
        extended: set[str] = set()
        for td in tree.types:
            if not td.extend:
                continue
            if td.name.text in extended:
                report(
                    path,
                    td.name.pos,
                    "duplicate-extension",
                    f"'{td.name.text}' is already extended in this file: put all its new "
                    f"relations in one 'extend type {td.name.text}' block",
                )
                continue
            extended.add(td.name.text)
            base = types.get(td.name.text)
            if base is not None and base.source_file == path:
                report(
                    path,
                    td.name.pos,
                    "undefined-type",
                    f"type {td.name.text} is defined in this file, so it cannot be "
                    "extended here: add the relations to its definition",
                )
                continue
            if base is None:
                report(
                    path,
                    td.name.pos,
                    "undefined-type",
                    f"extended type {td.name.text} does not exist: "
                    f"no module defines 'type {td.name.text}'",
                )
                continue
            added = c.relations(td.name.text, td.relations, tree.module, path)
            merged = dict(base.relations)
            for name, rd in added.items():
                if name in merged:
                    report(
                        path,
                        rd.pos,
                        "duplicate-relation",
                        f"relation {name} already exists on type {td.name.text} "
                        f"(defined in {merged[name].source_file or base.source_file})",
                    )
                    continue
                merged[name] = rd
            types[td.name.text] = msgspec.structs.replace(base, relations=merged)
    if issues:
        raise DslSyntaxError(issues)
    model = AuthorizationModel(
        schema_version="1.2", type_definitions=tuple(types.values()), conditions=conditions
    )
    return LoadedModel(model=model, locations=locations, format="modular")


# -- files -----------------------------------------------------------------------------------


def _check_size(size: int, file: str) -> None:
    if size > MAX_MODEL_BYTES:
        raise ModelError(
            [
                ModelIssue(
                    message=f"model source is {size} bytes; the limit is {MAX_MODEL_BYTES} bytes (256 KiB)",
                    file=file,
                    rule="limit",
                )
            ]
        )


def _read_text(path: Path, shown: str) -> str:
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise ModelError([ModelIssue(message="not a regular file", file=shown)])
        _check_size(size, shown)
        with path.open("rb") as fh:
            data = fh.read(MAX_MODEL_BYTES + 1)
    except OSError as err:
        raise ModelError(
            [ModelIssue(message=f"cannot read file: {err.strerror or err}", file=shown)]
        ) from err
    _check_size(len(data), shown)
    return decode_source(data, shown)


def decode_source(data: bytes, file: str = "") -> str:
    """``data`` as UTF-8 text; binary or mis-encoded input raises a located :class:`ModelError`."""
    nul = data.find(b"\x00")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise ModelError(
            [
                ModelIssue(
                    message=f"not UTF-8 text: byte 0x{data[err.start]:02x} cannot start a UTF-8 character "
                    "(is this a binary file?)",
                    line=line,
                    column=column,
                    file=file,
                    rule="encoding",
                )
            ]
        ) from err
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        column = nul - (data.rfind(b"\n", 0, nul) + 1) + 1
        raise ModelError(
            [
                ModelIssue(
                    message="the file contains a NUL byte: is this a binary file?",
                    line=line,
                    column=column,
                    file=file,
                    rule="encoding",
                )
            ]
        )
    return text


def json_source_to_model(text: str, file: str = "") -> AuthorizationModel:
    """A model from the text of its OpenFGA JSON form; malformed JSON raises a located :class:`ModelJsonError`."""
    _check_size(len(text.encode("utf-8", "surrogatepass")), file)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ModelJsonError(
            [
                ModelIssue(
                    message=f"invalid JSON: {err.msg}",
                    line=err.lineno,
                    column=err.colno,
                    file=file,
                    rule="syntax",
                )
            ]
        ) from err
    except RecursionError as err:
        raise ModelJsonError(
            [ModelIssue(message="invalid JSON: nested too deeply", file=file, rule="syntax")]
        ) from err
    try:
        return model_from_json(data)
    except ModelJsonError as err:
        raise ModelJsonError(
            [msgspec.structs.replace(i, file=i.file or file) for i in err.issues]
        ) from err


def _detect_format(path: Path) -> str:
    if path.name == "fga.mod" or path.suffix == ".mod":
        return "modular"
    if path.suffix == ".json":
        return "json"
    return "dsl"


def load_model(text: str, *, file: str = "", source_format: str = "auto") -> LoadedModel:
    """Compile a model from one source text.

    ``source_format`` is ``dsl``, ``json`` or ``auto`` (JSON when the text starts with ``{``).
    """
    if source_format == "auto":
        source_format = "json" if text.lstrip().startswith("{") else "dsl"
    if source_format == "json":
        return LoadedModel(model=json_source_to_model(text, file), format="json")
    return compile_dsl(text, file)


def load_model_file(path: str | os.PathLike[str]) -> AuthorizationModel:
    """The model in a ``.fga``, ``.json`` or ``fga.mod`` file, compiled but not validated.

    Raises:
        ModelError: see :func:`read_model_file`.
    """
    return read_model_file(path).model


def read_model_file(path: str | os.PathLike[str]) -> LoadedModel:
    """Read a model from ``.fga``, ``.json`` or ``fga.mod`` (modular) and compile it, without validating.

    Module files named in an ``fga.mod`` are read relative to its directory and reported by the
    path written there.

    Raises:
        ModelError: unreadable, too large (over :data:`MAX_MODEL_BYTES`) or non-UTF-8 input, and
            every syntax or shape error, located (``DslSyntaxError`` / ``ModelJsonError``).
    """
    p = Path(path)
    shown = str(path)
    kind = _detect_format(p)
    text = _read_text(p, shown)
    if kind == "modular":
        _module, contents = parse_mod_file(text, shown)
        files: dict[str, str] = {}
        issues: list[ModelIssue] = []
        total = 0
        for rel in contents:
            try:
                files[rel] = _read_text(p.parent / rel, rel)
            except ModelError as err:
                issues.extend(err.issues)
                continue
            total += len(files[rel])
        if issues:
            raise ModelError(issues)
        _check_size(total, shown)
        return compile_modular(files)
    return load_model(text, file=shown, source_format=kind)


# -- transforms ------------------------------------------------------------------------------


def dsl_to_json(text: str, file: str = "") -> dict[str, Any]:
    """OpenFGA's JSON form of the DSL model ``text`` (what ``fga model transform`` prints)."""
    return model_to_json(parse_dsl(text, file))


def json_to_dsl(data: Any) -> str:
    """The canonical DSL text of a model given in OpenFGA's JSON form (a parsed JSON value)."""
    return print_dsl(model_from_json(data))
