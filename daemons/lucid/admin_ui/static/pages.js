// The logged-in pages. Each page function returns { el, refresh? }: `el` is what is shown,
// `refresh()` re-reads the page's lists and updates them in place (called on every live
// event); it never touches what the person is working on (forms, open panes, codes).
// The server enforces every role check; the pages only hide what a role cannot use.
import { act, api, field, formData, h, table, tableRow, uid } from "./api.js";
import { create, get } from "./webauthn.js";

const approver = (me) => me.role === "owner" || me.role === "admin";
const auditor = (me) => approver(me) || me.role === "auditor";
const when = (t) => (t ? new Date(Number(t) * 1000).toLocaleString() : "");
const size = (n) => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
};
// A sealed session whose recording ended abnormally (the appliance stopped, the display went
// away): what was recorded up to then is sealed and verifies, but it is not the whole session.
const INCOMPLETE_NOTE = "The recording ended abnormally (for example the appliance stopped while it was recording): " +
  "what was recorded up to then is sealed and verifies, but the session may have gone on unrecorded.";
const incomplete = (complete) => (complete === false || complete === "false");
const incompleteBadge = () => h("span", { class: "badge incomplete", title: INCOMPLETE_NOTE }, "incomplete");

// refresh() from load() and apply(): overlapping calls never apply an older answer over a
// newer one.
function reader(load, apply) {
  let started = 0;
  let applied = 0;
  return async () => {
    const mine = ++started;
    const data = await load();
    if (mine < applied) return;
    applied = mine;
    apply(data);
  };
}

// A table whose body is replaced on each refresh, with a note shown instead while empty.
function liveTable(columns, emptyText) {
  const body = h("tbody");
  const el = h("table", {}, h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))), body);
  const empty = h("p", {}, emptyText);
  return {
    body, el, empty,
    set(rows) {
      body.replaceChildren(...rows.map((r) => tableRow(r)));
      el.hidden = rows.length === 0;
      empty.hidden = rows.length !== 0;
    },
  };
}

// --- requests ---------------------------------------------------------------------------

function scopeForm(scope) {
  const number = (label, name) => {
    const id = uid(name);
    return [h("label", { for: id }, label),
      h("input", { id, name, type: "number", value: scope[name], min: 1, required: true })];
  };
  const box = (name, label) => h("label", { class: "check" },
    h("input", { type: "checkbox", name, checked: !!scope[name] }), label);
  return h("fieldset", { class: "scope" }, h("legend", {}, "Scope to grant"),
    h("div", { class: "pairs" }, number("Grant lifetime (s)", "ttl_s"), number("Longest session (s)", "max_duration_s")),
    h("div", { class: "checks" }, box("clipboard", "clipboard"), box("file_transfer", "file transfer"),
      box("drives", "drives")));
}

function readScope(form) {
  const d = formData(form);
  return { ttl_s: Number(d.ttl_s), max_duration_s: Number(d.max_duration_s),
    clipboard: "clipboard" in d, file_transfer: "file_transfer" in d, drives: "drives" in d };
}

// The decision form of one request; `byPassword` lists the parts only shown while the
// policy allows password approvals.
function decisionForm(req, scope, refresh) {
  const id = req.id;
  const form = h("form", { class: "decision" });
  const passkey = () => act(async () => {
    const begun = await api("POST", `/api/requests/${id}/approval`, { decision: "approve", scope: readScope(form) });
    const credential = await get(begun.publicKey);
    await api("POST", `/api/requests/${id}/approval/${begun.flow}`, credential);
    await refresh();
  }, `${id}: approve signed`);
  const withPassword = () => act(async () => {
    const password = formData(form).password;
    await api("POST", `/api/requests/${id}/decision`, { decision: "approve", scope: readScope(form), password });
    await refresh();
  }, `${id}: approved with password`);
  const deny = () => act(async () => { await api("POST", `/api/requests/${id}/deny`, {}); await refresh(); }, `${id}: denied`);
  const pwId = uid("password");
  const byPassword = [
    h("div", { class: "pairs" }, h("label", { for: pwId }, "Password"),
      h("input", { id: pwId, name: "password", type: "password", autocomplete: "current-password" })),
    h("button", { type: "button", onclick: withPassword }, "Approve with password"),
  ];
  form.addEventListener("submit", (e) => e.preventDefault());
  form.append(scopeForm(scope), byPassword[0],
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: passkey }, "Approve with passkey"), byPassword[1],
      h("button", { type: "button", onclick: deny }, "Deny")));
  return { form, byPassword };
}

