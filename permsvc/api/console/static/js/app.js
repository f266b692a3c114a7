// The console: a hash router over pages; each page reads the existing APIs.
import { ApiError, credential, del, get, post, setCredential } from "./api.js";
import { finishOidc, loginWithKey, startOidc } from "./auth.js";
import { lineDiff } from "./diff.js";
import { modelToDsl } from "./dsl.js";
import { deniedNodes, drawGraph, witnessPath } from "./graph.js";

const STORE = "permsvc.console.store";
const main = document.getElementById("main");
const state = { config: {}, stores: [], who: null, roles: new Set(), admin: false, explain: null, models: new Map(), gen: 0 };

// -- small DOM helpers --------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function field(label, input) {
  return h("div", { class: "field" }, h("label", { for: input.id }, label), input);
}

function input(id, attrs) {
  return h("input", { id, name: id, type: "text", autocomplete: "off", ...attrs });
}

function select(id, options, value) {
  const s = h("select", { id, name: id });
  for (const o of options) {
    const [v, text] = Array.isArray(o) ? o : [o, o];
    s.append(h("option", { value: v, selected: v === value }, text));
  }
  return s;
}

function errorBox(err) {
  const msg = err instanceof ApiError ? `${err.status} ${err.code}: ${err.message}` : String(err.message || err);
  return h("p", { class: "error", role: "alert" }, msg);
}

function toast(text) {
  const t = document.getElementById("toast");
  t.textContent = text;
  t.classList.add("show");
  setTimeout(() => t.classList.remove("show"), 4000);
}

function page(title, ...body) {
  main.replaceChildren(h("h2", {}, title), ...body);
  document.title = `${title} · permsvc console`;
  main.focus({ preventScroll: true });
}

function storeId() {
  return sessionStorage.getItem(STORE) || "";
}

function needStore(render) {
  if (storeId()) return false;
  render("No store", h("p", {}, "No store exists yet, or none is visible to this credential."));
  return true;
}

async function latestModel(id) {
  const key = `${storeId()}/${id || "latest"}`;
  if (state.models.has(key)) return state.models.get(key);
  let model;
  if (id) model = (await get(`/stores/${storeId()}/authorization-models/${id}`)).authorization_model;
  else {
    const list = await get(`/stores/${storeId()}/authorization-models`, { page_size: 1 });
    model = list.authorization_models[0] || null;
  }
  if (model) state.models.set(key, model);
  return model;
}

function typesAndRelations(model) {
  return (model.type_definitions || []).map((t) => ({ type: t.type, relations: Object.keys(t.relations || {}) }));
}

// -- login --------------------------------------------------------------------------------------

function loginPage(problem) {
  state.gen++;
  document.getElementById("nav").hidden = true;
  document.getElementById("who").hidden = true;
  const key = input("api-key", { type: "password", autocomplete: "current-password", required: true, spellcheck: "false" });
  const status = h("div", { "aria-live": "polite" });
  if (problem) status.append(errorBox(problem));
  const form = h(
    "form",
    {
      class: "card login",
      onsubmit: async (ev) => {
        ev.preventDefault();
        status.replaceChildren(h("p", { class: "muted" }, "Checking…"));
        try {
          await loginWithKey(key.value.trim());
          await start();
        } catch (err) {
          status.replaceChildren(errorBox(err));
        }
      },
    },
    field("API key", key),
    h("p", { class: "muted small" }, "Kept in this tab's session storage only and sent as Authorization: Bearer."),
    h("button", { type: "submit" }, "Log in"),
  );
  const extra = [];
  if (state.config.oidc_client_id) {
    extra.push(
      h(
        "div",
        { class: "card login" },
        h("p", {}, "Or sign in at ", h("code", {}, state.config.oidc_issuer), "."),
        h("button", {
          type: "button",
          id: "oidc-login",
          onclick: () => startOidc(state.config).catch((err) => status.replaceChildren(errorBox(err))),
        }, "Sign in with the identity provider"),
      ),
    );
  }
  page("Log in", form, ...extra, status);
  key.focus();
}

// -- stores and models --------------------------------------------------------------------------

