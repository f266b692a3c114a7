// The model as a graph: types and relations are nodes; edges are direct grants (to a type, a
// wildcard or a userset), computed relations, `x from y` hops, with conditions on their labels.
// Layout: layered (a relation sits one layer right of everything it points to), ordered within
// a layer by the mean position of its targets (one barycentre pass), drawn as SVG.
import { directTypes } from "./dsl.js";

const SVG = "http://www.w3.org/2000/svg";

export function modelGraph(model) {
  const nodes = new Map();
  const edges = [];
  const defs = model.type_definitions || [];
  const addNode = (id, kind, type, label) => {
    if (!nodes.has(id)) nodes.set(id, { id, kind, type, label });
    return id;
  };
  for (const def of defs) addNode(def.type, "type", def.type, def.type);
  for (const def of defs) {
    for (const name of Object.keys(def.relations || {})) addNode(`${def.type}#${name}`, "relation", def.type, name);
  }
  const walk = (def, name, u, op) => {
    const from = `${def.type}#${name}`;
    if (u.this !== undefined) {
      for (const r of directTypes(model, def.type, name)) {
        let to;
        let kind = "direct";
        if (r.relation) {
          to = addNode(`${r.type}#${r.relation}`, "relation", r.type, r.relation);
          kind = "userset";
        } else {
          to = addNode(r.type, "type", r.type, r.type);
          if (r.wildcard !== undefined) kind = "wildcard";
        }
        edges.push({ from, to, kind, op, condition: r.condition || "", label: kind === "wildcard" ? ":*" : kind === "userset" ? "userset" : "" });
      }
    } else if (u.computedUserset) {
      edges.push({ from, to: `${def.type}#${u.computedUserset.relation}`, kind: "computed", op, label: "" });
    } else if (u.tupleToUserset) {
      const tupleset = u.tupleToUserset.tupleset.relation;
      const target = u.tupleToUserset.computedUserset.relation;
      for (const r of directTypes(model, def.type, tupleset)) {
        const to = `${r.type}#${target}`;
        if (!nodes.has(to)) continue;
        edges.push({ from, to, kind: "from", op, label: `from ${tupleset}` });
      }
    } else if (u.union) u.union.child.forEach((c) => walk(def, name, c, op || "or"));
    else if (u.intersection) u.intersection.child.forEach((c) => walk(def, name, c, "and"));
    else if (u.difference) {
      walk(def, name, u.difference.base, op);
      walk(def, name, u.difference.subtract, "but not");
    }
  };
  for (const def of defs) {
    for (const [name, u] of Object.entries(def.relations || {})) walk(def, name, u, "");
  }
  return { nodes: [...nodes.values()], edges: edges.filter((e) => nodes.has(e.to)) };
}

export function layout(graph) {
  const out = new Map(graph.nodes.map((n) => [n.id, []]));
  for (const e of graph.edges) out.get(e.from).push(e.to);
  const layer = new Map();
  const visiting = new Set();
  const depth = (id) => {
    if (layer.has(id)) return layer.get(id);
    if (visiting.has(id)) return 0; // a cycle: the back edge does not push the layer
    visiting.add(id);
    let d = 0;
    for (const to of out.get(id)) if (to !== id) d = Math.max(d, depth(to) + 1);
    visiting.delete(id);
    layer.set(id, d);
    return d;
  };
  graph.nodes.forEach((n) => depth(n.id));
  const columns = [];
  for (const n of graph.nodes) (columns[layer.get(n.id)] ||= []).push(n);
  const order = new Map();
  columns.forEach((col) => {
    col.sort((a, b) => (a.type === b.type ? a.label.localeCompare(b.label) : a.type.localeCompare(b.type)));
  });
  columns.forEach((col, c) => {
    if (c > 0) {
      const bary = (n) => {
        const ts = out.get(n.id).map((t) => order.get(t)).filter((v) => v !== undefined);
        return ts.length ? ts.reduce((x, y) => x + y, 0) / ts.length : Number.MAX_SAFE_INTEGER;
      };
      const keyed = col.map((n, i) => ({ n, k: bary(n), i }));
      keyed.sort((x, y) => x.k - y.k || x.i - y.i);
      col.splice(0, col.length, ...keyed.map((x) => x.n));
    }
    col.forEach((n, i) => order.set(n.id, i));
  });
  const H = 30;
  const GAP_Y = 18;
  const GAP_X = 90;
  const pos = new Map();
  let x = 20;
  let height = 0;
  for (const col of columns) {
    if (!col) continue;
    const w = Math.max(...col.map((n) => nodeWidth(n)));
    col.forEach((n, i) => pos.set(n.id, { x, y: 20 + i * (H + GAP_Y), w: nodeWidth(n), h: H }));
    height = Math.max(height, 20 + col.length * (H + GAP_Y));
    x += w + GAP_X;
  }
  return { pos, width: x, height: height + 10 };
}

function nodeWidth(n) {
  const text = n.kind === "type" ? n.label : `${n.type} # ${n.label}`;
  return Math.max(60, text.length * 7.4 + 24);
}