export async function requestsPage(me) {
  const rows = new Map(); // request id -> { tr, byPassword }
  const body = h("tbody");
  const columns = ["session", "user", "from", "target", "requested"].concat(approver(me) ? ["decision"] : []);
  const list = h("table", { class: "requests" },
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))), body);
  const empty = h("p", {}, "Nothing is waiting for approval. This list updates by itself.");
  // Requests that can no longer be approved: not decided in time, or filed before the
  // appliance restarted (whoever asked is gone; a live requester files a new request).
  const expired = liveTable(["session", "user", "from", "requested", "why"], "None.");
  const EXPIRED_SHOWN = 10;
  let passwords = false; // whether the policy allows password approvals
  // Rows of requests still pending stay as they are (with whatever scope is being typed);
  // new ones are added in the server's order, decided ones removed.
  const refresh = reader(
    () => Promise.all([api("GET", "/api/requests?state=pending"),
      approver(me) ? api("GET", "/api/policy") : null, api("GET", "/api/requests?state=expired")]),
    ([pending, policy, lapsed]) => {
      expired.set(lapsed.filter((r) => !r.grant).slice(-EXPIRED_SHOWN).reverse().map((r) => {
        const req = r.request ?? r;
        return [h("span", { class: "mono" }, req.id), req.user, req.source || "—", req.requested_at,
          h("span", {}, h("span", { class: "badge expired" }, "expired"), " ", r.reason)];
      }));
      passwords = policy?.policy?.allow_password_approval === true;
      const ids = new Set(pending.map((r) => (r.request ?? r).id));
      for (const [id, row] of rows) if (!ids.has(id)) { row.tr.remove(); rows.delete(id); }
      let next = null;
      for (const r of [...pending].reverse()) {
        const req = r.request ?? r;
        let row = rows.get(req.id);
        if (!row) {
          const decision = approver(me) ? decisionForm(req, req.requested_scope ?? {}, refresh) : null;
          const cells = [h("span", { class: "mono" }, req.id), req.user, req.source || "—", req.target, req.requested_at];
          if (decision) cells.push(decision.form);
          row = { tr: tableRow(cells), byPassword: decision ? decision.byPassword : [] };
          row.tr.dataset.session = req.id;
          rows.set(req.id, row);
          body.insertBefore(row.tr, next);
        }
        next = row.tr;
      }
      for (const row of rows.values()) for (const el of row.byPassword) el.hidden = !passwords;
      list.hidden = rows.size === 0;
      empty.hidden = rows.size !== 0;
    });
  await refresh();
  return { el: h("section", {}, h("h2", {}, "Pending requests"), list, empty,
    h("h3", {}, "Recently expired requests"),
    h("p", { class: "note" }, "These can no longer be approved. A requester that is still waiting has filed a new request above."),
    expired.el, expired.empty), refresh };
}

// --- sessions and history ---------------------------------------------------------------

export async function sessionsPage(me) {
  const list = liveTable(["session", "user", "target", "state", "grant expires", "recording"].concat(approver(me) ? ["action"] : []),
    "No approved or active sessions.");
  const recorder = h("p", { class: "bad", hidden: true });
  const refresh = reader(() => api("GET", "/api/sessions"), (data) => {
    recorder.hidden = data.recorder === "ok";
    recorder.textContent = data.recorder === "ok" ? "" : `recorder ${data.recorder}`;
    list.set(data.grants.map((g) => {
      const id = g.request?.id ?? g.id;
      const req = g.request ?? {};
      const cells = [h("span", { class: "mono" }, id), req.user ?? "", req.target ?? "", g.state, g.grant?.expires_at ?? "",
        g.recording ? g.recording.state : "not recording"];
      if (approver(me)) {
        cells.push(h("button", { type: "button", onclick: () => act(async () => {
          await api("POST", `/api/requests/${id}/revoke`, { reason: "revoked from the device page" });
          await refresh();
        }, `${id}: revoked`) }, "Revoke"));
      }
      return cells;
    }));
  });
  await refresh();
  return { el: h("section", {}, h("h2", {}, "Active sessions"), recorder, list.el, list.empty), refresh };
}

// Playback: each video.N part is a fragmented MP4 the device decrypts on the fly (the data
// key never leaves it); the audit stream is JSON lines, shown as a table.
const decryptor = auditor; // owner, admin, auditor: the roles the server lets decrypt

