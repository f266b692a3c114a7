"""OpenFGA's JSON form of a model <-> :mod:`permsvc.model.schema`.

The JSON is exactly what OpenFGA's API accepts and returns (``schema_version``,
``type_definitions[].relations`` with rewrite nodes ``this`` / ``computedUserset`` /
``tupleToUserset`` / ``union`` / ``intersection`` / ``difference``,
``metadata.relations[*].directly_related_user_types``, ``conditions``). Reading accepts the
proto names too (``computed_userset``, ``tuple_to_userset``), as OpenFGA's gateway does.
Writing produces the form ``fga model transform`` prints (empty parts omitted).
"""

from __future__ import annotations

from typing import Any

from permsvc.model.errors import ModelIssue, ModelJsonError
from permsvc.model.schema import (
    PROTO_TYPE_NAMES,
    AuthorizationModel,
    ComputedUserset,
    Condition,
    ConditionParam,
    Difference,
    Intersection,
    RelationDefinition,
    RelationReference,
    Rewrite,
    This,
    TupleToUserset,
    TypeDefinition,
    Union,
)

__all__ = ("model_from_json", "model_to_json", "rewrite_from_json", "rewrite_to_json")

_MAX_REWRITE_DEPTH = 200


class _Reader:
    def __init__(self) -> None:
        self.issues: list[ModelIssue] = []

    def fail(self, where: str, message: str) -> None:
        self.issues.append(ModelIssue(message=f"{where}: {message}" if where else message))

    def obj(self, value: Any, where: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(where, f"expected an object, got {type(value).__name__}")
            return {}
        return value

    def string(self, value: Any, where: str, *, required: bool = True) -> str:
        if value is None or value == "":
            if required:
                self.fail(where, "is required")
            return ""
        if not isinstance(value, str):
            self.fail(where, f"expected a string, got {type(value).__name__}")
            return ""
        return value

    def rewrite(self, value: Any, where: str, depth: int = 0) -> Rewrite:
        if depth > _MAX_REWRITE_DEPTH:
            self.fail(where, f"rewrite nested deeper than {_MAX_REWRITE_DEPTH} levels")
            return This()
        node = self.obj(value, where)
        keys = [k for k, v in node.items() if v is not None]
        if len(keys) != 1:
            self.fail(
                where,
                "a relation rewrite needs exactly one of this, computedUserset, "
                f"tupleToUserset, union, intersection, difference (got {sorted(keys) or 'none'})",
            )
            return This()
        key = keys[0]
        body = node[key]
        match key:
            case "this":
                return This()
            case "computedUserset" | "computed_userset":
                cu = self.obj(body, f"{where}.{key}")
                return ComputedUserset(self.string(cu.get("relation"), f"{where}.{key}.relation"))
            case "tupleToUserset" | "tuple_to_userset":
                t = self.obj(body, f"{where}.{key}")
                ts = self.obj(t.get("tupleset"), f"{where}.{key}.tupleset")
                cu = self.obj(
                    t.get("computedUserset", t.get("computed_userset")),
                    f"{where}.{key}.computedUserset",
                )
                return TupleToUserset(
                    self.string(ts.get("relation"), f"{where}.{key}.tupleset.relation"),
                    self.string(cu.get("relation"), f"{where}.{key}.computedUserset.relation"),
                )
            case "union" | "intersection":
                u = self.obj(body, f"{where}.{key}")
                child = u.get("child")
                if not isinstance(child, list) or len(child) < 1:
                    self.fail(f"{where}.{key}.child", "expected a non-empty list")
                    return This()
                children = tuple(
                    self.rewrite(c, f"{where}.{key}.child[{i}]", depth + 1)
                    for i, c in enumerate(child)
                )
                return Union(children) if key == "union" else Intersection(children)
            case "difference":
                d = self.obj(body, f"{where}.{key}")
                return Difference(
                    self.rewrite(d.get("base"), f"{where}.difference.base", depth + 1),
                    self.rewrite(d.get("subtract"), f"{where}.difference.subtract", depth + 1),
                )
            case _:
                self.fail(where, f"unknown rewrite '{key}'")
                return This()

    def reference(self, value: Any, where: str) -> RelationReference:
        r = self.obj(value, where)
        wildcard = r.get("wildcard")
        relation = r.get("relation") or ""
        if wildcard is not None and relation:
            self.fail(where, "a type restriction cannot be both a wildcard and a userset")
        return RelationReference(
            type=self.string(r.get("type"), f"{where}.type"),
            relation=self.string(relation, f"{where}.relation", required=False),
            wildcard=wildcard is not None,
            condition=self.string(r.get("condition"), f"{where}.condition", required=False),
        )

    def param(self, value: Any, where: str, depth: int = 0) -> ConditionParam:
        p = self.obj(value, where)
        type_name = p.get("type_name")
        if isinstance(type_name, int):  # enums may come by number
            type_name = (
                PROTO_TYPE_NAMES[type_name]
                if 0 <= type_name < len(PROTO_TYPE_NAMES)
                else str(type_name)
            )
        generics = p.get("generic_types") or []
        if not isinstance(generics, list) or depth > 10:
            self.fail(f"{where}.generic_types", "expected a list")
            generics = []
        return ConditionParam(
            type_name=self.string(type_name, f"{where}.type_name"),
            generic_types=tuple(
                self.param(g, f"{where}.generic_types[{i}]", depth + 1)
                for i, g in enumerate(generics)
            ),
        )


def _source(meta: dict[str, Any]) -> tuple[str, str]:
    info = meta.get("source_info") or {}
    file = info.get("file", "") if isinstance(info, dict) else ""
    module = meta.get("module") or ""
    return (module if isinstance(module, str) else ""), (file if isinstance(file, str) else "")


def model_from_json(data: Any, *, model_id: str = "") -> AuthorizationModel:
    """Read OpenFGA's JSON form. Raises :class:`ModelJsonError` listing every shape problem found.

    Semantic rules (undefined relations, ...) are not checked here: see ``permsvc.model.validation``.
    """
    r = _Reader()
    root = r.obj(data, "model")
    schema_version = root.get("schema_version") or "1.1"
    if not isinstance(schema_version, str):
        r.fail("schema_version", "expected a string")
        schema_version = "1.1"
    raw_types = root.get("type_definitions")
    if raw_types is None:
        raw_types = []
    if not isinstance(raw_types, list):
        r.fail("type_definitions", "expected a list")
        raw_types = []
    types: list[TypeDefinition] = []
    for i, raw in enumerate(raw_types):
        where = f"type_definitions[{i}]"
        td = r.obj(raw, where)
        name = r.string(td.get("type"), f"{where}.type")
        rels = r.obj(td.get("relations"), f"{where}.relations")
        meta = r.obj(td.get("metadata"), f"{where}.metadata")
        rel_meta = r.obj(meta.get("relations"), f"{where}.metadata.relations")
        module, file = _source(meta)
        relations: dict[str, RelationDefinition] = {}
        for rel_name, rw in rels.items():
            rwhere = f"{where}.relations.{rel_name}"
            rm = r.obj(rel_meta.get(rel_name), f"{where}.metadata.relations.{rel_name}")
            raw_refs = rm.get("directly_related_user_types") or []
            if not isinstance(raw_refs, list):
                r.fail(f"{rwhere}.directly_related_user_types", "expected a list")
                raw_refs = []
            rmodule, rfile = _source(rm)
            relations[rel_name] = RelationDefinition(
                name=rel_name,
                rewrite=r.rewrite(rw, rwhere),
                directly_related=tuple(
                    r.reference(
                        x, f"{where}.metadata.relations.{rel_name}.directly_related_user_types[{j}]"
                    )
                    for j, x in enumerate(raw_refs)
                ),
                module=rmodule,
                source_file=rfile,
            )
        types.append(
            TypeDefinition(name=name, relations=relations, module=module, source_file=file)
        )
    conditions: dict[str, Condition] = {}
    for key, raw in r.obj(root.get("conditions"), "conditions").items():
        where = f"conditions.{key}"
        c = r.obj(raw, where)
        params = r.obj(c.get("parameters"), f"{where}.parameters")
        module, file = _source(r.obj(c.get("metadata"), f"{where}.metadata"))
        conditions[key] = Condition(
            name=r.string(c.get("name"), f"{where}.name"),
            expression=r.string(c.get("expression"), f"{where}.expression"),
            parameters={p: r.param(v, f"{where}.parameters.{p}") for p, v in params.items()},
            module=module,
            source_file=file,
        )
    if r.issues:
        raise ModelJsonError(r.issues)
    return AuthorizationModel(
        schema_version=schema_version,
        type_definitions=tuple(types),
        conditions=conditions,
        id=model_id,
    )


def rewrite_to_json(rw: Rewrite) -> dict[str, Any]:
    match rw:
        case This():
            return {"this": {}}
        case ComputedUserset(relation=rel):
            return {"computedUserset": {"relation": rel}}
        case TupleToUserset(tupleset=ts, computed_relation=cr):
            return {
                "tupleToUserset": {
                    "computedUserset": {"relation": cr},
                    "tupleset": {"relation": ts},
                }
            }
        case Union(children=ch):
            return {"union": {"child": [rewrite_to_json(c) for c in ch]}}
        case Intersection(children=ch):
            return {"intersection": {"child": [rewrite_to_json(c) for c in ch]}}
        case Difference(base=b, subtract=s):
            return {"difference": {"base": rewrite_to_json(b), "subtract": rewrite_to_json(s)}}
    raise TypeError(f"not a rewrite: {rw!r}")


def rewrite_from_json(data: Any) -> Rewrite:
    r = _Reader()
    rw = r.rewrite(data, "rewrite")
    if r.issues:
        raise ModelJsonError(r.issues)
    return rw


def _reference_to_json(ref: RelationReference) -> dict[str, Any]:
    out: dict[str, Any] = {"type": ref.type}
    if ref.relation:
        out["relation"] = ref.relation
    if ref.wildcard:
        out["wildcard"] = {}
    if ref.condition:
        out["condition"] = ref.condition
    return out


def _param_to_json(p: ConditionParam) -> dict[str, Any]:
    out: dict[str, Any] = {"type_name": p.type_name}
    if p.generic_types:
        out["generic_types"] = [_param_to_json(g) for g in p.generic_types]
    return out


def _with_source(meta: dict[str, Any], module: str, file: str) -> dict[str, Any]:
    if module:
        meta["module"] = module
    if file:
        meta["source_info"] = {"file": file}
    return meta


def model_to_json(model: AuthorizationModel, *, include_id: bool = False) -> dict[str, Any]:
    """The JSON form, as ``fga model transform`` prints it (keys sorted by the caller if needed)."""
    types: list[dict[str, Any]] = []
    for td in model.type_definitions:
        out: dict[str, Any] = {"type": td.name}
        meta = _with_source({}, td.module, td.source_file)
        if td.relations:
            out["relations"] = {
                name: rewrite_to_json(rd.rewrite) for name, rd in td.relations.items()
            }
            rel_meta: dict[str, Any] = {}
            for name, rd in td.relations.items():
                m: dict[str, Any] = {}
                if rd.directly_related:
                    m["directly_related_user_types"] = [
                        _reference_to_json(x) for x in rd.directly_related
                    ]
                rel_meta[name] = _with_source(m, rd.module, rd.source_file)
            meta["relations"] = rel_meta
        if meta:
            out["metadata"] = meta
        types.append(out)
    result: dict[str, Any] = {}
    if include_id:
        result["id"] = model.id
    result["schema_version"] = model.schema_version
    result["type_definitions"] = types
    if model.conditions:
        conds: dict[str, Any] = {}
        for key, c in model.conditions.items():
            cj: dict[str, Any] = {"name": c.name, "expression": c.expression}
            if c.parameters:
                cj["parameters"] = {p: _param_to_json(v) for p, v in c.parameters.items()}
            cmeta = _with_source({}, c.module, c.source_file)
            if cmeta:
                cj["metadata"] = cmeta
            conds[key] = cj
        result["conditions"] = conds
    return result
