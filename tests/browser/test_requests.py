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
    listening,
    mark_document,
    row,
    status,
    status_now,
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
    assert await status_now(tab) == ""  # "s1: approve signed" belongs to the other page
    await expect(row(tab, "s1")).to_contain_text("approved")
    await expect(row(tab, "s1")).to_contain_text("not recording")
    await expect(row(tab, "s1").get_by_role("cell").nth(1)).to_have_text("u1")  # who asked
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
    await expect(status(tab)).to_have_text("")  # the status line does not linger
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


async def test_scope_being_edited_survives_new_requests(tab: Tab) -> None:
    """A request arriving while another one's scope is edited must not reset the edit: the
    approval grants what is on screen, never the wider scope that was asked for."""
    device = tab.device
    await claim(tab)
    await device.file_request("e1")
    await expect(row(tab, "e1")).to_be_visible()
    form = row(tab, "e1")
    await form.get_by_label("Grant lifetime (s)").fill("120")
    await form.get_by_label("Longest session (s)").fill("90")
    await form.get_by_label("clipboard").check()
    await form.get_by_label("Longest session (s)").focus()

    await device.file_request("e2", user="u2")
    await expect(row(tab, "e2")).to_be_visible()  # the page has re-read the list
    await expect(form.get_by_label("Grant lifetime (s)")).to_have_value("120")
    await expect(form.get_by_label("Longest session (s)")).to_have_value("90")
    await expect(form.get_by_label("Longest session (s)")).to_be_focused()
    await expect(form.get_by_label("clipboard")).to_be_checked()
    await expect(row(tab, "e2").get_by_label("Grant lifetime (s)")).to_have_value("600")

    # e2 is denied elsewhere (another admin): its row goes, e1's edit stays
    await device.gatekeeper.deny("e2", "", "not now")
    await expect(row(tab, "e2")).to_have_count(0)
    await expect(form.get_by_label("Grant lifetime (s)")).to_have_value("120")

    await approve(tab, "e1")
    scope = (await device.request("e1"))["grant"]["scope"]
    assert (scope["ttl_s"], scope["max_duration_s"], scope["clipboard"]) == (120, 90, True)
    await tab.screenshot("requests-edited")


async def test_page_catches_up_after_the_event_stream_reconnects(tab: Tab) -> None:
    """Requests filed while the page's event stream was down show up once it is back."""
    device = tab.device
    await claim(tab)
    await mark_document(tab)
    await device.file_request("c1")
    await expect(row(tab, "c1")).to_be_visible()
    await row(tab, "c1").get_by_label("Grant lifetime (s)").fill("60")

    await device.daemons.stop("admin_ui")  # the stream ends; nobody relays the next signal
    await device.file_request("c2")
    await device.gatekeeper.deny("c1", "", "decided while the page was deaf")
    await device.daemons.start("admin_ui")
    await listening(tab, streams=2)  # the browser reconnected by itself
    await expect(row(tab, "c2")).to_be_visible()  # caught up on "hello": no event said so
    await expect(row(tab, "c1")).to_have_count(0)
    assert await still_same_document(tab)


async def test_password_approval_only_when_the_policy_allows_it(tab: Tab) -> None:
    page, device = tab.page, tab.device
    await claim(tab, password="correct horse battery")
    await device.file_request("p1")
    await expect(row(tab, "p1")).to_be_visible()
    await expect(row(tab, "p1").get_by_role("button", name="Approve with passkey")).to_be_visible()
    # the default policy wants passkeys: no password approval is offered
    await expect(row(tab, "p1").get_by_role("button", name="Approve with password")).to_have_count(
        0
    )
    await expect(row(tab, "p1").get_by_label("Password")).to_be_hidden()

    await visit(tab, "Policy", "Policy v1")
    await page.get_by_label("allow approving with a password").check()
    await page.get_by_role("button", name="Save policy").click()
    await expect(page.get_by_role("heading", name="Policy v2")).to_be_visible()
    await expect(status(tab)).to_have_text("policy saved")

    await visit(tab, "Requests", "Pending requests")
    assert await status_now(tab) == ""
    await row(tab, "p1").get_by_label("Password").fill("correct horse battery")
    await row(tab, "p1").get_by_role("button", name="Approve with password").click()
    await expect(status(tab)).to_have_text("p1: approved with password")
    await expect(row(tab, "p1")).to_have_count(0)
    [approval] = (await device.request("p1"))["approvals"]
    assert (approval["account"], approval["method"]) == ("alice", "password")