function playback(session, streams) {
  const el = h("div", { class: "playback" }, h("h4", {}, "Playback"));
  const base = `/api/history/${encodeURIComponent(session)}/streams/`;
  for (const s of streams.filter((x) => x.kind === "video")) {
    const video = h("video", { controls: true, preload: "metadata", src: base + encodeURIComponent(s.name),
      "aria-label": `Recording ${s.name}` });
    const status = h("p", { class: "note" });
    video.addEventListener("error", () => {
      status.textContent = `${s.name}: cannot be played here (${video.error ? video.error.message || video.error.code : "error"})`;
      status.className = "bad";
    });
    video.addEventListener("loadedmetadata", () => { status.textContent = `${s.name}: ${video.videoWidth}×${video.videoHeight}`; });
    el.append(h("h5", {}, s.name), video, status);
  }
  for (const s of streams.filter((x) => x.kind === "audit")) {
    const out = h("div");
    const show = h("button", { type: "button", onclick: () => act(async () => {
      const resp = await fetch(base + encodeURIComponent(s.name), { credentials: "same-origin" });
      if (!resp.ok) throw new Error(`audit: ${resp.status} ${resp.statusText}`);
      const events = (await resp.text()).split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
      const rows = events.slice(0, 500).map((e) => {
        const { t, type, ...rest } = e;
        return [t, type, h("code", {}, JSON.stringify(rest))];
      });
      out.replaceChildren(h("p", {}, `${events.length} audit event(s)` + (events.length > 500 ? ", first 500 shown" : "")),
        table(["time", "event", "details"], rows));
    }) }, "Show audit events");
    el.append(h("h5", {}, s.name), show, out);
  }
  return el;
}

export async function historyPage(me) {
  const detail = h("div", { class: "detail" });
  let shown = null; // the latest click: a slower answer for an earlier one is dropped
  const show = (s) => async () => {
    const mine = {};
    shown = mine;
    detail.replaceChildren(h("h3", {}, s.session, incomplete(s.complete) ? [" ", incompleteBadge()] : null));
    if (incomplete(s.complete)) detail.append(h("p", { class: "warn" }, INCOMPLETE_NOTE));
    if (!auditor(me)) return;
    const verdict = h("p", {}, "Verifying…");
    const restsOn = h("ul", { class: "rests-on", hidden: true, "aria-label": "What the verification rests on" });
    const sizes = h("p");
    const manifest = h("div");
    const player = h("div");
    detail.append(h("p", {}, h("a", { href: `/api/history/${s.session}/bundle`, download: `${s.session}.lucid` },
      "Download evidence bundle")), verdict, restsOn, sizes, player, manifest);
    // one call at a time: the manifest (quick), then the verification (exports the bundle)
    try {
      const doc = await api("GET", `/api/history/${s.session}/manifest`);
      const body = doc.manifest || doc;
      if (shown !== mine) return;
      const chunks = body.chunks || [];
      const recorded = chunks.reduce((sum, c) => sum + Number(c.plain_size || 0), 0);
      const stored = chunks.reduce((sum, c) => sum + Number(c.size || 0), 0);
      sizes.replaceChildren(`Recorded ${size(recorded)} (before compression); stored ${size(stored)} (compressed and encrypted).`);
      if (decryptor(me) && s.state === "sealed") player.replaceChildren(playback(s.session, body.streams || []));
      manifest.replaceChildren(h("h4", {}, "Manifest"), h("pre", {}, JSON.stringify(doc, null, 2)));
    } catch (err) {
      manifest.replaceChildren(h("p", { class: "bad" }, err.message));
    }
    if (shown !== mine) return;
    try {
      // the words of `lucid verify FILE --trust TRUST.json` with this device's trust file
      // (Device page): its OK line and the lines under it, or its FAILED line
      const v = await api("GET", `/api/history/${s.session}/verify`);
      if (shown !== mine) return;
      verdict.textContent = v.ok ? `Verified: ${v.summary}` : `FAILED ${s.session}.lucid: ${v.item}: ${v.message}`;
      verdict.className = v.ok ? "ok" : "bad";
      if (v.ok && incomplete(v.complete)) verdict.append(" ", incompleteBadge());
      restsOn.replaceChildren(...(v.ok ? v.lines : []).map((line) => h("li", {}, line)));
      restsOn.hidden = !v.ok;
    } catch (err) {
      verdict.textContent = err.message;
      verdict.className = "bad";
    }
  };
  const list = liveTable(["session", "state", "chunks", "stored size", "sealed", "root"], "No recorded sessions yet.");
  list.el.querySelectorAll("th")[3].title = "compressed and encrypted, as kept on the device; the session's detail shows the recorded size";
  const refresh = reader(() => api("GET", "/api/history"), (sessions) => {
    list.set(sessions.map((s) => [
      h("button", { type: "button", onclick: show(s) }, s.session),
      h("span", {}, h("span", { class: `badge ${s.state}` }, s.state), incomplete(s.complete) ? [" ", incompleteBadge()] : null),
      s.chunks, h("span", { title: `${s.bytes} bytes` }, size(s.bytes)), when(s.sealed_at), h("span", { class: "mono" }, s.root)]));
  });
  await refresh();
  return { el: h("section", {}, h("h2", {}, "History"),
    h("p", { class: "note" }, decryptor(me) ? "Pick a session to verify it, play it back (decrypted on this device) or download its evidence."
      : "Your role sees which sessions were recorded; playback and evidence are for auditors and admins."),
    list.el, list.empty, detail), refresh };
}