function el(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

// Draw the graph; `highlight` = {nodes: Set(id), edges: Set("from->to")} marks a path.
export function drawGraph(model, highlight) {
  const graph = modelGraph(model);
  const { pos, width, height } = layout(graph);
  const svg = el("svg", {
    viewBox: `0 0 ${Math.max(width, 200)} ${Math.max(height, 80)}`,
    width: Math.max(width, 200),
    height: Math.max(height, 80),
    role: "img",
    class: "graph",
    "aria-label": `Model graph: ${graph.nodes.length} nodes, ${graph.edges.length} edges`,
  });
  const defs = el("defs");
  for (const [id, cls] of [["arrow", "edge"], ["arrow-hot", "edge hot"]]) {
    const marker = el("marker", { id, viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
    marker.append(el("path", { d: "M 0 0 L 10 5 L 0 10 z", class: cls }));
    defs.append(marker);
  }
  svg.append(defs);
  const hot = { nodes: new Set(), edges: new Set(), tried: new Set(), ...(highlight || {}) };
  const edgeLayer = el("g");
  graph.edges.forEach((e) => {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    const isHot = hot.edges.has(`${e.from}->${e.to}`);
    let d;
    if (e.from === e.to) {
      d = `M ${a.x + a.w - 12} ${a.y} C ${a.x + a.w + 20} ${a.y - 30}, ${a.x + a.w + 30} ${a.y + 10}, ${a.x + a.w} ${a.y + a.h / 2}`;
    } else if (b.x < a.x) {
      const x1 = a.x;
      const y1 = a.y + a.h / 2;
      const x2 = b.x + b.w;
      const y2 = b.y + b.h / 2;
      const mx = (x1 + x2) / 2;
      d = `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`;
    } else {
      const x1 = a.x + a.w;
      const y1 = a.y + a.h / 2;
      const x2 = b.x;
      const y2 = b.y + b.h / 2;
      d = `M ${x1} ${y1} C ${x1 + 40} ${y1}, ${x2 - 40} ${y2}, ${x2} ${y2}`;
    }
    const g = el("g", { class: `edge-g kind-${e.kind}${e.op === "but not" ? " excl" : ""}${isHot ? " hot" : ""}`, "data-edge": `${e.from}->${e.to}` });
    const path = el("path", { d, class: "edge", "marker-end": isHot ? "url(#arrow-hot)" : "url(#arrow)" });
    const title = [e.kind, e.label, e.op, e.condition ? `with ${e.condition}` : ""].filter(Boolean).join(" · ");
    path.append(el("title", {}, `${e.from} → ${e.to} (${title})`));
    g.append(path);
    const label = [e.label, e.op === "but not" || e.op === "and" ? e.op : "", e.condition ? `⟨${e.condition}⟩` : ""].filter(Boolean).join(" ");
    if (label && e.from !== e.to) {
      const mx = (a.x + a.w + b.x) / 2;
      const my = (a.y + b.y + a.h) / 2 - 4;
      g.append(el("text", { x: mx, y: my, class: "edge-label", "text-anchor": "middle" }, label));
    }
    edgeLayer.append(g);
  });
  svg.append(edgeLayer);
  const nodeLayer = el("g");
  graph.nodes.forEach((n) => {
    const p = pos.get(n.id);
    const mark = hot.nodes.has(n.id) ? " hot" : hot.tried.has(n.id) ? " tried" : "";
    const g = el("g", { class: `node ${n.kind}${mark}`, "data-node": n.id });
    g.append(el("rect", { x: p.x, y: p.y, width: p.w, height: p.h, rx: n.kind === "type" ? 4 : 14 }));
    const t = el("text", { x: p.x + p.w / 2, y: p.y + p.h / 2 + 4, "text-anchor": "middle" });
    if (n.kind === "type") t.textContent = n.label;
    else {
      t.append(el("tspan", { class: "t" }, n.type + " # "));
      t.append(el("tspan", {}, n.label));
    }
    g.append(el("title", {}, n.id));
    g.append(t);
    nodeLayer.append(g);
  });
  svg.append(nodeLayer);
  return svg;
}

const typeOf = (ref) => ref.split("#")[0].split(":")[0];
const relNode = (object, relation) => `${typeOf(object)}#${relation}`;

// The nodes and edges of the graph a witness (the steps of /v1/explain) walks through.
export function witnessPath(steps) {
  const nodes = new Set();
  const edges = new Set();
  let prev = null;
  const visit = (id) => {
    if (prev && prev !== id) edges.add(`${prev}->${id}`);
    nodes.add(id);
    prev = id;
  };
  const walk = (list) => {
    list.forEach((step, i) => {
      if (step.kind === "relation" || step.kind === "userset" || step.kind === "from" || step.kind === "self") {
        if (step.object && step.relation) visit(relNode(step.object, step.relation));
      } else if (step.kind === "computed") {
        visit(relNode(step.object, step.relation));
      } else if (step.kind === "tuple" || step.kind === "contextual_tuple") {
        // The tuple that names the user ends the path; one followed by `from` names a parent.
        const next = list[i + 1];
        const t = step.tuple_key || step.tuple || {};
        if (t.user && !t.user.includes("#") && !(next && next.kind === "from")) visit(typeOf(t.user));
      } else if (step.kind === "intersection" || step.kind === "exclusion") {
        if (step.object && step.relation) visit(relNode(step.object, step.relation));
        const here = prev;
        for (const side of step.sides || []) {
          prev = here;
          walk(side);
        }
        prev = here;
      }
    });
  };
  walk(steps || []);
  return { nodes, edges };
}

// The relations a denial tree (the `denial` of /v1/explain) tried, to mark on the graph.
export function deniedNodes(denial) {
  const tried = new Set();
  const walk = (d) => {
    if (d.object && d.relation) tried.add(relNode(d.object, d.relation));
    (d.children || []).forEach(walk);
  };
  if (denial) walk(denial);
  return { tried };
}
