// Boot: find out whether the device is claimed and who is logged in, then show a page;
// live updates come from /api/events (hints: the page re-reads the API on each).
import { api, say, setCsrf, ApiError } from "./api.js";
import { enrollView, loginView, setupView } from "./auth.js";
import * as pages from "./pages.js";

const PAGES = { requests: pages.requestsPage, sessions: pages.sessionsPage, history: pages.historyPage,
  keys: pages.keysPage, device: pages.devicePage, accounts: pages.accountsPage, policy: pages.policyPage,
  account: pages.accountPage };
let me = null;
let events = null;

function show(el) { document.getElementById("main").replaceChildren(el); }

async function loggedIn() {
  me = await api("GET", "/api/me");
  setCsrf(me.csrf);
  const nav = document.getElementById("nav");
  nav.hidden = false;
  for (const a of nav.querySelectorAll("a[data-roles]")) a.hidden = !a.dataset.roles.split(" ").includes(me.role);
  if (!events) {
    events = new EventSource("/api/events");
    for (const name of ["RequestFiled", "RequestDecided", "GrantEnded", "SessionSealed", "resync"]) {
      events.addEventListener(name, () => render());
    }
    events.addEventListener("logout", () => location.reload());
  }
  if (!location.hash || location.hash === "#enroll") location.hash = "#requests";
  await render();
}

async function render() {
  const name = location.hash.slice(1) || "requests";
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("current", a.hash === location.hash);
  const page = PAGES[name] || PAGES.requests;
  try {
    show(await page(me, render));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return location.reload();
    say(err.message, true);
  }
}

async function boot() {
  const setup = await api("GET", "/api/setup");
  if (!setup.onboarded) return show(setupView(() => loggedIn()));
  try {
    await loggedIn();
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) return say(err.message, true);
    const route = () => show(location.hash === "#enroll" ? enrollView(() => loggedIn()) : loginView(() => loggedIn()));
    window.addEventListener("hashchange", () => { if (!me) route(); });
    route();
  }
}

window.addEventListener("hashchange", () => { if (me) { say(""); render(); } });
document.getElementById("logout").addEventListener("click", async () => {
  try { await api("POST", "/api/logout"); } finally { location.hash = ""; location.reload(); }
});
boot().catch((err) => say(err.message, true));
