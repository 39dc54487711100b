"""The owner adds an auditor's key on the Keys page and the auditor plays what is recorded
afterwards with `lucid play`; History says which sessions ended abnormally (incomplete) and
shows the recorded and the stored size."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest
from dbus_fast.aio import MessageBus
from playwright.async_api import expect

from lucid.cli.desktop import Desktop, start_desktop
from lucid.recorder.client import RecorderClient
from tests.browser.conftest import SEAL_TIMEOUT_MS, Tab, approve, claim, row, status, visit
from tests.conftest import wait_for

pytestmark = pytest.mark.asyncio(loop_scope="module")

LUCID = [sys.executable, "-m", "lucid.cli"]
RECORD_S = 1.5  # how much desktop to record (the content, not a deadline)


def lucid(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LUCID, *args], capture_output=True, text=True, timeout=300)


async def record(tab: Tab, bus: MessageBus, session: str) -> Desktop:
    """File ``session``, approve it on the page and record a desktop; returns the desktop
    (still recording: the caller ends the session)."""
    await visit(tab, "Requests", "Pending requests")
    await tab.device.file_request(session)
    await approve(tab, session)
    desktop = start_desktop(320, 240)
    await RecorderClient(bus).start_session(session, desktop.display, "")

    async def active() -> bool:
        return (await tab.device.request(session))["state"] == "active"

    await wait_for(active, what=f"{session} active")
    await asyncio.sleep(RECORD_S)
    return desktop


async def test_an_added_auditor_key_plays_later_sessions(
    tab: Tab, bus: MessageBus, tmp_path: Path
) -> None:
    page = tab.page
    await claim(tab)
    await visit(tab, "Keys", "Device keys")
    await expect(page.get_by_text("None yet: only the device can open recordings.")).to_be_visible()

    key_file = tmp_path / "auditor.key"
    made = lucid("keys", "auditor", "new", "-o", str(key_file))
    assert made.returncode == 0, made.stderr
    public = made.stdout.strip()
    assert len(public) == 64 and "Keys page" in made.stderr

    form = page.locator("form").filter(has_text="Add an auditor recipient")
    await form.get_by_label("Public key").fill(public)
    await form.get_by_label("Label").fill("external audit")
    await form.get_by_role("button", name="Add recipient").click()
    await expect(status(tab)).to_have_text("recipient added")
    added = row(tab, public[:16])
    await expect(added).to_contain_text("external audit")
    await expect(added).to_contain_text("alice")
    await expect(added.get_by_role("code")).to_have_text(public)
    await tab.screenshot("keys-recipient")

    desktop = await record(tab, bus, "aud1")
    try:
        await RecorderClient(bus).stop_session("aud1")
    finally:
        desktop.stop()
    await visit(tab, "History", "History")
    await expect(row(tab, "aud1")).to_contain_text("sealed", timeout=SEAL_TIMEOUT_MS)
    await expect(row(tab, "aud1")).not_to_contain_text("incomplete")

    bundle = tmp_path / "aud1.lucid"
    response = await page.request.get("/api/history/aud1/bundle")
    assert response.status == 200
    bundle.write_bytes(await response.body())
    video = tmp_path / "aud1.mp4"
    played = lucid("play", str(bundle), "--key", str(key_file), "-o", str(video))
    assert played.returncode == 0, played.stderr
    assert video.stat().st_size > 0

    # someone else's key does not open it
    other = tmp_path / "other.key"
    assert lucid("keys", "auditor", "new", "-o", str(other)).returncode == 0
    refused = lucid("play", str(bundle), "--key", str(other), "-o", str(tmp_path / "x.mp4"))
    assert refused.returncode != 0 and "Traceback" not in refused.stderr


async def test_history_marks_an_abnormal_end_incomplete(tab: Tab, bus: MessageBus) -> None:
    page = tab.page
    await claim(tab)
    desktop = await record(tab, bus, "cut1")
    desktop.stop()  # the display goes away mid-session: the recording ends abnormally
    await visit(tab, "History", "History")
    line = row(tab, "cut1")
    await expect(line).to_contain_text("sealed", timeout=SEAL_TIMEOUT_MS)
    await expect(line.locator(".badge.incomplete")).to_have_text("incomplete")
    stored = line.get_by_role("cell").nth(3)
    await expect(stored).to_have_text(
        # a human size: "123 B", "4.5 KiB", ...
        re.compile(r"^\d+(\.\d)? (B|KiB|MiB|GiB)$")
    )

    await page.get_by_role("button", name="cut1", exact=True).click()
    heading = page.get_by_role("heading", name="cut1")
    await expect(heading.locator(".badge.incomplete")).to_be_visible()
    await expect(page.get_by_text("The recording ended abnormally")).to_be_visible()
    verdict = page.get_by_text("Verified: ")
    await expect(verdict).to_contain_text("incomplete")
    sizes = page.get_by_text(re.compile(r"^Recorded \S+ \S+ \(before compression\); stored"))
    await expect(sizes).to_be_visible()
    await tab.screenshot("history-incomplete")