async function modelsPage(params, render) {
  if (needStore(render)) return;
  const list = await get(`/stores/${storeId()}/authorization-models`, { page_size: 50 });
  const models = list.authorization_models || [];
  if (!models.length) {
    render("Model", h("p", {}, "This store has no authorization model yet."));
    return;
  }
  const chosen = models.find((m) => m.id === params.get("id")) || models[0];
  const index = models.indexOf(chosen);
  const dsl = modelToDsl(chosen);
  const graphBox = h("div", { class: "graph-box", tabindex: "0", "aria-label": "Model graph (scrollable)" }, drawGraph(chosen));
  const history = h(
    "ol",
    { class: "history", "aria-label": "Model history, newest first" },
    models.map((m, i) =>
      h(
        "li",
        { class: m.id === chosen.id ? "current" : "" },
        h("a", { href: `#/models?id=${m.id}`, "aria-current": m.id === chosen.id ? "page" : false }, m.id),
        i === 0 ? h("span", { class: "badge" }, "latest") : "",
        i + 1 < models.length ? h("a", { class: "small", href: `#/models?id=${m.id}&diff=${models[i + 1].id}` }, " diff with previous") : "",
      ),
    ),
  );
  const parts = [
    h("p", { class: "muted" }, `Store ${storeId()} · model ${chosen.id}${index === 0 ? " (latest)" : ""}`),
    h("section", { class: "split" }, h("div", {}, h("h3", {}, "Graph"), graphBox, legend()), h("div", {}, h("h3", {}, "DSL"), h("pre", { class: "dsl", tabindex: "0", "aria-label": "Model DSL" }, dsl))),
  ];
  const against = params.get("diff") && models.find((m) => m.id === params.get("diff"));
  if (against) {
    const rows = lineDiff(modelToDsl(against), dsl);
    const changed = rows.filter((r) => r.op !== " ").length;
    parts.push(
      h("section", {}, h("h3", {}, `Diff: ${against.id} → ${chosen.id} (${changed} lines changed)`),
        h("pre", { class: "diff", tabindex: "0", "aria-label": "Model diff" }, rows.map((r) => h("span", { class: r.op === "+" ? "add" : r.op === "-" ? "del" : "" }, `${r.op} ${r.text}\n`)))),
    );
  }
  parts.push(h("section", {}, h("h3", {}, "History"), history));
  render("Model", ...parts);
}

function legend() {
  return h("p", { class: "legend small" },
    h("span", { class: "k direct" }, "— direct"), " ", h("span", { class: "k userset" }, "— userset"), " ",
    h("span", { class: "k computed" }, "— computed"), " ", h("span", { class: "k from" }, "— x from y"), " ",
    h("span", { class: "k excl" }, "- - but not"), " ⟨cond⟩ = condition");
}

// -- tuples -------------------------------------------------------------------------------------