// --- device -----------------------------------------------------------------------------

// Auditor recipients: every session recorded after a key is added is also wrapped to it, so
// its holder can play exported bundles (`lucid play FILE --key auditor.key`). Earlier
// sessions stay readable by the device only.
export async function keysPage(me) {
  const deviceKeys = h("div");
  const recipients = h("div");
  const owner = me.role === "owner";
  const result = h("p", { class: "code" });
  const form = h("form", { class: "recipient" }, h("h3", {}, "Add an auditor recipient"),
    h("p", { class: "note" }, "Make a key where the auditor will keep it: ",
      h("code", {}, "lucid keys auditor new -o auditor.key"),
      " prints its public key; paste that here. Sessions recorded from now on open with ",
      h("code", {}, "lucid play BUNDLE --key auditor.key"), "; earlier sessions do not."),
    field("Public key (X25519, 64 hex digits)", "x25519", "text",
      { required: true, pattern: "[0-9a-fA-F]{64}", autocomplete: "off", spellcheck: "false" }),
    field("Label (optional)", "label", "text", { maxlength: 64 }),
    h("button", { type: "submit" }, "Add recipient"), result);
  form.addEventListener("submit", (e) => { e.preventDefault(); act(async () => {
    const added = await api("POST", "/api/keys/recipients", formData(form));
    form.reset();
    result.replaceChildren("Added ", h("code", {}, added.fingerprint),
      ": sessions recorded from now on are readable with its key.");
    await refresh();
  }, "recipient added"); });
  const refresh = reader(() => api("GET", "/api/keys"), (keys) => {
    const d = keys.device;
    deviceKeys.replaceChildren(
      table(null, [["fingerprint", h("code", {}, d.fingerprint)], ["Ed25519 (signs manifests)", h("code", {}, d.ed25519)],
        ["X25519 (device recipient)", h("code", {}, d.x25519)], ["backend", d.backend]]));
    recipients.replaceChildren(keys.recipients.length
      ? table(["fingerprint", "label", "added by", "added", "X25519"], keys.recipients.map((r) => [
        r.fingerprint, r.label || "—", r.source === "config" ? "configuration file" : r.added_by,
        when(r.added_at), h("code", {}, r.x25519)]))
      : h("p", {}, owner ? "None yet: only the device can open recordings. Add an auditor's key below to play exported sessions elsewhere."
        : "None: only the device can open recordings."));
  });
  await refresh();
  return { el: h("section", {}, h("h2", {}, "Device keys"), deviceKeys,
    h("h3", {}, "Auditor recipients"),
    h("p", { class: "note" }, "Each session recorded is also readable with these keys (the device's own key always reads it)."),
    recipients, owner ? form : null), refresh };
}

// The trust file auditors verify bundles against (`lucid verify FILE --trust TRUST.json`):
// the device key and the approvers' passkeys. Its fingerprint is shown to compare with the
// device's console and `lucid trust export`: what makes the file worth trusting is how it
// was obtained.
function trustExport(trust) {
  const passkeys = trust.approvers.reduce((n, a) => n + a.passkeys.length, 0);
  return [h("h3", {}, "Trust file"),
    table(null, [["device", trust.device.name], ["fingerprint", h("code", {}, trust.device.fingerprint)],
      ["approvers", `${trust.approvers.map((a) => a.account).join(", ") || "none"} (${passkeys} passkey(s))`]]),
    h("p", {}, h("a", { href: "/api/device/trust", download: "" }, "Download trust file")),
    h("p", { class: "note" }, "Auditors check exported bundles with ", h("code", {}, "lucid verify BUNDLE --trust TRUST.json"),
      ". Compare the fingerprint above with the one ", h("code", {}, "lucid trust export"),
      " prints on the device before relying on the file.")];
}

