"""Plaintext never reaches persistent storage: after a session, the state directory holds
only ciphertext, manifests and databases, and the RAM spool is empty."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from dbus_fast.aio import MessageBus

from lucid.cli.desktop import start_desktop
from lucid.merkle.client import MerkleClient
from lucid.recorder.client import RecorderClient
from tests.conftest import LucidEnv, wait_for

# Markers of plaintext: fMP4 boxes and x264's SEI banner in the video, an audit event type,
# and what was typed (which must not be in the audit stream either).
MARKERS = (b"ftyp", b"moof", b"mdat", b"x264 - core", b"session.start", b"hunter2")


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


async def test_no_plaintext_in_state(lucid: LucidEnv, bus: MessageBus) -> None:
    lucid.set("chunker", "chunk_bytes", str(1024 * 1024))  # segments stay a while
    await lucid.start("walletd", "recorder", "chunker", "encryptor", "merkle")
    desktop = start_desktop(640, 480)
    try:
        recorder = RecorderClient(bus)
        await recorder.start_session("secret", desktop.display, "")
        await asyncio.to_thread(
            subprocess.run,
            ["xdotool", "type", "--delay", "20", "hunter2"],
            check=False,
            env={"DISPLAY": desktop.display},
        )

        def spool_shows_plaintext() -> bool:  # the markers do detect plaintext
            return any(b"ftyp" in p.read_bytes() for p in lucid.spool.rglob("seg-*.seg"))

        await wait_for(spool_shows_plaintext, 30, "plaintext video in the spool")
        await recorder.stop_session("secret")
    finally:
        desktop.stop()
    merkle = MerkleClient(bus)

    async def sealed() -> bool:
        return any(s["session"] == "secret" for s in await merkle.list_sessions())

    await wait_for(sealed, 90, "the session to seal")
    store = _files(lucid.state / "store")
    assert store, "nothing was stored"
    for path in _files(lucid.state):
        data = path.read_bytes()
        for marker in MARKERS:
            assert marker not in data, f"plaintext marker {marker!r} in {path}"
    assert not list(lucid.spool.rglob("*")), "the spool must be empty after sealing"
