// JSON API calls: same-origin fetch, the login cookie travels by itself; state changes
// carry the CSRF token from /api/me (the browser adds the Origin header).
let csrf = "";

export function setCsrf(token) { csrf = token || ""; }

export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

export async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, data?.error || "http", data?.message || response.statusText);
  }
  return data;
}

// A DOM element from a tag, attributes and children (text only: never HTML strings).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else if (v !== false && v != null) el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c != null) el.append(c instanceof Node ? c : String(c));
  return el;
}

// The status line: what the last action did (or its error). It is cleared when another
// page is opened and fades by itself after a while, so it never describes an old action.
const NOTICE_MS = 8000;
const ERROR_MS = 30000;
let statusTimer = 0;
let epoch = 0; // bumped on every navigation: messages of actions begun earlier are dropped

export function say(text, isError = false) {
  const status = document.getElementById("status");
  clearTimeout(statusTimer);
  status.textContent = text || "";
  status.className = isError ? "error" : "";
  if (text) statusTimer = setTimeout(() => say(""), isError ? ERROR_MS : NOTICE_MS);
}

// A new page is being shown: clear the status line and forget pending messages.
export function newPage() { epoch += 1; say(""); }

// Run an action, then say how it went, unless another page was opened meanwhile.
export async function act(fn, message) {
  const started = epoch;
  try {
    await fn();
    if (started === epoch && message) say(message);
  } catch (err) {
    if (started === epoch) say(err.message, true);
  }
}

let unique = 0;
// An id for a label's `for`, unique in the document.
export function uid(prefix) { unique += 1; return `${prefix}-${unique}`; }

// A table; ``columns === null`` makes a key/value table: no header row, the first cell of
// each row is its header.
export function table(columns, rows) {
  const body = h("tbody", {}, rows.map((r) => tableRow(r, columns === null)));
  if (columns === null) return h("table", { class: "pairs" }, body);
  return h("table", {}, h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))), body);
}

export function tableRow(cells, rowHeader = false) {
  return h("tr", {}, cells.map((cell, i) => (rowHeader && i === 0 ? h("th", { scope: "row" }, cell) : h("td", {}, cell))));
}

export function field(label, name, type = "text", attrs = {}) {
  return h("label", {}, label, " ", h("input", { name, type, ...attrs }));
}

export function formData(form) { return Object.fromEntries(new FormData(form).entries()); }
