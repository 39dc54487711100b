// The logged-in pages. Each returns an element; the server enforces every role check,
// the pages only hide what a role cannot use.
import { api, field, formData, h, say, table } from "./api.js";
import { create, get } from "./webauthn.js";

const approver = (me) => me.role === "owner" || me.role === "admin";
const auditor = (me) => approver(me) || me.role === "auditor";
const when = (t) => (t ? new Date(Number(t) * 1000).toLocaleString() : "");

async function act(fn, message) {
  try { await fn(); say(message); } catch (err) { say(err.message, true); }
}

function scopeForm(scope) {
  const box = (name, label) => h("label", {}, h("input", { type: "checkbox", name, checked: !!scope[name] }), " ", label);
  return h("fieldset", {}, h("legend", {}, "Scope"),
    field("Grant lifetime (s)", "ttl_s", "number", { value: scope.ttl_s, min: 1 }),
    field("Longest session (s)", "max_duration_s", "number", { value: scope.max_duration_s, min: 1 }),
    box("clipboard", "clipboard"), box("file_transfer", "file transfer"), box("drives", "drives"));
}

function readScope(form) {
  const d = formData(form);
  return { ttl_s: Number(d.ttl_s), max_duration_s: Number(d.max_duration_s),
    clipboard: "clipboard" in d, file_transfer: "file_transfer" in d, drives: "drives" in d };
}

function decisionForm(me, req, refresh) {
  const id = req.request?.id ?? req.id;
  const form = h("form", {}, scopeForm(req.request?.requested_scope ?? req.requested_scope ?? {}),
    field("Password (only if the policy allows password approvals)", "password", "password"));
  const passkey = (decision) => act(async () => {
    const begun = await api("POST", `/api/requests/${id}/approval`, { decision, scope: readScope(form) });
    const credential = await get(begun.publicKey);
    await api("POST", `/api/requests/${id}/approval/${begun.flow}`, credential);
    await refresh();
  }, `${id}: ${decision} signed`);
  const withPassword = () => act(async () => {
    const password = formData(form).password;
    await api("POST", `/api/requests/${id}/decision`, { decision: "approve", scope: readScope(form), password });
    await refresh();
  }, `${id}: approved with password`);
  const deny = () => act(async () => { await api("POST", `/api/requests/${id}/deny`, {}); await refresh(); }, `${id}: denied`);
  form.append(
    h("button", { type: "button", onclick: () => passkey("approve") }, "Approve with passkey"),
    h("button", { type: "button", onclick: withPassword }, "Approve with password"),
    h("button", { type: "button", onclick: deny }, "Deny"));
  return approver(me) ? form : null;
}

export async function requestsPage(me, refresh) {
  const pending = await api("GET", "/api/requests?state=pending");
  const rows = pending.map((r) => {
    const req = r.request ?? r;
    return [h("span", { class: "mono" }, req.id), req.user, req.source || "—", req.target,
      req.requested_at, decisionForm(me, r, refresh)];
  });
  return h("section", {}, h("h2", {}, "Pending requests"),
    rows.length ? table(["session", "user", "from", "target", "requested", ""], rows)
      : h("p", {}, "Nothing is waiting for approval. This list updates by itself."));
}

export async function sessionsPage(me, refresh) {
  const data = await api("GET", "/api/sessions");
  const rows = data.grants.map((g) => {
    const id = g.request?.id ?? g.id;
    const revoke = h("button", { type: "button", onclick: () => act(async () => {
      await api("POST", `/api/requests/${id}/revoke`, { reason: "revoked from the device page" }); await refresh();
    }, `${id}: revoked`) }, "Revoke");
    return [h("span", { class: "mono" }, id), g.state, g.grant?.expires_at ?? "",
      g.recording ? g.recording.state : "not recording", approver(me) ? revoke : null];
  });
  return h("section", {}, h("h2", {}, "Active sessions"),
    data.recorder === "ok" ? null : h("p", { class: "bad" }, `recorder ${data.recorder}`),
    rows.length ? table(["session", "state", "grant expires", "recording", ""], rows) : h("p", {}, "No approved or active sessions."));
}

export async function historyPage(me) {
  const sessions = await api("GET", "/api/history");
  const detail = h("div");
  const show = (s) => async () => {
    detail.replaceChildren(h("h3", {}, s.session));
    if (!auditor(me)) return;
    const verdict = h("p", {}, "Verifying…");
    detail.append(h("p", {}, h("a", { href: `/api/history/${s.session}/bundle`, download: `${s.session}.lucid` },
      "Download evidence bundle")), verdict);
    api("GET", `/api/history/${s.session}/verify`).then((v) => {
      verdict.textContent = v.ok ? `Verified: ${v.chunks} chunks, root ${v.root}, ${v.approvals} approval(s), signed by this device`
        : `FAILED at ${v.item}: ${v.message}`;
      verdict.className = v.ok ? "ok" : "bad";
    }).catch((err) => { verdict.textContent = err.message; verdict.className = "bad"; });
    const manifest = await api("GET", `/api/history/${s.session}/manifest`);
    detail.append(h("h4", {}, "Manifest"), h("pre", {}, JSON.stringify(manifest, null, 2)));
  };
  const rows = sessions.map((s) => [h("button", { type: "button", onclick: show(s) }, s.session), s.state,
    s.chunks, s.bytes, when(s.sealed_at), h("span", { class: "mono" }, s.root)]);
  return h("section", {}, h("h2", {}, "History"),
    h("p", { class: "note" }, "Playback in the browser, for roles allowed to decrypt, comes later; " +
      "until then download the bundle and use `lucid play` with a recipient key."),
    table(["session", "state", "chunks", "bytes", "sealed", "root"], rows), detail);
}

