// Boot: find out whether the device is claimed and who is logged in, then show a page.
// Live updates come from /api/events: each event (and the stream's opening "hello", sent
// again on every reconnect) asks the page on screen to re-read its lists in place; what
// the person is doing there (a scope being edited, an open detail pane, a code just
// shown) stays as it is.
import { api, say, setCsrf, newPage, ApiError } from "./api.js";
import { enrollView, loginView, setupView } from "./auth.js";
import * as pages from "./pages.js";

const PAGES = { requests: pages.requestsPage, sessions: pages.sessionsPage, history: pages.historyPage,
  keys: pages.keysPage, device: pages.devicePage, accounts: pages.accountsPage, policy: pages.policyPage,
  account: pages.accountPage };
const LIVE = ["hello", "RequestFiled", "RequestDecided", "GrantEnded", "SessionSealed", "resync"];
const RECONNECT_MS = 3000;
const main = document.getElementById("main");
let me = null;
let events = null;
let current = null; // the page on screen: { el, refresh? }
let building = 0; // counts page builds: only the latest one is shown
let missed = false; // an event came while a page was being built
let updates = 0; // live updates applied (main's data-updates, for tests and debugging)

function show(el) { main.replaceChildren(el); }

function expired(err) { return err instanceof ApiError && err.status === 401; }

// Re-read the lists of the page on screen; coalesces events that come while one runs.
function update() {
  const page = current;
  if (!page) { missed = true; return; }
  if (page.busy) { page.again = true; return; }
  page.busy = true;
  (async () => {
    try {
      do {
        page.again = false;
        if (page.refresh) await page.refresh();
      } while (page.again && page === current);
    } catch (err) {
      if (expired(err)) return location.reload();
      if (page === current) say(err.message, true);
    } finally {
      page.busy = false;
      if (page === current) main.dataset.updates = String(++updates);
    }
  })();
}

function listen() {
  const source = new EventSource("/api/events");
  events = source;
  for (const name of LIVE) source.addEventListener(name, update);
  source.addEventListener("logout", () => location.reload());
  source.addEventListener("error", () => {
    // While CONNECTING the browser reconnects by itself (its "hello" then catches up);
    // CLOSED means it gave up (an HTTP error): check the login, then open a new stream.
    if (source.readyState !== EventSource.CLOSED || events !== source) return;
    events = null;
    const retry = async () => {
      try {
        await api("GET", "/api/me");
        listen();
      } catch (err) {
        if (expired(err)) return location.reload();
        setTimeout(retry, RECONNECT_MS);
      }
    };
    setTimeout(retry, RECONNECT_MS);
  });
}

async function loggedIn() {
  me = await api("GET", "/api/me");
  setCsrf(me.csrf);
  const nav = document.getElementById("nav");
  nav.hidden = false;
  for (const a of nav.querySelectorAll("a[data-roles]")) a.hidden = !a.dataset.roles.split(" ").includes(me.role);
  if (!events) listen();
  if (!location.hash || location.hash === "#enroll") location.hash = "#requests";
  await render();
}

// Build the current page anew. A navigation also clears the status line; a page's own
// action (reload) keeps it, so that the action can say how it went.
async function render({ navigation = true } = {}) {
  const mine = ++building;
  if (navigation) newPage();
  current = null;
  missed = false;
  const name = location.hash.slice(1) || "requests";
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("current", a.hash === location.hash);
  const build = PAGES[name] || PAGES.requests;
  try {
    const page = await build(me, { reload: () => render({ navigation: false }) });
    if (mine !== building) return;
    current = page;
    show(page.el);
    if (missed) update();
  } catch (err) {
    if (mine !== building) return;
    if (expired(err)) return location.reload();
    say(err.message, true);
  }
}

async function boot() {
  const setup = await api("GET", "/api/setup");
  if (!setup.onboarded) return show(setupView(() => loggedIn()));
  try {
    await loggedIn();
  } catch (err) {
    if (!expired(err)) return say(err.message, true);
    const route = () => {
      newPage();
      show(location.hash === "#enroll" ? enrollView(() => loggedIn()) : loginView(() => loggedIn()));
    };
    window.addEventListener("hashchange", () => { if (!me) route(); });
    route();
  }
}

window.addEventListener("hashchange", () => { if (me) render(); });
document.getElementById("logout").addEventListener("click", async () => {
  try { await api("POST", "/api/logout"); } finally { location.hash = ""; location.reload(); }
});
boot().catch((err) => say(err.message, true));
