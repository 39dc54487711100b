"""The page's trust export and its "Verified" line: the same file ``lucid trust export``
writes, and the same words ``lucid verify FILE --trust TRUST.json`` prints about the bundle
the page lets you download (real daemons, a real recording, the real CLI)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from dbus_fast.aio import MessageBus

from lucid.cli.desktop import start_desktop
from lucid.evidence.trust import TrustFile
from lucid.gatekeeper.client import GatekeeperClient
from lucid.recorder.client import RecorderClient
from lucid.walletd.keys import IDENTITY_FILE
from tests.admin_ui.conftest import Browser, invite_and_enroll, new_browser
from tests.conftest import LucidEnv, wait_for

LUCID = [sys.executable, "-m", "lucid.cli"]
SCOPE: dict[str, Any] = {
    "ttl_s": 600,
    "max_duration_s": 600,
    "clipboard": False,
    "file_transfer": False,
    "drives": False,
}


async def cli(lucid: LucidEnv, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """``lucid ARGS`` against the test's bus (as an operator on the device would run it)."""
    return await asyncio.to_thread(
        subprocess.run,
        [*LUCID, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=os.environ | lucid.env(),
    )


async def download(who: Browser, path: str) -> tuple[int, dict[str, str], bytes]:
    async with who.http.get(who.ui.base + path) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def test_trust_file_from_the_page_is_the_one_lucid_trust_export_writes(
    owner: Browser, lucid: LucidEnv, tmp_path: Path
) -> None:
    auditor = await invite_and_enroll(owner, "carol", "auditor")
    try:
        status, headers, data = await download(owner, "/api/device/trust")
        assert status == 200, data
        trust = TrustFile.from_bytes(data)
        assert data == trust.to_bytes()  # canonical JSON, as the CLI writes it
        assert headers["Content-Type"].startswith("application/json")
        disposition = f'attachment; filename="{trust.name}.trust.json"'
        assert headers["Content-Disposition"] == disposition
        # the device key walletd signs with, under the fingerprint the Keys page shows
        device = (await owner.ok("GET", "/api/keys"))["device"]
        assert [k.ed25519.hex() for k in trust.keys] == [device["ed25519"]]
        assert trust.fingerprint == device["fingerprint"]
        # the owner's passkey (registered while onboarding) is an approver's; the auditor,
        # who cannot approve, is not listed
        assert owner.passkey is not None
        approvers = {a.account: a for a in trust.approvers}
        assert set(approvers) == {"alice"} and approvers["alice"].role == "owner"
        assert [p.public_key for p in approvers["alice"].passkeys] == [
            owner.passkey.cose_public_key()
        ]
        # an auditor may download it too (it verifies evidence)
        status, _headers, theirs = await download(auditor, "/api/device/trust")
        assert status == 200 and TrustFile.from_bytes(theirs).keys == trust.keys
    finally:
        await auditor.http.close()

    exported = tmp_path / "cli.trust.json"
    done = await cli(lucid, "trust", "export", "-o", exported)
    assert done.returncode == 0, done.stderr
    assert trust.fingerprint in done.stdout
    by_cli = TrustFile.load(exported)
    assert (by_cli.name, by_cli.keys, by_cli.approvers) == (trust.name, trust.keys, trust.approvers)


async def test_trust_file_refused_without_a_login_or_to_a_viewer(owner: Browser) -> None:
    viewer = await invite_and_enroll(owner, "vic", "viewer")
    anonymous = Browser(owner.ui, await new_browser(owner.ui))
    try:
        got, data = await viewer.call("GET", "/api/device/trust")
        assert (got, data["error"]) == (403, "forbidden")
        got, data = await anonymous.call("GET", "/api/device/trust")
        assert (got, data["error"]) == (401, "login_required")
    finally:
        await viewer.http.close()
        await anonymous.http.close()


async def _record(owner: Browser, bus: MessageBus, lucid: LucidEnv, session: str) -> None:
    """File a request, approve it with the owner's passkey, record a little, wait for the seal."""
    for key, value in (("chunk_bytes", str(64 * 1024)), ("flush_seconds", "1.0")):
        lucid.set("chunker", key, value)
    await lucid.start("chunker", "encryptor")
    body = {"id": session, "user": "u1", "source": "10.0.0.5", "target": "t1"}
    await GatekeeperClient(bus).request_session(body | {"requested_scope": SCOPE})
    assert owner.passkey is not None
    begun = await owner.ok(
        "POST", f"/api/requests/{session}/approval", {"decision": "approve", "scope": SCOPE}
    )
    credential = owner.passkey.assert_(begun["publicKey"], owner.ui.origin)
    await owner.ok("POST", f"/api/requests/{session}/approval/{begun['flow']}", credential)
    desktop = start_desktop(320, 240)
    try:
        recorder = RecorderClient(bus)
        await recorder.start_session(session, desktop.display, "")
        await asyncio.sleep(2)  # something to record; nothing below depends on how much
        await recorder.stop_session(session)
    finally:
        desktop.stop()

    async def sealed() -> bool:
        listed = await owner.ok("GET", "/api/history")
        return any(s["session"] == session and s["state"] == "sealed" for s in listed)

    await wait_for(sealed, timeout=120, what=f"{session} sealed")


async def test_verified_line_says_what_lucid_verify_says_with_the_devices_trust_file(
    owner: Browser, bus: MessageBus, lucid: LucidEnv, tmp_path: Path
) -> None:
    await _record(owner, bus, lucid, "rec1")
    result = await owner.ok("GET", "/api/history/rec1/verify")
    assert result["ok"] is True, result
    assert result["approvals"] == 1 and result["session"] == "rec1"  # the fields kept
    keys = (await owner.ok("GET", "/api/keys"))["device"]
    signed, approved, anchored = result["lines"]
    assert signed.startswith("signed by device ") and keys["fingerprint"] in signed
    assert signed.endswith("(trusted: in your trust file)")
    assert approved == "approved by alice's passkey (trusted)"
    assert anchored == "not anchored: no anchor.json (anchor not checked)"

    # the command, on the files the page hands out, prints the same words
    bundle, trust = tmp_path / "rec1.lucid", tmp_path / "device.trust.json"
    status, _h, data = await download(owner, "/api/history/rec1/bundle")
    assert status == 200
    bundle.write_bytes(data)
    status, _h, data = await download(owner, "/api/device/trust")
    assert status == 200
    trust.write_bytes(data)
    done = await cli(lucid, "verify", bundle, "--trust", trust, "-q")
    assert done.returncode == 0, done.stderr
    expected = [f"OK {bundle}: {result['summary']}"] + [f"  {line}" for line in result["lines"]]
    assert done.stdout.splitlines() == expected

    # the device is re-keyed (reset, or its key replaced): the bundle's signer is no longer
    # the device's, and the page says FAILED with the item and message the command prints
    # against the trust file the page now hands out
    daemons = owner.ui.daemons
    await daemons.stop("walletd")
    (lucid.state / "walletd" / IDENTITY_FILE).unlink()
    await daemons.start("walletd")
    failed = await owner.ok("GET", "/api/history/rec1/verify")
    assert failed["ok"] is False and "lines" not in failed, failed
    assert failed["item"] == "trust.device"
    assert failed["message"].startswith(f"signed by device {keys['fingerprint']} (")
    assert failed["message"].endswith("NOT in your trust file")
    status, _h, data = await download(owner, "/api/device/trust")
    assert status == 200 and TrustFile.from_bytes(data).fingerprint != keys["fingerprint"]
    trust.write_bytes(data)
    done = await cli(lucid, "verify", bundle, "--trust", trust, "-q")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == f"FAILED {bundle}: {failed['item']}: {failed['message']}"