export async function keysPage() {
  const keys = await api("GET", "/api/keys");
  const d = keys.device;
  return h("section", {}, h("h2", {}, "Device keys"),
    table(["", ""], [["fingerprint", h("code", {}, d.fingerprint)], ["Ed25519 (signs manifests)", h("code", {}, d.ed25519)],
      ["X25519 (device recipient)", h("code", {}, d.x25519)], ["backend", d.backend]]),
    h("h3", {}, "Configured auditor recipients"),
    keys.recipients.length ? table(["fingerprint", "X25519"], keys.recipients.map((r) => [r.fingerprint, h("code", {}, r.x25519)]))
      : h("p", {}, "None: only the device can open recordings."));
}

export async function devicePage() {
  const d = await api("GET", "/api/device");
  const gib = (n) => `${(n / 2 ** 30).toFixed(1)} GiB`;
  return h("section", {}, h("h2", {}, "Device"), h("p", {}, "Web address: ", h("code", {}, d.url)),
    table(["daemon", "bus name", "running"], d.daemons.map((x) => [x.daemon, x.bus_name,
      h("span", { class: x.running ? "ok" : "bad" }, x.running ? "yes" : "no")])),
    h("h3", {}, "Storage"), table(["path", "used", "free", "total"], d.storage.map((s) => [s.path, gib(s.used), gib(s.free), gib(s.total)])),
    h("h3", {}, "Versions"), table(["", ""], Object.entries(d.versions)));
}

export async function accountsPage(me, refresh) {
  const accounts = await api("GET", "/api/accounts");
  const result = h("p");
  const invite = h("form", {}, h("h3", {}, "Invite"), field("Account name", "account", "text", { required: true }),
    h("label", {}, "Role ", h("select", { name: "role" },
      (me.role === "owner" ? ["admin", "auditor", "viewer", "owner"] : ["auditor", "viewer"]).map((r) => h("option", {}, r)))),
    h("button", { type: "submit" }, "Create invitation code"), result);
  invite.addEventListener("submit", (e) => { e.preventDefault(); act(async () => {
    const inv = await api("POST", "/api/accounts", formData(invite));
    result.replaceChildren("Code for ", inv.account, " (shown once): ", h("code", {}, inv.code));
  }, "invitation created"); });
  return h("section", {}, h("h2", {}, "Accounts"),
    table(["account", "role", "password", "TOTP", "passkeys"], accounts.map((a) => [a.account, a.role,
      a.password ? "yes" : "no", a.totp ? "yes" : "no", String(a.approval_passkeys.length)])), invite);
}

export async function policyPage(me, refresh) {
  const { policy, hash } = await api("GET", "/api/policy");
  const section = h("section", {}, h("h2", {}, `Policy v${policy.version}`), h("p", {}, "hash ", h("code", {}, hash)));
  const { version, ...editable } = policy;
  const text = h("textarea", { rows: 20, cols: 80, readonly: me.role !== "owner" });
  text.value = JSON.stringify(editable, null, 2);
  section.append(text);
  if (me.role === "owner") {
    section.append(h("button", { type: "button", onclick: () => act(async () => {
      await api("PUT", "/api/policy", text.value); await refresh();
    }, "policy saved") }, "Save policy"));
  }
  return section;
}

export async function accountPage(me, refresh) {
  const pw = h("form", {}, h("h3", {}, me.password ? "Change password" : "Set a password"),
    me.password ? field("Current password", "current", "password") : null,
    field("New password (10+ characters)", "new", "password", { required: true }),
    me.totp ? field("TOTP code", "totp", "text") : null, h("button", { type: "submit" }, "Save"));
  pw.addEventListener("submit", (e) => { e.preventDefault(); act(() => api("POST", "/api/me/password", formData(pw)), "password saved"); });
  const totp = h("div");
  if (me.totp) {
    const off = h("form", {}, field("TOTP code", "code", "text"), h("button", { type: "submit" }, "Turn TOTP off"));
    off.addEventListener("submit", (e) => { e.preventDefault(); act(async () => { await api("DELETE", "/api/me/totp", formData(off)); await refresh(); }, "TOTP off"); });
    totp.append(off);
  } else {
    totp.append(h("button", { type: "button", onclick: () => act(async () => {
      const begun = await api("POST", "/api/me/totp");
      const confirm = h("form", {}, h("p", {}, "Add this secret to an authenticator app: ", h("code", {}, begun.secret)),
        h("p", { class: "mono" }, begun.uri), field("Current code", "code", "text"), h("button", { type: "submit" }, "Confirm"));
      confirm.addEventListener("submit", (e) => { e.preventDefault(); act(async () => {
        await api("POST", `/api/me/totp/${begun.flow}`, formData(confirm)); await refresh(); }, "TOTP on"); });
      totp.replaceChildren(confirm);
    }, "") }, "Turn TOTP on"));
  }
  const passkey = h("button", { type: "button", onclick: () => act(async () => {
    const begun = await api("POST", "/api/me/passkeys");
    await api("POST", `/api/me/passkeys/${begun.flow}`, await create(begun.publicKey));
    await refresh();
  }, "passkey added") }, "Add a passkey");
  return h("section", {}, h("h2", {}, `${me.account} (${me.role})`),
    h("p", {}, `${me.passkeys.length} passkey(s) for login; login ends ${when(me.expires_at)}.`), passkey, pw, h("h3", {}, "TOTP"), totp);
}
