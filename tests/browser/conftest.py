"""The device page in a real browser: Debian's Chromium under Playwright, the real daemons.

Each test gets the whole daemon set (walletd, gatekeeper, recorder, chunker, encryptor,
merkle, admin_ui) on its own private bus, and a fresh browser context with one page and a
Chromium *virtual authenticator* (CDP ``WebAuthn``): a platform passkey with resident keys
and user verification that answers ``navigator.credentials`` by itself. One Chromium runs
per test module (the module's event loop drives it), so every async fixture here runs on
the module's loop; `bus_address`, `bus` and `lucid` are the shared ones, re-declared for it.

The page is served on 127.0.0.1 but opened as ``http://localhost:PORT``: WebAuthn refuses IP
addresses, and localhost is a secure context. Nothing leaves loopback (Chromium runs with
background networking, component updates and sync off). There is no fixed wait anywhere:
Playwright's auto-waiting and ``expect`` with generous timeouts decide.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import load_der_private_key
from dbus_fast.aio import MessageBus
from playwright.async_api import Browser, BrowserContext, CDPSession, Page, async_playwright, expect

from lucid.gatekeeper.client import GatekeeperClient
from lucid.runtime.bus import connect
from lucid.runtime.supervisor import DaemonSet, start_private_bus
from tests.conftest import LucidEnv

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DAEMONS = ("walletd", "gatekeeper", "recorder", "chunker", "encryptor", "merkle", "admin_ui")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
TIMEOUT_MS = 60_000  # generous: a slow machine waits longer, nothing passes or fails on time
SEAL_TIMEOUT_MS = 180_000  # record -> chunk -> encrypt -> seal, then the page re-reads
ES256, ED25519 = -7, -8
ALGORITHMS = {ES256: "ES256", ED25519: "Ed25519"}

expect.set_options(timeout=TIMEOUT_MS)


# --- the shared fixtures, on the module's event loop ------------------------------------


@pytest_asyncio.fixture(loop_scope="module")
async def bus_address(tmp_path: Path) -> AsyncIterator[str]:
    proc, address = await start_private_bus(tmp_path / "bus")
    yield address
    proc.terminate()
    await proc.wait()


@pytest_asyncio.fixture(loop_scope="module")
async def bus(bus_address: str) -> AsyncIterator[MessageBus]:
    conn = await connect(bus_address)
    yield conn
    conn.disconnect()


@pytest_asyncio.fixture(loop_scope="module")
async def lucid(tmp_path: Path, bus_address: str) -> AsyncIterator[LucidEnv]:
    env = LucidEnv(tmp_path, bus_address)
    yield env
    for ds in env.sets:
        await ds.close()
    shutil.rmtree(env.spool.parent, ignore_errors=True)


# --- Chromium ----------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium() -> AsyncIterator[Browser]:
    """One headless Chromium for the module; fails (never skips) without /usr/bin/chromium."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (`make setup` does, "
            "from scripts/apt-packages.txt)",
            pytrace=False,
        )
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


# --- the appliance -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Device:
    env: LucidEnv
    daemons: DaemonSet
    origin: str  # what the browser opens: http://localhost:PORT
    gatekeeper: GatekeeperClient

    def setup_code(self) -> str:
        return self.setup_code_file().read_text().strip()

    def setup_code_file(self) -> Path:
        return self.env.state / "gatekeeper" / "setup-code"

    async def request(self, session: str) -> dict[str, Any]:
        """Gatekeeper's own record of a request (over the bus, not through the page)."""
        data = json.loads(await self.gatekeeper.get_request(session))
        assert isinstance(data, dict)
        return data

    async def file_request(self, session: str, user: str = "u1") -> None:
        """What an incoming remote-desktop connection does: ask gatekeeper for a session."""
        await self.gatekeeper.request_session(
            {
                "id": session,
                "user": user,
                "source": "10.0.0.5",
                "target": "t1",
                "requested_scope": {
                    "ttl_s": 600,
                    "max_duration_s": 600,
                    "clipboard": False,
                    "file_transfer": False,
                    "drives": False,
                },
            }
        )


@pytest_asyncio.fixture(loop_scope="module")
async def device(lucid: LucidEnv, bus: MessageBus) -> Device:
    port = free_port()
    origin = f"http://localhost:{port}"
    lucid.set("admin_ui", "port", str(port))
    lucid.set("gatekeeper", "origins", origin)
    lucid.set("gatekeeper", "tick_s", "0.1")
    lucid.set("recorder", "require_grant", "true")  # default deny, as on the device
    lucid.set("chunker", "chunk_bytes", str(64 * 1024))  # seal a short recording quickly
    lucid.set("chunker", "flush_seconds", "1.0")
    ds = await lucid.start(*DAEMONS)
    url = (lucid.state / "admin_ui" / "url").read_text().strip()
    assert url == origin + "/", url
    return Device(lucid, ds, origin, GatekeeperClient(bus))


# --- a browser tab with a passkey --------------------------------------------------------

# Offers the authenticator only one algorithm of the two gatekeeper lists (-7 ES256, -8
# Ed25519): as if the person's authenticator supported just that one. Chromium's virtual
# authenticator can make both; without this it takes the first one offered.
_ONLY_ALGORITHM = """
(alg) => {
  const container = navigator.credentials;
  const create = container.create.bind(container);
  container.create = (options) => {
    if (options && options.publicKey) {
      options.publicKey.pubKeyCredParams =
        options.publicKey.pubKeyCredParams.filter((p) => p.alg === alg);
    }
    return create(options);
  };
}
"""


