// The API reference: renders an OpenAPI 3.1 document of this server, nothing fetched from
// anywhere else. Without a credential it shows /docs/openapi.json (the host's own routes);
// with one, /v1/openapi.json as that caller's tenant sees it (its modules' routes too). The
// credential stays in this tab's sessionStorage and goes only to this server.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "verofield.docs.token";
const METHODS = ["get", "post", "put", "patch", "delete"];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

// A `$ref` inside the document, followed (JSON pointer, escaped per RFC 6901).
function resolve(doc, schema, seen = 0) {
  if (!schema || typeof schema !== "object" || !schema.$ref || seen > 20) return schema;
  const ref = schema.$ref;
  if (!ref.startsWith("#/")) return schema;
  let target = doc;
  for (const part of ref.slice(2).split("/")) {
    target = target && target[part.replace(/~1/g, "/").replace(/~0/g, "~")];
  }
  return resolve(doc, target, seen + 1) || schema;
}

// Example strings by a property's name, for schemas that give no format.
const NAMED = [
  [/(^|_)id$|_ids?$/, "0190d5c4-3a1e-7cc2-9f10-5b6c1d2e3f40"],
  [/date$|_on$/, "2026-03-04"],
  [/_at$/, "2026-03-04T09:00:00Z"],
  [/_local$|_time$/, "09:00"],
  [/time_zone$/, "America/New_York"],
  [/email$/, "ann@example.com"],
  [/currency$/, "USD"],
];

// An example value built from a schema: `examples`/`example`/`const`/`enum`, a default that
// says something (not null or empty), then by type, format and the property's name.
// Depth-bounded, so a recursive schema still ends.
function example(doc, schema, depth = 0, name = "") {
  schema = resolve(doc, schema);
  if (!schema || typeof schema !== "object" || depth > 8) return null;
  if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
  for (const key of ["example", "const"]) if (key in schema) return schema[key];
  if (Array.isArray(schema.enum)) return schema.enum[0];
  const fallback = schema.default;
  if (fallback !== undefined && fallback !== null && JSON.stringify(fallback).length > 2) return fallback;
  const choices = schema.anyOf || schema.oneOf;
  if (choices) {
    const first = choices.find((c) => resolve(doc, c).type !== "null") || choices[0];
    return example(doc, first, depth + 1, name);
  }
  if (schema.allOf) {
    return Object.assign({}, ...schema.allOf.map((s) => example(doc, s, depth + 1) || {}));
  }
  let type = schema.type;
  if (Array.isArray(type)) type = type.find((t) => t !== "null") || "null";
  if (!type && schema.properties) type = "object";
  switch (type) {
    case "object": {
      const out = {};
      for (const [key, prop] of Object.entries(schema.properties || {})) {
        out[key] = example(doc, prop, depth + 1, key);
      }
      return out;
    }
    case "array": return schema.items ? [example(doc, schema.items, depth + 1, name)] : [];
    case "integer": return schema.minimum !== undefined ? schema.minimum : 1;
    case "number": return schema.minimum !== undefined ? schema.minimum : 1.5;
    case "boolean": return true;
    case "null": return null;
    case "string":
      switch (schema.format) {
        case "date-time": return "2026-01-31T09:00:00Z";
        case "date": return "2026-01-31";
        case "uuid": return "0190d5c4-3a1e-7cc2-9f10-5b6c1d2e3f40";
        case "email": return "ann@example.com";
        case "uri": return "https://example.com/hook";
        default: {
          const hint = NAMED.find(([pattern]) => pattern.test(name));
          return hint ? hint[1] : "string";
        }
      }
    default: return null;
  }
}

// The schema as an indented outline: each property with its type, required mark and text.
function outline(doc, schema, depth = 0, seen = new Set()) {
  const ref = schema && schema.$ref;
  schema = resolve(doc, schema);
  if (!schema || typeof schema !== "object") return "any";
  const pad = "  ".repeat(depth);
  if (ref && seen.has(ref)) return ref.split("/").pop() + " (see above)";
  const next = new Set(seen);
  if (ref) next.add(ref);
  const choices = schema.anyOf || schema.oneOf;
  if (choices) return choices.map((c) => outline(doc, c, depth, next)).join(" | ");
  let type = Array.isArray(schema.type) ? schema.type.join(" | ") : schema.type || "";
  if (Array.isArray(schema.enum)) type = schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (schema.items) type = "array of " + outline(doc, schema.items, depth, next);
  if (!schema.properties || depth > 6) return type || "object";
  const required = new Set(schema.required || []);
  const lines = Object.entries(schema.properties).map(([name, prop]) => {
    const text = resolve(doc, prop).description;
    return `${pad}  ${name}${required.has(name) ? "*" : ""}: ${outline(doc, prop, depth + 1, next)}` +
      (text ? `  // ${text.split("\n")[0]}` : "");
  });
  return `object {\n${lines.join("\n")}\n${pad}}`;
}