async function tuplesPage(params, render) {
  if (needStore(render)) return;
  const f = { object: params.get("object") || "", relation: params.get("relation") || "", user: params.get("user") || "", condition: params.get("condition") || "" };
  const token = params.get("token") || "";
  const fObject = input("f-object", { value: f.object, placeholder: "document:readme or document:" });
  const fRelation = input("f-relation", { value: f.relation, placeholder: "viewer" });
  const fUser = input("f-user", { value: f.user, placeholder: "user:anne" });
  const fCondition = input("f-condition", { value: f.condition, placeholder: "condition name" });
  const filter = h("form", {
    class: "card filters",
    role: "search",
    onsubmit: (ev) => {
      ev.preventDefault();
      const q = new URLSearchParams({ object: fObject.value.trim(), relation: fRelation.value.trim(), user: fUser.value.trim(), condition: fCondition.value.trim() });
      for (const [k, v] of [...q]) if (!v) q.delete(k);
      location.hash = `#/tuples?${q}`;
    },
  }, field("Object", fObject), field("Relation", fRelation), field("User", fUser), field("Condition", fCondition), h("button", { type: "submit" }, "Filter"));
  const result = h("div", { "aria-live": "polite" });
  const parts = [filter];
  const last = JSON.parse(sessionStorage.getItem("permsvc.console.last") || "null");
  sessionStorage.removeItem("permsvc.console.last");
  if (last && last.verb === "Revoked") {
    parts.push(h("p", { class: "ok", id: "change-result" }, `Revoked at revision ${last.revision}. `,
      last.audit_id ? h("a", { href: `#/audit?id=${last.audit_id}` }, `Audit row ${last.audit_id}`) : ""));
  }
  if (state.admin) parts.push(grantForm());
  parts.push(result);
  render("Tuples", ...parts);
  try {
    const data = await readTuples(f, token);
    const tuples = data.tuples;
    const table = h("table", { class: "data" },
      h("caption", {}, `${tuples.length} tuple(s) on this page${f.condition ? ` with condition ${f.condition}` : ""}${data.scanned ? ` (filtered from ${data.scanned} read)` : ""}`),
      h("thead", {}, h("tr", {}, ["Object", "Relation", "User", "Condition", "Written", ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, tuples.map((t) => tupleRow(t))));
    const nav = h("p", { class: "pager" });
    if (token) nav.append(h("a", { href: "#/tuples?" + withParam(params, "token", "") }, "First page"), " ");
    if (data.continuation_token) nav.append(h("a", { href: "#/tuples?" + withParam(params, "token", data.continuation_token), id: "next-page" }, "Next page"));
    result.replaceChildren(table, nav);
  } catch (err) {
    result.replaceChildren(errorBox(err));
  }
}

// The Read API answers an object (type:id), or a type with a user; a user alone is the admin
// API's list of a user's grants; any other filter reads a page of every tuple and filters it here.
async function readTuples(f, token) {
  const objectId = f.object.includes(":") && !f.object.endsWith(":");
  const typeOnly = f.object.endsWith(":") || (f.object && !f.object.includes(":"));
  const objectRef = typeOnly && !f.object.endsWith(":") ? f.object + ":" : f.object;
  const match = (k) =>
    (!f.relation || k.relation === f.relation) &&
    (!f.user || k.user === f.user) &&
    (!f.object || (objectId ? k.object === f.object : k.object.startsWith(objectRef))) &&
    (!f.condition || (k.condition && k.condition.name === f.condition));
  if (objectId || (typeOnly && f.user)) {
    const tuple_key = { object: objectRef };
    if (f.relation) tuple_key.relation = f.relation;
    if (f.user) tuple_key.user = f.user;
    const data = await post(`/stores/${storeId()}/read`, { tuple_key, page_size: 25, continuation_token: token || undefined });
    return { tuples: (data.tuples || []).filter((t) => match(t.key)), continuation_token: data.continuation_token };
  }
  if (f.user && state.admin) {
    const data = await get(`/v1/admin/users/${encodeURIComponent(f.user)}/grants`, { store_id: storeId(), page_size: 25, continuation_token: token });
    const tuples = (data.tuples || []).map((t) => ({ key: { object: t.object, relation: t.relation, user: t.user, condition: t.condition }, timestamp: t.timestamp }));
    return { tuples: tuples.filter((t) => match(t.key)), continuation_token: data.continuation_token };
  }
  const data = await post(`/stores/${storeId()}/read`, { page_size: 100, continuation_token: token || undefined });
  const all = data.tuples || [];
  const filtered = f.object || f.relation || f.user || f.condition;
  return { tuples: all.filter((t) => match(t.key)), continuation_token: data.continuation_token, scanned: filtered ? all.length : 0 };
}

function withParam(params, k, v) {
  const q = new URLSearchParams(params);
  if (v) q.set(k, v);
  else q.delete(k);
  return q.toString();
}

function tupleRow(t) {
  const k = t.key;
  const cond = k.condition ? `${k.condition.name}${k.condition.context ? " " + JSON.stringify(k.condition.context) : ""}` : "";
  const actions = h("td", { class: "actions" });
  if (state.admin) {
    actions.append(
      h("a", { href: `#/audit?object=${encodeURIComponent(k.object)}&relation=${encodeURIComponent(k.relation)}&user=${encodeURIComponent(k.user)}` }, "history"), " ",
      h("button", {
        type: "button",
        class: "danger",
        "aria-label": `Revoke ${k.object}#${k.relation}@${k.user}`,
        onclick: async () => {
          if (!confirm(`Revoke ${k.user} as ${k.relation} of ${k.object}?`)) return;
          try {
            const out = await post("/v1/admin/revokes", { store_id: storeId(), tuples: [{ object: k.object, relation: k.relation, user: k.user }] });
            announceChange("Revoked", out);
            route();
          } catch (err) {
            toast(errorBox(err).textContent);
          }
        },
      }, "Revoke"),
    );
  }
  return h("tr", {}, h("td", {}, k.object), h("td", {}, k.relation), h("td", {}, k.user), h("td", {}, cond), h("td", { class: "small" }, (t.timestamp || "").replace("T", " ").slice(0, 19)), actions);
}

function announceChange(verb, out) {
  const link = out.audit_id ? ` — audit row ${out.audit_id}` : "";
  sessionStorage.setItem("permsvc.console.last", JSON.stringify({ verb, audit_id: out.audit_id, revision: out.revision }));
  toast(`${verb}: ${out.changed} change(s) at revision ${out.revision}${link}`);
}

function grantForm() {
  const gObject = input("g-object", { required: true, placeholder: "document:readme" });
  const gRelation = input("g-relation", { required: true, placeholder: "viewer" });
  const gUser = input("g-user", { required: true, placeholder: "user:anne" });
  const gCond = input("g-condition", { placeholder: "optional condition name" });
  const gCtx = input("g-context", { placeholder: '{"key": "value"}' });
  const status = h("div", { "aria-live": "polite" });
  return h("details", { class: "card" }, h("summary", {}, "Grant a tuple"),
    h("form", {
      class: "filters",
      onsubmit: async (ev) => {
        ev.preventDefault();
        const tuple = { object: gObject.value.trim(), relation: gRelation.value.trim(), user: gUser.value.trim() };
        if (gCond.value.trim()) {
          tuple.condition = { name: gCond.value.trim() };
          if (gCtx.value.trim()) {
            try {
              tuple.condition.context = JSON.parse(gCtx.value);
            } catch {
              status.replaceChildren(errorBox(new Error("the condition context is not JSON")));
              return;
            }
          }
        }
        try {
          const out = await post("/v1/admin/grants", { store_id: storeId(), tuples: [tuple] });
          announceChange("Granted", out);
          status.replaceChildren(h("p", { class: "ok", id: "grant-result" }, `Granted at revision ${out.revision}. `,
            out.audit_id ? h("a", { href: `#/audit?id=${out.audit_id}` }, `Audit row ${out.audit_id}`) : ""));
        } catch (err) {
          status.replaceChildren(errorBox(err));
        }
      },
    }, field("Object", gObject), field("Relation", gRelation), field("User", gUser), field("Condition", gCond), field("Condition context (JSON)", gCtx), h("button", { type: "submit" }, "Grant")),
    status);
}

// -- why ----------------------------------------------------------------------------------------

async function explainAvailable() {
  if (state.explain === null) {
    try {
      const spec = await get("/openapi.json");
      state.explain = Boolean(spec.paths && spec.paths["/v1/explain"]);
    } catch {
      state.explain = false;
    }
  }
  return state.explain;
}

function stepText(s) {
  const t = s.tuple_key || s.tuple;
  const tuple = t ? `${t.object}#${t.relation}@${t.user}` : "";
  const cond = s.condition ? ` [${s.condition.name}${s.condition.parameters ? " " + JSON.stringify(s.condition.parameters) : ""} → ${s.condition.result}]` : "";
  switch (s.kind) {
    case "relation": return `${s.object}#${s.relation}`;
    case "computed": return `${s.object}#${s.from_relation} includes ${s.relation}`;
    case "tuple": return `tuple ${tuple}${s.revision !== undefined ? ` (revision ${s.revision})` : ""}`;
    case "contextual_tuple": return `contextual tuple ${tuple}`;
    case "wildcard": return `wildcard ${s.user || ""}`;
    case "condition": return `condition${cond}`;
    case "userset": return `enter userset ${s.object}#${s.relation}`;
    case "from": return `${s.relation} from ${s.tupleset}: enter ${s.object}#${s.relation}`;
    case "self": return `the user is ${s.object}#${s.relation}`;
    case "intersection": return `every side of ${s.object}#${s.relation} holds`;
    case "exclusion": return `${s.object}#${s.relation}: the excluded branch failed`;
    default: return `${s.kind} ${s.object || ""}${s.relation ? "#" + s.relation : ""}`;
  }
}

function stepList(steps) {
  return h("ol", { class: "steps" }, steps.map((s) => h("li", { class: `step ${s.kind}` }, stepText(s),
    s.sides && s.sides.length ? s.sides.map((side) => stepList(side)) : "",
    s.excluded ? denialTree(s.excluded) : "")));
}

function denialTree(d) {
  return h("ul", { class: "denial" }, h("li", {}, `${d.object || ""}${d.relation ? "#" + d.relation : ""}: ${d.reason}${d.detail ? " — " + d.detail : ""}${d.pruned ? ` (+${d.pruned} pruned)` : ""}`,
    (d.children || []).map(denialTree)));
}

async function whyPage(params, render) {
  if (needStore(render)) return;
  const model = await latestModel();
  if (!model) {
    render("Why", h("p", {}, "This store has no model yet."));
    return;
  }
  const tr = typesAndRelations(model);
  const allRelations = [...new Set(tr.flatMap((t) => t.relations))].sort();
  const wUser = input("w-user", { value: params.get("user") || "", required: true, placeholder: "user:anne" });
  const wRelation = select("w-relation", allRelations, params.get("relation") || "");
  const wObject = input("w-object", { value: params.get("object") || "", required: true, placeholder: "document:readme" });
  const out = h("div", { id: "why-result", "aria-live": "polite" });
  const form = h("form", {
    class: "card filters",
    onsubmit: (ev) => {
      ev.preventDefault();
      location.hash = "#/why?" + new URLSearchParams({ user: wUser.value.trim(), relation: wRelation.value, object: wObject.value.trim() });
    },
  }, field("User", wUser), field("Relation", wRelation), field("Object", wObject), h("button", { type: "submit" }, "Why?"));

  const lUser = input("l-user", { value: params.get("user") || "", placeholder: "user:anne" });
  const lType = select("l-type", tr.filter((t) => t.relations.length).map((t) => t.type), (params.get("object") || "").split(":")[0]);
  const canDo = h("div", { "aria-live": "polite" });
  const canForm = h("form", {
    class: "card filters",
    onsubmit: async (ev) => {
      ev.preventDefault();
      canDo.replaceChildren(h("p", { class: "muted" }, "Asking…"));
      const def = tr.find((t) => t.type === lType.value);
      try {
        const rows = [];
        for (const relation of def.relations) {
          const r = await post(`/stores/${storeId()}/list-objects`, { type: def.type, relation, user: lUser.value.trim() });
          rows.push(h("tr", {}, h("th", { scope: "row" }, relation), h("td", {}, (r.objects || []).sort().join(", ") || "—")));
        }
        canDo.replaceChildren(h("table", { class: "data", id: "can-do" }, h("caption", {}, `What ${lUser.value.trim()} can do on ${def.type}`), h("tbody", {}, rows)));
      } catch (err) {
        canDo.replaceChildren(errorBox(err));
      }
    },
  }, field("User", lUser), field("Object type", lType), h("button", { type: "submit" }, "What can this user do?"));

  const uObject = input("u-object", { value: params.get("object") || "", placeholder: "document:readme" });
  const uRelation = select("u-relation", allRelations, params.get("relation") || "");
  const uType = select("u-type", tr.map((t) => t.type), "user");
  const who = h("div", { "aria-live": "polite" });
  const whoForm = h("form", {
    class: "card filters",
    onsubmit: async (ev) => {
      ev.preventDefault();
      who.replaceChildren(h("p", { class: "muted" }, "Asking…"));
      try {
        const r = await post(`/stores/${storeId()}/list-users`, {
          object: { type: uObject.value.split(":")[0], id: uObject.value.split(":").slice(1).join(":") },
          relation: uRelation.value,
          user_filters: [{ type: uType.value }],
        });
        const users = (r.users || []).map((u) => (u.object ? `${u.object.type}:${u.object.id}` : u.userset ? `${u.userset.type}:${u.userset.id}#${u.userset.relation}` : `${u.wildcard.type}:*`));
        who.replaceChildren(h("p", { id: "who-can" }, `${users.length} ${uType.value}(s): `, users.sort().join(", ") || "none"));
      } catch (err) {
        who.replaceChildren(errorBox(err));
      }
    },
  }, field("Object", uObject), field("Relation", uRelation), field("User type", uType), h("button", { type: "submit" }, "Who can do this?"));

  render("Why", form, out, h("h3", {}, "What can this user do"), canForm, canDo, h("h3", {}, "Who can do this"), whoForm, who);
  if (!params.get("user") || !params.get("object")) {
    out.append(h("div", { class: "graph-box" }, drawGraph(model)));
    return;
  }
  const question = { store_id: storeId(), user: params.get("user"), relation: params.get("relation"), object: params.get("object") };
  try {
    if (await explainAvailable()) {
      const e = await post("/v1/explain", question);
      const steps = (e.witnesses && e.witnesses[0]) || [];
      const verdict = h("p", { class: `verdict ${e.allowed ? "allowed" : "denied"}`, id: "verdict" }, e.allowed ? "Allowed" : "Denied", h("span", { class: "small muted" }, ` at revision ${e.revision}`));
      const parts = [verdict];
      if (e.error) parts.push(errorBox(new Error(`${e.error.code}: ${e.error.message}`)));
      parts.push(h("div", { class: "graph-box" }, drawGraph(model, e.allowed ? witnessPath(steps) : deniedNodes(e.denial))));
      if (e.allowed) parts.push(h("h3", {}, "The path"), stepList(steps));
      else if (e.denial) parts.push(h("h3", {}, "What was tried"), denialTree(e.denial), e.pruned ? h("p", { class: "muted" }, `${e.pruned} more branch(es) pruned`) : "");
      out.replaceChildren(...parts);
    } else {
      const c = await post(`/stores/${storeId()}/check`, { tuple_key: { user: question.user, relation: question.relation, object: question.object } });
      out.replaceChildren(
        h("p", { class: `verdict ${c.allowed ? "allowed" : "denied"}`, id: "verdict" }, c.allowed ? "Allowed" : "Denied"),
        h("p", { class: "muted" }, "This server does not explain decisions yet (no /v1/explain); the decision comes from Check."),
        h("div", { class: "graph-box" }, drawGraph(model)),
      );
    }
  } catch (err) {
    out.replaceChildren(errorBox(err));
  }
}

// -- claims -------------------------------------------------------------------------------------

async function claimsPage(params, render) {
  if (needStore(render)) return;
  const cUser = input("c-user", { value: params.get("user") || "", required: true, placeholder: "auth0|42" });
  const cAud = input("c-audience", { value: params.get("audience") || "", placeholder: "optional API identifier" });
  const out = h("div", { "aria-live": "polite" });
  render("Claims preview", h("form", {
    class: "card filters",
    onsubmit: (ev) => {
      ev.preventDefault();
      const q = new URLSearchParams({ user: cUser.value.trim() });
      if (cAud.value.trim()) q.set("audience", cAud.value.trim());
      location.hash = "#/claims?" + q;
    },
  }, field("User id (the token's sub)", cUser), field("Audience", cAud), h("button", { type: "submit" }, "Preview")), out);
  if (!params.get("user")) return;
  try {
    const body = { user_id: params.get("user"), store_id: storeId() };
    if (params.get("audience")) body.audience = params.get("audience");
    const r = await post("/v1/claims", body);
    let budget = 2048;
    // The read of the spec needs the admin role; without it the default budget is shown.
    if (state.admin) {
      try {
        const spec = await get(`/v1/admin/stores/${storeId()}/claims-spec`);
        const doc = spec.spec || spec.default || {};
        const variant = (doc.audiences || {})[params.get("audience") || ""];
        budget = (variant && variant.budget_bytes) || doc.budget_bytes || budget;
      } catch {
        /* no spec of this store's own: the default budget */
      }
    }
    const [name, value] = Object.entries(r.claims)[0] || ["", null];
    const encoded = JSON.stringify(value);
    const bytes = new TextEncoder().encode(encoded).length;
    const pct = Math.min(100, Math.round((bytes / budget) * 100));
    out.replaceChildren(
      h("p", {}, "Claim ", h("code", {}, name), ` at revision ${r.revision}${r.truncated ? " (truncated to fit)" : ""}`),
      h("p", { id: "claim-size" }, `${bytes} of ${budget} bytes (${pct}%)`),
      h("meter", { min: 0, max: budget, value: bytes, high: budget * 0.8, "aria-label": "claim size against the budget" }),
      h("pre", { class: "dsl", tabindex: "0" }, JSON.stringify(value, null, 2)),
    );
  } catch (err) {
    out.replaceChildren(errorBox(err));
  }
}

// -- audit and keys (admin) ---------------------------------------------------------------------

function auditRow(e, markId) {
  return h("tr", { class: String(e.id) === markId ? "mark" : "", id: `audit-${e.id}` },
    h("td", {}, String(e.id)), h("td", { class: "small" }, (e.at || "").replace("T", " ").slice(0, 19)), h("td", {}, e.actor), h("td", {}, e.action),
    h("td", {}, e.revision ?? ""), h("td", { class: "small" }, h("code", {}, JSON.stringify(e.detail || {}).slice(0, 300))));
}

const AUDIT_HEAD = () => h("thead", {}, h("tr", {}, ["Id", "At", "Actor", "Action", "Revision", "Detail"].map((c) => h("th", { scope: "col" }, c))));

async function auditPage(params, render) {
  const markId = params.get("id") || "";
  if (params.get("object")) {
    const r = await get("/v1/admin/audit/trace", { store_id: storeId(), object: params.get("object"), relation: params.get("relation"), user: params.get("user") });
    const rows = r.changes.flatMap((c) => c.audit.map((e) => auditRow(e, markId)));
    render("Audit", h("p", {}, `History of ${params.get("object")}#${params.get("relation")}@${params.get("user")}: ${r.changes.map((c) => `${c.operation} at ${c.revision}`).join(", ")}`),
      h("table", { class: "data" }, AUDIT_HEAD(), h("tbody", {}, rows)));
    return;
  }
  const aAction = input("a-action", { value: params.get("action") || "", placeholder: "grant, revoke, key_create…" });
  const aActor = input("a-actor", { value: params.get("actor") || "" });
  const r = await get("/v1/admin/audit", { store_id: params.get("all") ? "" : storeId(), action: params.get("action"), actor: params.get("actor"), page_size: 50, continuation_token: params.get("token") });
  const nav = h("p", { class: "pager" });
  if (r.continuation_token) nav.append(h("a", { href: "#/audit?" + withParam(params, "token", r.continuation_token) }, "Older"));
  render("Audit",
    h("form", {
      class: "card filters",
      onsubmit: (ev) => {
        ev.preventDefault();
        const q = new URLSearchParams({ action: aAction.value.trim(), actor: aActor.value.trim() });
        for (const [k, v] of [...q]) if (!v) q.delete(k);
        location.hash = "#/audit?" + q;
      },
    }, field("Action", aAction), field("Actor", aActor), h("button", { type: "submit" }, "Filter")),
    h("table", { class: "data", id: "audit-table" }, h("caption", {}, `Newest first, store ${storeId()}`), AUDIT_HEAD(), h("tbody", {}, r.entries.map((e) => auditRow(e, markId)))),
    nav);
  const marked = document.getElementById(`audit-${markId}`);
  if (marked) marked.scrollIntoView({ block: "center" });
}

async function keysPage(params, render) {
  const r = await get("/v1/admin/keys");
  const kName = input("k-name", { placeholder: "ci-reader" });
  const kRoles = select("k-roles", ["check", "read", "write", "admin", "claims"], "read");
  const kStore = h("input", { id: "k-store", name: "k-store", type: "checkbox", checked: true });
  const status = h("div", { "aria-live": "polite" });
  const rows = r.keys.map((k) => h("tr", {}, h("td", {}, h("code", {}, k.id)), h("td", {}, k.name || ""), h("td", {}, (k.roles || [k.scope]).join(" ")),
    h("td", {}, k.store_id || "any"), h("td", { class: "small" }, (k.created_at || "").slice(0, 19)),
    h("td", {}, k.revoked_at ? "revoked" : h("button", {
      type: "button",
      class: "danger",
      "aria-label": `Revoke key ${k.id}`,
      onclick: async () => {
        if (!confirm(`Revoke key ${k.id}?`)) return;
        try {
          await del(`/v1/admin/keys/${encodeURIComponent(k.id)}`);
          route();
        } catch (err) {
          status.replaceChildren(errorBox(err));
        }
      },
    }, "Revoke"))));
  render("API keys",
    h("form", {
      class: "card filters",
      onsubmit: async (ev) => {
        ev.preventDefault();
        const body = { scope: kRoles.value, name: kName.value.trim() || undefined };
        if (kStore.checked) body.store_id = storeId();
        try {
          const created = await post("/v1/admin/keys", body);
          await keysPage(params, render);
          document.querySelector("#keys-status").replaceChildren(h("p", { class: "ok" }, "New key (shown this once): ", h("code", { id: "new-key" }, created.key)));
        } catch (err) {
          status.replaceChildren(errorBox(err));
        }
      },
    }, field("Name", kName), field("Role", kRoles), h("div", { class: "field check" }, kStore, h("label", { for: "k-store" }, "Only this store")), h("button", { type: "submit" }, "Create key")),
    h("div", { id: "keys-status", "aria-live": "polite" }, status),
    h("table", { class: "data" }, h("thead", {}, h("tr", {}, ["Id", "Name", "Roles", "Store", "Created", ""].map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, rows)));
}

// -- shell --------------------------------------------------------------------------------------

const ROUTES = { models: modelsPage, tuples: tuplesPage, why: whyPage, claims: claimsPage, audit: auditPage, keys: keysPage };
// The role a page needs beyond "read" (permsvc decides; the console only avoids asking in vain).
const NEEDS = { claims: "claims", audit: "admin", keys: "admin" };

async function route() {
  if (!credential()) return loginPage();
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const name = ROUTES[path] ? path : "models";
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.getAttribute("href") === `#/${name}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const mine = ++state.gen;
  // Only the latest navigation may draw: a slower earlier page must not replace it.
  const render = (...args) => {
    if (mine === state.gen) page(...args);
  };
  try {
    if (NEEDS[name] && !state.roles.has(NEEDS[name])) {
      return render("Not available", h("p", { class: "muted", id: "needs-role" }, `This page needs the '${NEEDS[name]}' role, which ${rolesText()} does not include.`));
    }
    await ROUTES[name](new URLSearchParams(query || ""), render);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      setCredential(null);
      return loginPage(new Error("the credential is no longer accepted; log in again"));
    }
    render("Error", errorBox(err));
  }
}

function rolesText() {
  const roles = [...state.roles];
  return roles.length ? `this credential's roles (${roles.join(", ")})` : "this credential (no role)";
}

// Signed in, but without the read role the console has nothing to show: say who and why.
function noAccessPage(cred, who) {
  state.gen++;
  document.getElementById("nav").hidden = true;
  document.getElementById("store-select").hidden = true;
  document.querySelector('label[for="store-select"]').hidden = true;
  document.getElementById("who").hidden = false;
  const roles = (who.roles || []).join(", ") || "none";
  page("Signed in without access",
    h("div", { class: "card", id: "no-access", role: "status" },
      h("p", {}, "Signed in as ", h("code", {}, who.subject || cred.label), `. Roles here: ${roles}.`),
      h("p", {}, "The console needs the 'read' role to show stores, models and tuples."),
      who.note ? h("p", { class: "muted" }, who.note) : ""));
}

async function start() {
  const cred = credential();
  const who = await get("/v1/whoami");
  state.who = who;
  state.roles = new Set(who.roles || []);
  state.admin = state.roles.has("admin");
  const label = `${cred.label}${state.admin ? " · admin" : state.roles.size ? ` · ${[...state.roles].join(" ")}` : " · no role"}`;
  document.getElementById("whoami").textContent = label;
  if (!state.roles.has("read")) return noAccessPage(cred, who);
  document.getElementById("store-select").hidden = false;
  document.querySelector('label[for="store-select"]').hidden = false;
  const stores = (await get("/stores", { page_size: 100 })).stores || [];
  state.stores = stores;
  if (!stores.find((s) => s.id === storeId())) sessionStorage.setItem(STORE, stores.length ? stores[0].id : "");
  const sel = document.getElementById("store-select");
  sel.replaceChildren(...stores.map((s) => h("option", { value: s.id, selected: s.id === storeId() }, `${s.name} (${s.id})`)));
  sel.onchange = () => {
    sessionStorage.setItem(STORE, sel.value);
    route();
  };
  for (const a of document.querySelectorAll("[data-role]")) a.hidden = !state.roles.has(a.dataset.role);
  document.getElementById("nav").hidden = false;
  document.getElementById("who").hidden = false;
  await route();
}

document.getElementById("logout").addEventListener("click", () => {
  setCredential(null);
  state.models.clear();
  location.hash = "#/";
  loginPage();
});
window.addEventListener("hashchange", route);

(async () => {
  try {
    state.config = await get("/console/config.json");
  } catch {
    state.config = {};
  }
  try {
    if (state.config.oidc_client_id) await finishOidc(state.config);
  } catch (err) {
    return loginPage(err);
  }
  if (!credential()) return loginPage();
  try {
    await start();
  } catch (err) {
    const cred = credential();
    if (cred && cred.kind === "oidc" && err instanceof ApiError) {
      // Signed in, but permsvc gives this token no role here (an end user's own token may only
      // ask about itself): say who signed in and why nothing can be shown.
      setCredential(null);
      return loginPage(new Error(`signed in as ${cred.label} (scopes: ${cred.scopes.join(" ") || "none"}), but permsvc refused this token: ${err.message}`));
    }
    loginPage(err);
  }
})();
