"""Session requests on the page: they arrive live, and are approved, denied and revoked there.

Requests are filed over the bus (as an incoming remote-desktop connection does) while the
page is open; the page learns about them from ``/api/events`` (SSE) and must show them
without a reload. Approvals are signed by Chromium's virtual authenticator over
gatekeeper's approval challenge, with an ES256 and with an Ed25519 passkey.
"""

from __future__ import annotations

import pytest
from dbus_fast.aio import MessageBus
from playwright.async_api import expect

from lucid.cli.desktop import start_desktop
from lucid.recorder.client import RecorderClient
from tests.browser.conftest import (
    ALGORITHMS,
    ED25519,
    ES256,
    SEAL_TIMEOUT_MS,
    Tab,
    approve,
    claim,
    mark_document,
    row,
    status,
    still_same_document,
    visit,
)
from tests.conftest import wait_for

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.mark.parametrize("alg", [ES256, ED25519], ids=ALGORITHMS.get)
async def test_request_shows_up_live_and_is_approved_with_the_passkey(tab: Tab, alg: int) -> None:
    page, device = tab.page, tab.device
    await tab.only_algorithm(alg)
    await claim(tab)
    await expect(page.get_by_text("Nothing is waiting for approval")).to_be_visible()
    await mark_document(tab)

    await device.file_request("s1")
    await expect(row(tab, "s1")).to_be_visible()  # pushed over SSE: no reload, no polling
    await expect(row(tab, "s1")).to_contain_text("10.0.0.5")
    assert await still_same_document(tab)
    await tab.screenshot("requests")

    # grant less than asked: a shorter lifetime, typed into the request's scope form
    await row(tab, "s1").get_by_label("Grant lifetime (s)").fill("300")
    await approve(tab, "s1")
    await expect(page.get_by_text("Nothing is waiting for approval")).to_be_visible()
    decided = await device.request("s1")
    assert decided["state"] == "approved"
    assert decided["grant"]["scope"]["ttl_s"] == 300
    assert decided["grant"]["scope"]["max_duration_s"] == 600
    [approval] = decided["approvals"]
    assert (approval["account"], approval["decision"], approval["method"]) == (
        "alice",
        "approve",
        "passkey",
    )

    await visit(tab, "Active sessions", "Active sessions")
    await expect(row(tab, "s1")).to_contain_text("approved")
    await expect(row(tab, "s1")).to_contain_text("not recording")
    await expect(row(tab, "s1")).to_contain_text(decided["grant"]["expires_at"])
    assert await still_same_document(tab)
    await tab.screenshot("sessions")


async def test_deny(tab: Tab) -> None:
    page, device = tab.page, tab.device
    await claim(tab)
    await mark_document(tab)
    await device.file_request("d1")
    await device.file_request("d2", user="u2")
    await expect(row(tab, "d1")).to_be_visible()
    await expect(row(tab, "d2")).to_be_visible()
    await row(tab, "d1").get_by_role("button", name="Deny").click()
    await expect(status(tab)).to_have_text("d1: denied")
    await expect(row(tab, "d1")).to_have_count(0)
    await expect(row(tab, "d2")).to_be_visible()  # only the one denied
    assert (await device.request("d1"))["state"] == "denied"
    assert (await device.request("d2"))["state"] == "pending"
    await visit(tab, "Active sessions", "Active sessions")
    await expect(page.get_by_text("No approved or active sessions.")).to_be_visible()
    assert await still_same_document(tab)


async def test_revoke_an_approved_and_a_recording_session(tab: Tab, bus: MessageBus) -> None:
    page, device = tab.page, tab.device
    await claim(tab)
    for session in ("r1", "r2"):
        await device.file_request(session)
        await expect(row(tab, session)).to_be_visible()
        await approve(tab, session)
    recorder = RecorderClient(bus)
    desktop = start_desktop(320, 240)
    try:
        await recorder.start_session("r2", desktop.display, "")

        async def recording() -> bool:
            return (await device.request("r2"))["state"] == "active"

        await wait_for(recording, what="r2 active")
        await visit(tab, "Active sessions", "Active sessions")
        await expect(row(tab, "r1")).to_contain_text("not recording")
        await expect(row(tab, "r2")).to_contain_text("active")
        await mark_document(tab)

        # an approved grant nobody used yet
        await row(tab, "r1").get_by_role("button", name="Revoke").click()
        await expect(status(tab)).to_have_text("r1: revoked")
        await expect(row(tab, "r1")).to_have_count(0)
        assert (await device.request("r1"))["state"] == "revoked"

        # a session being recorded: the recording stops and is sealed
        await row(tab, "r2").get_by_role("button", name="Revoke").click()
        await expect(status(tab)).to_have_text("r2: revoked")
        await expect(row(tab, "r2")).to_have_count(0)
        await expect(page.get_by_text("No approved or active sessions.")).to_be_visible()
        assert (await device.request("r2"))["state"] == "revoked"
        await visit(tab, "History", "History")
        sealed = page.get_by_role("row").filter(has=page.get_by_role("button", name="r2"))
        await expect(sealed).to_contain_text("sealed", timeout=SEAL_TIMEOUT_MS)
        assert await still_same_document(tab)
    finally:
        desktop.stop()
