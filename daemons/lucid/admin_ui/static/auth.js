// Onboarding, enrollment and login views (before there is a login).
import { api, field, formData, h, say } from "./api.js";
import { create, get } from "./webauthn.js";

function form(title, fields, submit, onsubmit) {
  const el = h("form", {}, h("h2", {}, title), ...fields, h("button", { type: "submit" }, submit));
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    say("");
    try { await onsubmit(formData(el)); } catch (err) { say(err.message, true); }
  });
  return el;
}

function withoutEmpty(data) {
  return Object.fromEntries(Object.entries(data).filter(([, v]) => v !== ""));
}

export function setupView(done) {
  return h("section", {},
    h("p", {}, "This device has no owner yet. Enter the setup code it shows (on its console, or ",
      "in gatekeeper's state directory), choose an account name, and register a passkey. ",
      "A password is optional: it is a fallback for logging in."),
    form("Claim this device", [
      field("Setup code", "setup_code", "text", { required: true, autocomplete: "off" }),
      field("Account name", "account", "text", { required: true, autocomplete: "username" }),
      field("Password (optional, 10+ characters)", "password", "password", { autocomplete: "new-password" }),
    ], "Register passkey and claim", async (data) => {
      const begun = await api("POST", "/api/setup", withoutEmpty(data));
      const credential = await create(begun.publicKey);
      await done(await api("POST", `/api/setup/${begun.flow}`, credential));
    }));
}

export function loginView(done) {
  const passkey = h("button", { type: "button" }, "Log in with a passkey");
  passkey.addEventListener("click", async () => {
    try {
      const begun = await api("POST", "/api/login/passkey");
      await done(await api("POST", `/api/login/passkey/${begun.flow}`, await get(begun.publicKey)));
    } catch (err) { say(err.message, true); }
  });
  return h("section", {}, passkey,
    form("Log in with a password", [
      field("Account", "account", "text", { required: true, autocomplete: "username" }),
      field("Password", "password", "password", { required: true, autocomplete: "current-password" }),
      field("TOTP code (if on)", "totp", "text", { inputmode: "numeric", autocomplete: "one-time-code" }),
    ], "Log in", async (data) => done(await api("POST", "/api/login", withoutEmpty(data)))),
    h("p", {}, h("a", { href: "#enroll" }, "I have an invitation code")));
}

export function enrollView(done) {
  return h("section", {},
    form("Join with an invitation", [
      field("Account name", "account", "text", { required: true }),
      field("Invitation code", "code", "text", { required: true, autocomplete: "off" }),
      field("Password (10+ characters; required without a passkey)", "password", "password", { autocomplete: "new-password" }),
      h("label", {}, h("input", { type: "checkbox", name: "passkey", checked: true }), " register a passkey"),
    ], "Join", async (data) => {
      const { passkey, ...rest } = data;
      if (!passkey) return done(await api("POST", "/api/enroll", rest));
      const begun = await api("POST", "/api/enroll/passkey", withoutEmpty(rest));
      return done(await api("POST", `/api/enroll/passkey/${begun.flow}`, await create(begun.publicKey)));
    }));
}
