"""A session approved on the page, recorded on Xvfb, sealed, and its evidence downloaded.

The bundle the browser saves is checked with `lucid.evidence.verify.verify_bundle` pinned
to the device key the Keys page shows; its manifest carries the approval this browser's
passkey (ES256 or Ed25519) signed; and `lucid verify --trust` with the trust file the Device
page hands out prints what History's "Verified" showed.
"""

from __future__ import annotations

import asyncio
import base64
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import cbor2
import pytest
from dbus_fast.aio import MessageBus
from playwright.async_api import expect

from lucid.cli.desktop import start_desktop
from lucid.evidence.bundle import open_bundle
from lucid.evidence.trust import TrustFile, device_fingerprint
from lucid.evidence.verify import verify_bundle
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
    still_same_document,
    updated_after,
    visit,
)
from tests.conftest import wait_for

pytestmark = pytest.mark.asyncio(loop_scope="module")

RECORD_S = 2.0  # how much desktop to record (the content, not a deadline)


def b64u(std_b64: str) -> str:
    """CDP's standard base64 as WebAuthn's unpadded base64url."""
    return base64.urlsafe_b64encode(base64.b64decode(std_b64)).decode().rstrip("=")


def from_b64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def policy_of(bundle: Path) -> dict[str, Any]:
    """The manifest's ``policy`` member (request, grant, approval records)."""
    with open_bundle(bundle) as opened:
        policy = opened.manifest.policy
    assert policy is not None
    return dict(policy)


@pytest.mark.parametrize("alg", [ES256, ED25519], ids=ALGORITHMS.get)
async def test_sealed_session_evidence_download(
    tab: Tab, bus: MessageBus, tmp_path: Path, alg: int
) -> None:
    page, device = tab.page, tab.device
    await tab.only_algorithm(alg)
    await claim(tab)
    await visit(tab, "Keys", "Device keys")
    device_key = page.get_by_role("row").filter(has_text="Ed25519 (signs manifests)")
    ed25519_hex = (await device_key.get_by_role("code").inner_text()).strip()
    await visit(tab, "Requests", "Pending requests")

    await device.file_request("rec1")
    await approve(tab, "rec1")
    desktop = start_desktop(320, 240)
    try:
        recorder = RecorderClient(bus)
        await recorder.start_session("rec1", desktop.display, "")

        async def active() -> bool:
            return (await device.request("rec1"))["state"] == "active"

        await wait_for(active, what="rec1 active")
        await visit(tab, "History", "History")
        await mark_document(tab)
        await asyncio.sleep(RECORD_S)
        await recorder.stop_session("rec1")
    finally:
        desktop.stop()

    # merkle seals; the page hears SessionSealed and lists it, no reload
    open_session = page.get_by_role("button", name="rec1", exact=True)
    await expect(open_session).to_be_visible(timeout=SEAL_TIMEOUT_MS)
    await expect(row(tab, "rec1")).to_contain_text("sealed")
    assert await still_same_document(tab)
    await open_session.click()
    await expect(page.get_by_role("heading", name="rec1", exact=True)).to_be_visible()
    verdict = page.get_by_text("Verified: ")
    await expect(verdict).to_contain_text("Verified: session rec1, ")
    # what the OK rests on, one line each, in `lucid verify --trust`'s words
    rests_on = page.get_by_role("list", name="What the verification rests on")
    await expect(rests_on.get_by_role("listitem")).to_have_text(
        [
            re.compile(r"^signed by device .+ \(trusted: in your trust file\)$"),
            "approved by alice's passkey (trusted)",
            "not anchored: no anchor.json (anchor not checked)",
        ]
    )
    await expect(page.get_by_role("heading", name="Manifest")).to_be_visible()
    await tab.screenshot("history")

    # a new request arrives while the detail pane is open: the list is re-read, the pane stays
    await device.file_request("rec2")
    await updated_after(tab, "RequestFiled", "rec2")
    await expect(page.get_by_role("heading", name="rec1", exact=True)).to_be_visible()
    await expect(rests_on.get_by_role("listitem").nth(1)).to_have_text(
        "approved by alice's passkey (trusted)"
    )
    await expect(page.get_by_role("heading", name="Manifest")).to_be_visible()

    # in-browser playback: the device decrypts video.0 into the page's <video>, which decodes
    # real frames of the 320x240 desktop; the audit stream shows as a table
    video = page.get_by_role("heading", name="Playback")
    await expect(video).to_be_visible()
    await expect(page.get_by_text("video.0: 320×240")).to_be_visible(timeout=SEAL_TIMEOUT_MS)
    player = page.locator("video")
    await expect(player).to_have_count(1)
    await player.evaluate("v => { v.muted = true; return v.play(); }")
    await page.wait_for_function(
        "() => document.querySelector('video').currentTime > 0", timeout=SEAL_TIMEOUT_MS
    )
    await page.get_by_role("button", name="Show audit events").click()
    await expect(page.get_by_text("audit event(s)")).to_be_visible()
    await tab.screenshot("playback")

    async with page.expect_download() as info:
        await page.get_by_role("link", name="Download evidence bundle").click()
    download = await info.value
    assert download.suggested_filename == "rec1.lucid"
    bundle = tmp_path / download.suggested_filename
    await download.save_as(bundle)

    report = verify_bundle(bundle, device_key=bytes.fromhex(ed25519_hex))
    assert report.session == "rec1" and report.complete
    assert report.approvals >= 1 and report.chunk_count >= 1
    assert report.tree_root.hex() in await verdict.inner_text()
    shown = [await verdict.inner_text()] + await rests_on.get_by_role("listitem").all_inner_texts()

    # the approval in the evidence is the one this browser's authenticator signed
    [credential] = await tab.authenticator.credentials()
    [record] = policy_of(bundle)["approvals"]
    assert record["document"]["approver"] == {"account": "alice", "method": "passkey"}
    assert record["document"]["request"]["id"] == "rec1"
    assert record["webauthn"]["credential_id"] == b64u(credential["credentialId"])
    assert record["webauthn"]["origin"] == device.origin
    assert record["webauthn"]["rp_id"] == "localhost"
    assert record["webauthn"]["user_verified"] is True
    assert cbor2.loads(from_b64u(record["webauthn"]["public_key"]))[3] == alg

    # the trust file from the Device page, under the fingerprint the page shows: with it,
    # `lucid verify` prints what the History page showed, word for word
    await visit(tab, "Device", "Device")
    fingerprint = row(tab, "fingerprint").get_by_role("code")
    await expect(fingerprint).to_have_text(device_fingerprint(bytes.fromhex(ed25519_hex)))
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Download trust file").click()
    saved = await info.value
    assert saved.suggested_filename.endswith(".trust.json")
    trust = tmp_path / saved.suggested_filename
    await saved.save_as(trust)
    assert TrustFile.load(trust).fingerprint == await fingerprint.inner_text()
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "lucid.cli", "verify", str(bundle), "--trust", str(trust), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    said = done.stdout.splitlines()
    assert said[0].startswith(f"OK {bundle}: ")
    assert ["Verified: " + said[0].split(": ", 1)[1], *(x.strip() for x in said[1:])] == shown
