// OpenFGA model JSON -> DSL text (schema 1.1), for display beside the drawn graph.
const TYPE_NAMES = {
  TYPE_NAME_ANY: "any", TYPE_NAME_BOOL: "bool", TYPE_NAME_STRING: "string", TYPE_NAME_INT: "int",
  TYPE_NAME_UINT: "uint", TYPE_NAME_DOUBLE: "double", TYPE_NAME_DURATION: "duration",
  TYPE_NAME_TIMESTAMP: "timestamp", TYPE_NAME_MAP: "map", TYPE_NAME_LIST: "list", TYPE_NAME_IPADDRESS: "ipaddress",
};

export function paramType(p) {
  const name = TYPE_NAMES[p.type_name] || String(p.type_name || "any").toLowerCase();
  const generics = (p.generic_types || []).map(paramType);
  return generics.length ? `${name}<${generics.join(", ")}>` : name;
}

export function directTypes(model, type, relation) {
  const def = (model.type_definitions || []).find((t) => t.type === type);
  const meta = def && def.metadata && def.metadata.relations && def.metadata.relations[relation];
  return (meta && meta.directly_related_user_types) || [];
}

export function refText(r) {
  let s = r.type;
  if (r.wildcard !== undefined) s += ":*";
  else if (r.relation) s += "#" + r.relation;
  if (r.condition) s += " with " + r.condition;
  return s;
}

function rewriteText(model, type, relation, u, nested) {
  if (u.this !== undefined) return "[" + directTypes(model, type, relation).map(refText).join(", ") + "]";
  if (u.computedUserset) return u.computedUserset.relation;
  if (u.tupleToUserset) return `${u.tupleToUserset.computedUserset.relation} from ${u.tupleToUserset.tupleset.relation}`;
  let text;
  if (u.union) text = u.union.child.map((c) => rewriteText(model, type, relation, c, true)).join(" or ");
  else if (u.intersection) text = u.intersection.child.map((c) => rewriteText(model, type, relation, c, true)).join(" and ");
  else if (u.difference) {
    text = `${rewriteText(model, type, relation, u.difference.base, true)} but not ${rewriteText(model, type, relation, u.difference.subtract, true)}`;
  } else return "?";
  return nested ? `(${text})` : text;
}

export function modelToDsl(model) {
  const lines = ["model", `  schema ${model.schema_version || "1.1"}`];
  for (const def of model.type_definitions || []) {
    lines.push("", `type ${def.type}`);
    const names = Object.keys(def.relations || {});
    if (names.length) {
      lines.push("  relations");
      for (const name of names) lines.push(`    define ${name}: ${rewriteText(model, def.type, name, def.relations[name], false)}`);
    }
  }
  for (const [name, cond] of Object.entries(model.conditions || {})) {
    const params = Object.entries(cond.parameters || {}).map(([p, t]) => `${p}: ${paramType(t)}`).join(", ");
    lines.push("", `condition ${name}(${params}) {`, `  ${cond.expression}`, "}");
  }
  return lines.join("\n") + "\n";
}
