"""The Keys and Device pages show the live device; every page renders without script errors."""

from __future__ import annotations

import pytest
from dbus_fast.aio import MessageBus
from playwright.async_api import ConsoleMessage, Error, expect

from lucid.walletd.client import WalletdClient
from tests.browser.conftest import DAEMONS, Tab, claim, row, visit

pytestmark = pytest.mark.asyncio(loop_scope="module")

PAGES = [  # (link, heading, screenshot)
    ("Requests", "Pending requests", ""),
    ("Active sessions", "Active sessions", ""),
    ("History", "History", ""),
    ("Keys", "Device keys", ""),
    ("Device", "Device", ""),
    ("Accounts", "Accounts", "accounts"),
    ("Policy", "Policy v1", "policy"),
    ("My account", "alice (owner)", "account"),
]


async def test_keys_and_device_pages(tab: Tab, bus: MessageBus) -> None:
    page, device = tab.page, tab.device
    problems: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        url = msg.location.get("url", "")
        # Chromium asks for /favicon.ico on its own; the page has none (a 404, reported)
        if msg.type == "error" and not url.endswith("/favicon.ico"):
            problems.append(f"console: {msg.text} ({url})")

    def on_error(err: Error) -> None:
        problems.append(f"page error: {err}")

    page.on("console", on_console)
    page.on("pageerror", on_error)
    await claim(tab)

    await visit(tab, "Keys", "Device keys")
    identity = await WalletdClient(bus).get_identity()
    keys = row(tab, "Ed25519 (signs manifests)")
    await expect(keys.get_by_role("code")).to_have_text(identity["ed25519"])
    await expect(page.get_by_text("None: only the device can open recordings.")).to_be_visible()
    await tab.screenshot("keys")

    await visit(tab, "Device", "Device")
    await expect(page.get_by_text(device.origin + "/")).to_be_visible()
    for daemon in DAEMONS:
        line = page.get_by_role("row").filter(has=page.get_by_role("cell", name=daemon, exact=True))
        await expect(line.get_by_role("cell").last).to_have_text("yes")
    await expect(page.get_by_role("heading", name="Storage")).to_be_visible()
    await tab.screenshot("device")

    for link, heading, shot in PAGES:
        await visit(tab, link, heading)
        await expect(page.get_by_role("status")).not_to_have_class("error")
        if shot:
            await tab.screenshot(shot)
    assert problems == [], problems
