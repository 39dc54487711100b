"""kill -9 of each pipeline daemon mid-recording: nothing sealed is lost, the set resumes.

Real processes on a private bus, a real Xvfb desktop, small chunks and a short flush
interval so several chunks are sealed before the kill.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from dbus_fast.aio import MessageBus

from lucid.cli.desktop import start_desktop
from lucid.encryptor.client import EncryptorClient
from lucid.evidence.bundle import open_bundle
from lucid.evidence.verify import verify_bundle
from lucid.merkle.client import MerkleClient
from lucid.recorder.client import RecorderClient
from tests.conftest import LucidEnv, wait_for

PIPELINE = ("walletd", "recorder", "chunker", "encryptor", "merkle")


def _small_chunks(lucid: LucidEnv) -> None:
    lucid.set("chunker", "chunk_bytes", str(64 * 1024))
    lucid.set("chunker", "flush_seconds", "1.0")
    lucid.set("recorder", "segment_seconds", "0.5")


async def _sealed_before(bus: MessageBus, session: str) -> list[tuple[str, int, str]]:
    return [(s, i, h) for s, i, h, *_ in await EncryptorClient(bus).list_chunks(session)]


@pytest.mark.parametrize("victim", ["recorder", "chunker", "encryptor", "merkle"])
async def test_kill9_mid_recording(
    victim: str, lucid: LucidEnv, bus: MessageBus, tmp_path: Path
) -> None:
    _small_chunks(lucid)
    ds = await lucid.start(*PIPELINE)
    desktop = start_desktop(640, 480)
    try:
        recorder = RecorderClient(bus)
        await recorder.start_session("k9", desktop.display, "")

        async def enough_sealed() -> bool:
            return len(await _sealed_before(bus, "k9")) >= 3

        await wait_for(enough_sealed, 90, "three sealed chunks")
        before = await _sealed_before(bus, "k9")
        await ds.kill(victim, signal.SIGKILL, restart=True)  # the set restarts it
        await ds.wait_ready(victim)

        async def more_sealed() -> bool:
            return len(await _sealed_before(bus, "k9")) > len(before) + 1

        await wait_for(more_sealed, 90, "sealing to resume after the restart")
        await recorder.stop_session("k9")
    finally:
        desktop.stop()
    merkle = MerkleClient(bus)

    async def sealed() -> bool:
        return any(s["session"] == "k9" for s in await merkle.list_sessions())

    await wait_for(sealed, 90, "the session to be sealed")
    info = await merkle.get_session("k9")
    assert info["state"] == "sealed", info
    out = tmp_path / "k9.lucid"
    fd = out.open("wb")
    await merkle.export_bundle("k9", fd.fileno())
    fd.close()
    report = verify_bundle(out)
    with open_bundle(out) as bundle:
        manifest = bundle.manifest
        in_manifest = {(c.stream, c.index, c.hash_hex) for c in manifest.chunks}
    assert set(before) <= in_manifest, "a chunk sealed before the kill is missing"
    assert manifest.complete
    assert report.chunk_count == len(manifest.chunks)
    streams = {s.name for s in manifest.streams}
    if victim == "recorder":
        assert {"video.0", "video.1"} <= streams, streams  # the restart began a new part
    else:
        assert "video.0" in streams
    assert not (lucid.spool / "k9").exists(), "plaintext left in the spool after sealing"