function jsonOf(doc, content) {
  const media = content && (content["application/json"] || content["application/problem+json"]);
  return media && media.schema;
}

function operation(doc, path, method, op) {
  const id = `${method}-${path}`.replace(/[^a-zA-Z0-9]+/g, "-");
  const perm = op["x-permission"] ? el("span", { class: "perm" }, ` needs ${op["x-permission"]}`) : null;
  const section = el("section", { class: "op", id },
    el("h3", {}, el("span", { class: `method ${method.toUpperCase()}` }, method.toUpperCase()),
      el("code", {}, path), perm),
    el("p", {}, op.summary || ""),
    op.description ? el("p", { class: "perm" }, op.description) : null);
  const params = op.parameters || [];
  if (params.length) {
    section.append(el("table", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"), el("th", {}, "type")),
      params.map((p) => el("tr", {}, el("td", {}, el("code", {}, p.name)), el("td", {}, p.in),
        el("td", {}, outline(doc, p.schema))))));
  }
  const body = op.requestBody && jsonOf(doc, op.requestBody.content);
  let curl = `curl -X ${method.toUpperCase()} "$VEROFIELD${path}"`;
  if (op.security && op.security.length) curl += ` \\\n  -H "Authorization: Bearer $TOKEN"`;
  if (body) {
    const sample = JSON.stringify(example(doc, body), null, 2);
    curl += ` \\\n  -H "Content-Type: application/json" \\\n  -d '${sample.replace(/'/g, "'\\''")}'`;
    section.append(el("details", {}, el("summary", {}, "Request body"), el("pre", {}, outline(doc, body))));
  }
  section.append(el("p", {}, "Example request:"), el("pre", {}, curl));
  for (const [status, response] of Object.entries(op.responses || {})) {
    const answer = resolve(doc, response);
    const schema = jsonOf(doc, answer && answer.content);
    const title = `${status === "default" ? "Errors" : status}: ${(answer && answer.description) || ""}`;
    const details = el("details", {}, el("summary", {}, title));
    if (schema) {
      details.append(el("p", {}, "Example answer:"), el("pre", {}, JSON.stringify(example(doc, schema), null, 2)),
        el("pre", {}, outline(doc, schema)));
    }
    section.append(details);
  }
  return { section, id };
}

function render(doc) {
  const main = $("operations");
  const toc = $("toc");
  main.replaceChildren();
  toc.replaceChildren();
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const method of METHODS) {
      if (!item[method]) continue;
      const tag = (item[method].tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([path, method, item[method]]);
    }
  }
  for (const [tag, ops] of byTag) {
    toc.append(el("h3", {}, tag));
    main.append(el("h2", {}, tag));
    for (const [path, method, op] of ops) {
      const { section, id } = operation(doc, path, method, op);
      main.append(section);
      toc.append(el("a", { href: `#${id}` }, `${method.toUpperCase()} ${path}`));
    }
  }
  main.append(el("h2", {}, "Errors"), el("p", {}, "Every error is problem+json; its ",
    el("code", {}, "type"), " links to a page explaining its code: see ", el("a", { href: "/problems" }, "/problems"), "."));
}

async function load() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const url = token ? "/v1/openapi.json" : "/docs/openapi.json";
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  $("status").textContent = "Loading " + url + " ...";
  try {
    const response = await fetch(url, { headers });
    const doc = await response.json();
    if (!response.ok) {
      $("status").textContent = `${url}: ${doc.detail || response.status}; showing the host's routes.`;
      sessionStorage.removeItem(TOKEN_KEY);
      return load();
    }
    render(doc);
    const count = Object.keys(doc.paths || {}).length;
    $("status").textContent = token
      ? `Your tenant's API: ${count} paths, with its modules' routes.`
      : `The host's routes (${count} paths). Give a token to see your tenant's modules too.`;
  } catch (error) {
    $("status").textContent = "Could not load the API document: " + error;
  }
}

$("auth").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("token").value.trim();
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  $("token").value = "";
  load();
});
$("forget").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); load(); });
load();