export async function devicePage(me) {
  const section = h("section");
  const gib = (n) => `${(n / 2 ** 30).toFixed(1)} GiB`;
  const refresh = reader(() => Promise.all([api("GET", "/api/device"), auditor(me) ? api("GET", "/api/device/trust") : null]), ([d, trust]) => {
    const rdp = d.rdp ? [h("h3", {}, "Remote desktop (RDP)"),
      table(null, [["connect to", h("code", {}, d.rdp.address)],
        ["certificate SHA-256", h("code", {}, d.rdp.fingerprint_sha256)]]),
      h("p", { class: "note" }, "Users connect with any RDP client and wait on a screen that names their request " +
        "until it is approved on the Requests page; check the fingerprint when the client asks to trust the certificate.")]
      : [h("p", { class: "note" }, "No RDP host is running on this device.")];
    section.replaceChildren(h("h2", {}, "Device"), h("p", {}, "Web address: ", h("code", {}, d.url)), ...rdp,
      h("h3", {}, "Daemons"),
      table(["daemon", "state", "detail", "bus name"], d.daemons.map((x) => {
        const row = [x.daemon, h("span", { class: `badge ${x.state}` }, x.state),
          x.detail || (x.running ? "running" : "not running"), h("span", { class: "mono" }, x.bus_name)];
        return row;
      })),
      h("h3", {}, "Storage"), table(["path", "used", "free", "total"], d.storage.map((s) => [s.path, gib(s.used), gib(s.free), gib(s.total)])),
      ...(trust ? trustExport(trust) : []),
      h("h3", {}, "Versions"), table(null, Object.entries(d.versions)));
  });
  await refresh();
  return { el: section, refresh };
}

// --- accounts and policy ----------------------------------------------------------------

export async function accountsPage(me) {
  const list = liveTable(["account", "role", "password", "TOTP", "passkeys"], "No accounts.");
  const result = h("p", { class: "code" });
  const invite = h("form", {}, h("h3", {}, "Invite"), field("Account name", "account", "text", { required: true }),
    h("label", {}, "Role ", h("select", { name: "role" },
      (me.role === "owner" ? ["admin", "auditor", "viewer", "owner"] : ["auditor", "viewer"]).map((r) => h("option", {}, r)))),
    h("button", { type: "submit" }, "Create invitation code"), result);
  invite.addEventListener("submit", (e) => { e.preventDefault(); act(async () => {
    const inv = await api("POST", "/api/accounts", formData(invite));
    result.replaceChildren("Code for ", inv.account, " (shown once): ", h("code", {}, inv.code));
  }, "invitation created"); });
  const refresh = reader(() => api("GET", "/api/accounts"), (accounts) => {
    list.set(accounts.map((a) => [a.account, a.role, a.password ? "yes" : "no", a.totp ? "yes" : "no",
      String(a.approval_passkeys.length)]));
  });
  await refresh();
  return { el: h("section", {}, h("h2", {}, "Accounts"), list.el, list.empty, invite), refresh };
}