# Counts the ``hello`` each event stream of the page starts with (the server sends it right
# after subscribing the stream to the bus signals, so from then on nothing is missed), and
# notes every other event the page hears with the page's update count at that moment
# (``main[data-updates]``, bumped each time the page finished re-reading its lists). These
# listeners are added before the page's own, so they run first.
_WATCH_EVENTS = """
(() => {
  const Native = window.EventSource;
  window.__lucidHellos = 0;
  window.__lucidHeard = [];
  const updates = () => Number(document.getElementById("main")?.dataset.updates || 0);
  window.EventSource = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("hello", () => { window.__lucidHellos += 1; });
      for (const name of ["RequestFiled", "RequestDecided", "GrantEnded", "SessionSealed"]) {
        this.addEventListener(name, (e) => {
          window.__lucidHeard.push({ name, session: JSON.parse(e.data).session, updates: updates() });
        });
      }
    }
  };
})();
"""

_UPDATED_SINCE = """
([name, session]) => {
  const heard = window.__lucidHeard.find((e) => e.name === name && e.session === session);
  const updates = Number(document.getElementById("main").dataset.updates || 0);
  return heard !== undefined && updates > heard.updates;
}
"""


@dataclass
class Authenticator:
    """A Chromium virtual authenticator attached to one page (CDP ``WebAuthn`` domain)."""

    cdp: CDPSession
    id: str

    @classmethod
    async def attach(cls, page: Page) -> Authenticator:
        cdp = await page.context.new_cdp_session(page)
        await cdp.send("WebAuthn.enable", {"enableUI": False})
        added = await cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )
        return cls(cdp, str(added["authenticatorId"]))

    async def credentials(self) -> list[dict[str, Any]]:
        got = await self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})
        return list(got["credentials"])

    async def add(self, credential: dict[str, Any]) -> None:
        """Seed a known credential (as exported by `credentials`) into this authenticator."""
        await self.cdp.send(
            "WebAuthn.addCredential", {"authenticatorId": self.id, "credential": credential}
        )


def credential_algorithm(credential: dict[str, Any]) -> int:
    """The COSE algorithm of a CDP credential, from its PKCS#8 private key."""
    key = load_der_private_key(base64.b64decode(credential["privateKey"]), password=None)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return ED25519
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1", key
    return ES256


@dataclass
class Tab:
    context: BrowserContext
    page: Page
    authenticator: Authenticator
    device: Device

    async def only_algorithm(self, alg: int) -> None:
        """From the next page load on, passkeys made here use ``alg`` (ES256 or Ed25519)."""
        await self.page.add_init_script(f"({_ONLY_ALGORITHM})({alg})")

    async def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path


async def open_tab(chromium: Browser, device: Device) -> Tab:
    context = await chromium.new_context(
        base_url=device.origin, accept_downloads=True, viewport={"width": 1280, "height": 800}
    )
    context.set_default_timeout(TIMEOUT_MS)
    await context.add_init_script(_WATCH_EVENTS)
    page = await context.new_page()
    return Tab(context, page, await Authenticator.attach(page), device)


@pytest_asyncio.fixture(loop_scope="module")
async def tab(chromium: Browser, device: Device) -> AsyncIterator[Tab]:
    opened = await open_tab(chromium, device)
    try:
        yield opened
    finally:
        await opened.context.close()


# --- what a person does on the page -----------------------------------------------------


async def claim(tab: Tab, account: str = "alice", password: str = "") -> None:
    """First visit: claim the device with its setup code and a new passkey."""
    page = tab.page
    await page.goto("/")
    await expect(page.get_by_role("heading", name="Claim this device")).to_be_visible()
    await page.get_by_label("Setup code").fill(tab.device.setup_code())
    await page.get_by_label("Account name").fill(account)
    if password:
        await page.get_by_label("Password (optional").fill(password)
    await page.get_by_role("button", name="Register passkey and claim").click()
    await expect(page.get_by_role("heading", name="Pending requests")).to_be_visible()
    await listening(tab)


async def listening(tab: Tab, streams: int = 1) -> None:
    """Wait until the page's event stream is subscribed (its ``hello`` arrived), or has
    been subscribed ``streams`` times (it reconnected)."""
    await tab.page.wait_for_function("(n) => window.__lucidHellos >= n", arg=streams)


async def updated_after(tab: Tab, event: str, session: str) -> None:
    """Wait until the page heard ``event`` about ``session`` and re-read its lists since."""
    await tab.page.wait_for_function(_UPDATED_SINCE, arg=[event, session])


async def visit(tab: Tab, link: str, heading: str) -> None:
    """Follow a link of the page's navigation and wait for the page it shows."""
    page = tab.page
    await page.get_by_role("navigation").get_by_role("link", name=link, exact=True).click()
    await expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()


def status(tab: Tab) -> Any:
    """The page's status line (role=status): what the last action did, or its error."""
    return tab.page.get_by_role("status")


async def status_now(tab: Tab) -> str:
    """The status line's text right now (no waiting)."""
    return str(await tab.page.locator("#status").text_content() or "")


def row(tab: Tab, session: str) -> Any:
    """The table row of ``session`` on the current page."""
    return tab.page.get_by_role("row").filter(has_text=session)


async def mark_document(tab: Tab) -> None:
    """Tag the loaded document; `still_same_document` fails if the page was reloaded since."""
    await tab.page.evaluate("() => { window.__lucidNoReload = true; }")


async def still_same_document(tab: Tab) -> bool:
    return bool(await tab.page.evaluate("() => window.__lucidNoReload === true"))


async def approve(tab: Tab, session: str) -> None:
    """Approve a pending request with the passkey, from the requests page."""
    await row(tab, session).get_by_role("button", name="Approve with passkey").click()
    await expect(status(tab)).to_have_text(f"{session}: approve signed")
    await expect(row(tab, session)).to_have_count(0)
