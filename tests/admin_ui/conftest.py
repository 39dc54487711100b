"""admin-ui under test: the real daemons on a private bus, the real page over real HTTP.

`Browser` is an aiohttp client that behaves like the page's JavaScript: it sends the
``Origin`` of the page on state changes and the login's CSRF token from ``/api/me``, and
answers WebAuthn ceremonies with a `SoftPasskey` exactly as a browser's
``PublicKeyCredential.toJSON()`` would.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from lucid.evidence.softpasskey import SoftPasskey
from lucid.runtime.supervisor import DaemonSet
from tests.conftest import LucidEnv

DAEMONS = ("walletd", "gatekeeper", "recorder", "merkle", "admin_ui")
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Ui:
    env: LucidEnv
    daemons: DaemonSet
    base: str  # where the test connects: http://127.0.0.1:PORT
    origin: str  # what the browser would show: http://localhost:PORT
    port: int

    def setup_code(self) -> str:
        return (self.env.state / "gatekeeper" / "setup-code").read_text().strip()


@dataclass
class Browser:
    ui: Ui
    http: aiohttp.ClientSession
    csrf: str = ""
    passkey: SoftPasskey | None = None
    account: str = ""
    extra_headers: dict[str, str] = field(default_factory=dict)

    def headers(self, method: str) -> dict[str, str]:
        out = dict(self.extra_headers)
        if method not in ("GET", "HEAD"):
            out.setdefault("Origin", self.ui.origin)
            if self.csrf:
                out.setdefault("X-CSRF-Token", self.csrf)
        return out

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"headers": self.headers(method) | (headers or {})}
        if body is not None:
            kwargs["json"] = body
        async with self.http.request(method, self.ui.base + path, **kwargs) as resp:
            data = (
                await resp.json() if resp.content_type == "application/json" else await resp.read()
            )
            return resp.status, data

    async def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        got, data = await self.call(method, path, body)
        assert got == status, (method, path, got, data)
        return data

    async def refresh_csrf(self) -> None:
        self.csrf = (await self.ok("GET", "/api/me"))["csrf"]

    async def onboard(self, account: str = "alice", password: str | None = PASSWORD) -> Any:
        """Claim the device as the owner with the setup code and a new soft passkey."""
        body: dict[str, Any] = {"account": account, "setup_code": self.ui.setup_code()}
        if password:
            body["password"] = password
        begun = await self.ok("POST", "/api/setup", body)
        self.passkey = SoftPasskey.generate()
        credential = self.passkey.register(begun["publicKey"], self.ui.origin)
        result = await self.ok("POST", f"/api/setup/{begun['flow']}", credential, 201)
        self.csrf, self.account = result["csrf"], account
        return result

    async def login(self, account: str, password: str = PASSWORD) -> Any:
        result = await self.ok("POST", "/api/login", {"account": account, "password": password})
        self.csrf, self.account = result["csrf"], account
        return result


async def new_browser(ui: Ui) -> aiohttp.ClientSession:
    # unsafe=True: keep cookies for an IP host (127.0.0.1), as a browser would for localhost.
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


@pytest.fixture
def ui_settings() -> dict[str, str]:
    """admin_ui config overrides; a test module may override this fixture."""
    return {"login_attempts": "3"}


@pytest.fixture
async def ui(lucid: LucidEnv, ui_settings: dict[str, str]) -> AsyncIterator[Ui]:
    port = free_port()
    origin = f"http://localhost:{port}"
    lucid.set("admin_ui", "port", str(port))
    for key, value in ui_settings.items():
        lucid.set("admin_ui", key, value)
    lucid.set("gatekeeper", "origins", origin)
    lucid.set("gatekeeper", "tick_s", "0.1")
    lucid.set("recorder", "require_grant", "true")  # default deny, as on the device
    ds = await lucid.start(*DAEMONS)
    url = (lucid.state / "admin_ui" / "url").read_text().strip()
    assert url == origin + "/"
    yield Ui(lucid, ds, f"http://127.0.0.1:{port}", origin, port)


@pytest.fixture
async def browser(ui: Ui) -> AsyncIterator[Browser]:
    async with await new_browser(ui) as http:
        yield Browser(ui, http)


@pytest.fixture
async def owner(browser: Browser) -> Browser:
    await browser.onboard()
    return browser


async def invite_and_enroll(owner: Browser, account: str, role: str) -> Browser:
    """A new browser logged in as ``account`` with ``role`` (invited by ``owner``)."""
    invitation = await owner.ok("POST", "/api/accounts", {"account": account, "role": role}, 201)
    http = await new_browser(owner.ui)
    other = Browser(owner.ui, http)
    body = {"account": account, "code": invitation["code"], "password": PASSWORD}
    result = await other.ok("POST", "/api/enroll", body, 201)
    other.csrf, other.account = result["csrf"], account
    return other
