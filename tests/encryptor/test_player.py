"""OpenStream: a sealed session decrypted into admin-ui's pipe (web playback).

A real recording on Xvfb is sealed by the real daemons; the stream is read back through a
pipe as admin-ui would, decoded with PyAV, and checked against the sizes the encryptor
recorded. Only the admin-ui bus name may ask; a damaged chunk cuts the stream short.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import av
import pytest
from dbus_fast.aio import MessageBus

from lucid.cli.desktop import start_desktop
from lucid.encryptor.client import EncryptorClient
from lucid.merkle.client import MerkleClient
from lucid.recorder.client import RecorderClient
from lucid.runtime.errors import NotAuthorizedError, NotFoundError
from tests.conftest import LucidEnv, wait_for

SESSION = "play1"


@pytest.fixture
async def admin_ui(bus_address: str) -> AsyncIterator[EncryptorClient]:
    """An encryptor client on a connection that owns admin-ui's bus name."""
    conn = await MessageBus(bus_address=bus_address, negotiate_unix_fd=True).connect()
    await conn.request_name("io.lucid.AdminUi1")
    yield EncryptorClient(conn)
    conn.disconnect()


async def _sealed_session(lucid: LucidEnv, bus: MessageBus) -> None:
    await lucid.start("walletd", "recorder", "chunker", "encryptor", "merkle")
    desktop = start_desktop(320, 240)
    try:
        recorder = RecorderClient(bus)
        await recorder.start_session(SESSION, desktop.display, "")
        await asyncio.sleep(1.5)  # some desktop to record (content, not a deadline)
        await recorder.stop_session(SESSION)
    finally:
        desktop.stop()
    merkle = MerkleClient(bus)

    async def sealed() -> bool:
        return any(s["session"] == SESSION for s in await merkle.list_sessions())

    await wait_for(sealed, 90, "the session to seal")


async def _read(client: EncryptorClient, session: str, stream: str) -> tuple[int, bytes]:
    read_end, write_end = os.pipe()
    try:
        try:
            size = await client.open_stream(session, stream, write_end)
        finally:
            os.close(write_end)
        parts = []
        while part := await asyncio.to_thread(os.read, read_end, 1 << 16):
            parts.append(part)
        return size, b"".join(parts)
    finally:
        os.close(read_end)


async def test_streams_decrypt_into_the_pipe(
    lucid: LucidEnv, bus: MessageBus, admin_ui: EncryptorClient
) -> None:
    await _sealed_session(lucid, bus)
    chunks = await EncryptorClient(bus).list_chunks(SESSION)
    video_plain = sum(c[4] for c in chunks if c[0] == "video.0")

    size, video = await _read(admin_ui, SESSION, "video.0")
    assert size == video_plain == len(video)
    with av.open(io.BytesIO(video), "r", format="mp4") as container:
        frames = [f for f in container.decode(video=0)]
    assert frames and (frames[0].width, frames[0].height) == (320, 240)

    size, audit = await _read(admin_ui, SESSION, "audit.0")
    events = [json.loads(line) for line in audit.decode().splitlines()]
    assert size == len(audit)
    assert events[0]["type"] == "session.start" and events[0]["session"] == SESSION

    with pytest.raises(NotFoundError, match="no stream"):
        await _read(admin_ui, SESSION, "video.7")
    with pytest.raises(NotFoundError, match="not a complete recording"):
        await _read(admin_ui, "nosuch", "video.0")


async def test_only_admin_ui_may_open_streams(
    lucid: LucidEnv, bus_address: str, admin_ui: EncryptorClient
) -> None:
    await lucid.start("walletd", "encryptor")
    other = await MessageBus(bus_address=bus_address, negotiate_unix_fd=True).connect()
    read_end, write_end = os.pipe()
    try:
        with pytest.raises(NotAuthorizedError):
            await EncryptorClient(other).open_stream(SESSION, "video.0", write_end)
        with pytest.raises(NotFoundError):  # the same call from admin-ui gets past the check
            await admin_ui.open_stream(SESSION, "video.0", write_end)
    finally:
        os.close(read_end)
        os.close(write_end)
        other.disconnect()


async def test_a_damaged_chunk_cuts_the_stream_short(
    lucid: LucidEnv, bus: MessageBus, admin_ui: EncryptorClient
) -> None:
    lucid.set("chunker", "chunk_bytes", str(16 * 1024))  # several chunks per stream
    await _sealed_session(lucid, bus)
    chunks = [c for c in await EncryptorClient(bus).list_chunks(SESSION) if c[0] == "video.0"]
    assert len(chunks) >= 2, "the test needs a stream of two chunks or more"
    last = chunks[-1]
    path = Path(lucid.state / "store").rglob(last[2])
    [stored] = list(path)
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))

    size, video = await _read(admin_ui, SESSION, "video.0")
    assert size == sum(c[4] for c in chunks)
    assert len(video) == sum(c[4] for c in chunks[:-1]) < size
