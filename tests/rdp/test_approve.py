"""A real RDP login waits for approval, runs once approved, and its recording verifies."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import pytest

from lucid.evidence.bundle import open_bundle
from lucid.evidence.playback import decrypt_stream
from lucid.evidence.verify import verify_bundle
from lucid.merkle.client import MerkleClient
from lucid.recorder.client import RecorderClient
from tests.cli.test_demo import run as lucid_cli
from tests.conftest import wait_for
from tests.rdp.conftest import TIMEOUT, RdpHost, RdpUser, settle
from tests.recorder.conftest import xdotool

pytestmark = pytest.mark.rdp


async def test_login_waits_then_runs_recorded_and_verifies(
    rdp_host: RdpHost, rdp_users: list[RdpUser], tmp_path: Path
) -> None:
    host, user = rdp_host, rdp_users[0]
    client = host.connect(user)
    waiting = await host.session_of(user, "waiting")
    session, display = waiting["session"], waiting["display"]
    assert waiting["source"].startswith("127.0.0.1:"), waiting
    request = json.loads(await host.gatekeeper.get_request(session))
    assert request["state"] == "pending"
    assert request["request"]["user"] == user.name
    assert request["request"]["source"] == waiting["source"]

    await settle(2)  # the start script would have started the desktop by now if it could
    assert host.desktop_pids(user) == [], "the desktop runs before approval"
    assert "Lucid: waiting for approval" in host.window_names(user, display)
    recorder = RecorderClient(host.bus)
    assert all(s["session"] != session for s in await recorder.list_sessions())

    assert await host.approve(session) == "approved"
    await host.wait_state(session, "running")
    await wait_for(lambda: host.desktop_pids(user), TIMEOUT, "the desktop after approval")
    await wait_for(lambda: "xlogo" in host.window_names(user, display), TIMEOUT, "xlogo's window")
    assert "Lucid: waiting for approval" not in host.window_names(user, display)
    info = await recorder.get_session(session)
    assert info["display"] == display and info["state"] == "recording"
    assert json.loads(await host.gatekeeper.get_request(session))["state"] == "active"

    # keystrokes typed into the RDP client reach the session and are counted, not kept
    xdotool(client.display, "mousemove", "400", "300")
    for _ in range(3):
        xdotool(client.display, "type", "--delay", "80", "hello")
        await settle(1.5)

    # the user logs out: the desktop exits, the start script ends the session
    for pid in host.desktop_pids(user):
        os.kill(pid, signal.SIGTERM)
    ended = await host.wait_state(session, "ended")
    assert ended["outcome"] == "ended", ended
    merkle = MerkleClient(host.bus)

    async def sealed() -> bool:
        return any(
            s["session"] == session and s["state"] == "sealed" for s in await merkle.list_sessions()
        )

    await wait_for(sealed, TIMEOUT, f"{session} sealed")
    bundle = tmp_path / "rdp.lucid"
    with bundle.open("wb") as fh:
        await merkle.export_bundle(session, fh.fileno())
    proc = lucid_cli("verify", str(bundle), "-q")
    assert proc.stdout.startswith("OK ")
    assert len(re.findall(r"^  approved by \S+'s passkey \(unknown\)$", proc.stdout, re.M)) == 1
    report = verify_bundle(bundle)
    assert report.chunk_count >= 1
    with open_bundle(bundle) as opened:
        assert opened.manifest.session == session
        assert opened.manifest.complete
        text = b"".join(decrypt_stream(opened, host.auditor, "audit.0")).decode()
    events = [json.loads(line) for line in text.splitlines()]
    start = next(e for e in events if e["type"] == "session.start")
    assert start["display"] == display and start["session"] == session
    keys = sum(e["count"] for e in events if e["type"] == "keys")
    assert keys >= 5, f"key presses not recorded: {events}"
    assert "hello" not in text