// The policy as a form for the fields people change, and the whole document as JSON
// (origins, rp_id) for the rest; either saves a new version (owner only).
export async function policyPage(me, page) {
  const { policy, hash } = await api("GET", "/api/policy");
  const owner = me.role === "owner";
  const { version, ...editable } = policy;
  const ceiling = editable.scope_ceiling;
  const number = (label, name, value, min, hint) => {
    const id = uid(name);
    return [h("label", { for: id, title: hint }, label),
      h("input", { id, name, type: "number", value, min, step: 1, required: true, disabled: !owner })];
  };
  const box = (name, label, checked) => h("label", { class: "check" },
    h("input", { type: "checkbox", name, checked: !!checked, disabled: !owner }), label);
  const form = h("form", { class: "policy" },
    h("fieldset", {}, h("legend", {}, "Approvals"),
      h("div", { class: "pairs" },
        number("Approvers required", "approvers_required", editable.approvers_required, 1, "distinct approvers per request"),
        number("Request expires after (s)", "request_timeout_s", editable.request_timeout_s, 1, "a pending request expires after this"),
        number("Approval window (s, 0 = off)", "approval_window_s", editable.approval_window_s, 0,
          "an approval is re-used for the same user and target within this time")),
      h("div", { class: "checks" },
        box("require_user_verification", "passkeys must verify the user (PIN, biometrics)", editable.require_user_verification),
        box("allow_password_approval", "allow approving with a password", editable.allow_password_approval))),
    h("fieldset", {}, h("legend", {}, "Most a grant may allow"),
      h("div", { class: "pairs" },
        number("Grant lifetime (s)", "ttl_s", ceiling.ttl_s, 1, "an approved grant expires after this unless used"),
        number("Longest session (s)", "max_duration_s", ceiling.max_duration_s, 1, "a recording ends after this")),
      h("div", { class: "checks" }, box("clipboard", "clipboard", ceiling.clipboard),
        box("file_transfer", "file transfer", ceiling.file_transfer), box("drives", "drives", ceiling.drives))),
    owner ? h("button", { type: "submit" }, "Save policy") : h("p", { class: "note" }, "Only the owner changes the policy."));
  form.addEventListener("submit", (e) => { e.preventDefault(); act(async () => {
    const d = formData(form);
    const int = (name) => Number(d[name]);
    const next = { ...editable,
      approvers_required: int("approvers_required"), request_timeout_s: int("request_timeout_s"),
      approval_window_s: int("approval_window_s"),
      require_user_verification: "require_user_verification" in d, allow_password_approval: "allow_password_approval" in d,
      scope_ceiling: { ttl_s: int("ttl_s"), max_duration_s: int("max_duration_s"),
        clipboard: "clipboard" in d, file_transfer: "file_transfer" in d, drives: "drives" in d } };
    await api("PUT", "/api/policy", next);
    await page.reload();
  }, "policy saved"); });
  const text = h("textarea", { rows: 20, cols: 80, readonly: !owner, "aria-label": "Policy JSON" });
  text.value = JSON.stringify(editable, null, 2);
  const json = h("details", { class: "json" }, h("summary", {}, "JSON (every field, including origins and rp_id)"), text,
    owner ? h("button", { type: "button", onclick: () => act(async () => {
      await api("PUT", "/api/policy", text.value); await page.reload();
    }, "policy saved") }, "Save JSON") : null);
  return { el: h("section", {}, h("h2", {}, `Policy v${version}`), h("p", {}, "hash ", h("code", {}, hash)), form, json) };
}

export async function accountPage(_me, page) {
  const me = await api("GET", "/api/me"); // fresh: passkeys and TOTP change here
  const pw = h("form", {}, h("h3", {}, me.password ? "Change password" : "Set a password"),
    me.password ? field("Current password", "current", "password") : null,
    field("New password (10+ characters)", "new", "password", { required: true }),
    me.totp ? field("TOTP code", "totp", "text") : null, h("button", { type: "submit" }, "Save"));
  pw.addEventListener("submit", (e) => { e.preventDefault(); act(() => api("POST", "/api/me/password", formData(pw)), "password saved"); });
  const totp = h("div");
  if (me.totp) {
    const off = h("form", {}, field("TOTP code", "code", "text"), h("button", { type: "submit" }, "Turn TOTP off"));
    off.addEventListener("submit", (e) => { e.preventDefault(); act(async () => { await api("DELETE", "/api/me/totp", formData(off)); await page.reload(); }, "TOTP off"); });
    totp.append(off);
  } else {
    totp.append(h("button", { type: "button", onclick: () => act(async () => {
      const begun = await api("POST", "/api/me/totp");
      const confirm = h("form", {}, h("p", {}, "Add this secret to an authenticator app: ", h("code", {}, begun.secret)),
        h("p", { class: "mono" }, begun.uri), field("Current code", "code", "text"), h("button", { type: "submit" }, "Confirm"));
      confirm.addEventListener("submit", (e) => { e.preventDefault(); act(async () => {
        await api("POST", `/api/me/totp/${begun.flow}`, formData(confirm)); await page.reload(); }, "TOTP on"); });
      totp.replaceChildren(confirm);
    }, "") }, "Turn TOTP on"));
  }
  const passkey = h("button", { type: "button", onclick: () => act(async () => {
    const begun = await api("POST", "/api/me/passkeys");
    await api("POST", `/api/me/passkeys/${begun.flow}`, await create(begun.publicKey));
    await page.reload();
  }, "passkey added") }, "Add a passkey");
  return { el: h("section", {}, h("h2", {}, `${me.account} (${me.role})`),
    h("p", {}, `${me.passkeys.length} passkey(s) for login; login ends ${when(me.expires_at)}.`), passkey, pw, h("h3", {}, "TOTP"), totp) };
}
