"""The Keys and Device pages show the live device; every page renders without script errors,
with a favicon, without empty table headers; live events leave what is on screen alone."""

from __future__ import annotations

import pytest
from dbus_fast.aio import MessageBus
from playwright.async_api import ConsoleMessage, Error, expect

from lucid.walletd.client import WalletdClient
from tests.browser.conftest import (
    DAEMONS,
    Tab,
    claim,
    row,
    status,
    status_now,
    updated_after,
    visit,
)

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

EMPTY_HEADERS = (
    "() => [...document.querySelectorAll('th')].filter((th) => !th.textContent.trim()).length"
)


async def test_keys_and_device_pages(tab: Tab, bus: MessageBus) -> None:
    page, device = tab.page, tab.device
    problems: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":  # a missing favicon would show up here too
            problems.append(f"console: {msg.text} ({msg.location.get('url', '')})")

    def on_error(err: Error) -> None:
        problems.append(f"page error: {err}")

    page.on("console", on_console)
    page.on("pageerror", on_error)
    await claim(tab)

    await visit(tab, "Keys", "Device keys")
    identity = await WalletdClient(bus).get_identity()
    keys = row(tab, "Ed25519 (signs manifests)")
    await expect(keys.get_by_role("code")).to_have_text(identity["ed25519"])
    await expect(keys.get_by_role("rowheader")).to_have_text("Ed25519 (signs manifests)")
    await expect(page.get_by_text("None yet: only the device can open recordings.")).to_be_visible()
    assert await page.evaluate(EMPTY_HEADERS) == 0
    await tab.screenshot("keys")

    await visit(tab, "Device", "Device")
    await expect(page.get_by_text(device.origin + "/")).to_be_visible()
    for daemon in DAEMONS:
        line = page.get_by_role("row").filter(has=page.get_by_role("cell", name=daemon, exact=True))
        await expect(line.get_by_role("cell").nth(1)).to_have_text("ok")
    # chain-client is listed too; it does not run here, and the device needs it
    line = page.get_by_role("row").filter(has=page.get_by_role("cell", name="chain_client"))
    await expect(line.get_by_role("cell").nth(1)).to_have_text("degraded")
    await expect(line.get_by_role("cell").nth(2)).to_have_text("not running")
    await expect(page.get_by_role("heading", name="Storage")).to_be_visible()
    await expect(row(tab, "python").get_by_role("rowheader")).to_have_text("python")
    # the trust file to verify bundles against, under the fingerprint the console shows
    await expect(page.get_by_role("heading", name="Trust file")).to_be_visible()
    await expect(row(tab, "fingerprint").get_by_role("code")).to_have_text(identity["fingerprint"])
    await expect(row(tab, "approvers")).to_contain_text("alice (1 passkey(s))")
    await expect(page.get_by_role("link", name="Download trust file")).to_be_visible()
    assert await page.evaluate(EMPTY_HEADERS) == 0
    await tab.screenshot("device")

    for link, heading, shot in PAGES:
        await visit(tab, link, heading)
        await expect(page.get_by_role("status")).not_to_have_class("error")
        assert await page.evaluate(EMPTY_HEADERS) == 0, link
        if shot:
            await tab.screenshot(shot)

    # the favicon: linked from the page, and where browsers look unasked
    for path, kind in (("/favicon.ico", "image/"), ("/static/favicon.svg", "image/svg+xml")):
        response = await page.request.get(path)
        assert response.status == 200, path
        assert response.headers["content-type"].startswith(kind), response.headers
    icons = page.locator("link[rel=icon]")
    assert await icons.count() >= 1
    for href in await icons.evaluate_all("(links) => links.map((l) => l.href)"):
        assert (await page.request.get(href)).status == 200, href
    assert problems == [], problems


async def test_invitation_code_survives_live_updates(tab: Tab) -> None:
    page, device = tab.page, tab.device
    await claim(tab)
    await visit(tab, "Accounts", "Accounts")
    invite = page.locator("form").filter(has_text="Invite")
    await invite.get_by_label("Account name").fill("bob")
    await invite.get_by_role("combobox").select_option("auditor")
    await invite.get_by_role("button", name="Create invitation code").click()
    await expect(status(tab)).to_have_text("invitation created")
    code = invite.get_by_role("code")
    await expect(code).to_be_visible()
    shown = await code.inner_text()
    assert shown.strip()

    # requests come and go while the code is on screen: the list is re-read, the code stays
    await device.file_request("a1")
    await updated_after(tab, "RequestFiled", "a1")
    await expect(invite.get_by_text("Code for bob (shown once)")).to_be_visible()
    assert await code.inner_text() == shown
    await expect(row(tab, "alice")).to_be_visible()

    # the status line fades by itself, and another page starts without it
    await expect(status(tab)).to_have_text("")
    await invite.get_by_label("Account name").fill("carol")
    await invite.get_by_role("button", name="Create invitation code").click()
    await expect(status(tab)).to_have_text("invitation created")
    await visit(tab, "Keys", "Device keys")
    assert await status_now(tab) == ""
