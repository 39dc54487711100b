"""Sealer: spool chunks -> ciphertext store, driven directly (no bus, no walletd).

The data key comes from an async key source returning a fixed key; the store is a real
``ChunkStore`` in tmp_path; chunks are written into the spool as the chunker would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lucid.encryptor.client import ProducerInfo
from lucid.encryptor.sealer import MIGRATIONS, SealedChunk, Sealer
from lucid.evidence.crypto import open_chunk
from lucid.evidence.errors import DecryptionError
from lucid.evidence.tree import leaf_hash
from lucid.runtime import spool
from lucid.runtime.db import open_db
from lucid.runtime.errors import UnavailableError
from lucid.runtime.store import ChunkStore

KEY = bytes(range(32))
SESSION = "s1"


class Harness:
    """A Sealer over tmp spool/store/db with a counting key source and recorded callbacks."""

    def __init__(self, root: Path) -> None:
        self.spool = root / "spool"
        self.store = ChunkStore(root / "store", fsync=False)
        self.db_path = root / "encryptor.db"
        self.key_calls: list[str] = []
        self.key_error: Exception | None = None
        self.sealed: list[tuple[str, str, int, str]] = []
        self.completed: list[str] = []

    async def key(self, session: str) -> bytes:
        self.key_calls.append(session)
        if self.key_error is not None:
            raise self.key_error
        return KEY

    async def open(self) -> Sealer:
        """(Re)start: a new connection and Sealer (empty key cache), as after a restart."""
        self.db = await open_db(self.db_path, MIGRATIONS)
        self.sealer = Sealer(
            self.db,
            self.spool,
            self.store,
            self.key,
            lambda *a: self.sealed.append(a),
            self.completed.append,
        )
        return self.sealer

    async def restart(self) -> Sealer:
        await self.db.close()
        return await self.open()

    def put_chunk(self, stream: str, index: int, payload: bytes, session: str = SESSION) -> Path:
        """A spool chunk as the chunker writes it (stored, plain_size = len(payload))."""
        stream_dir = self.spool / session / stream
        stream_dir.mkdir(parents=True, exist_ok=True)
        path = stream_dir / spool.chunk_name(index)
        spool.atomic_write(path, spool.pack_chunk("none", len(payload), payload))
        return path

    def end_stream(self, stream: str, count: int, session: str = SESSION) -> None:
        stream_dir = self.spool / session / stream
        stream_dir.mkdir(parents=True, exist_ok=True)
        spool.atomic_write(stream_dir / spool.CHUNKS_END, str(count).encode())

    def end_session(self, session: str = SESSION) -> None:
        spool.atomic_write(self.spool / session / spool.SESSION_END, b"")

    def stored(self) -> list[Path]:
        return sorted(p for p in self.store.root.rglob("*") if p.is_file())


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = Harness(tmp_path)
    await harness.open()
    yield harness
    await harness.db.close()


async def test_chunk_is_sealed_stored_under_its_leaf_hash_and_deleted(h: Harness) -> None:
    path = h.put_chunk("video.0", 3, b"fragmented mp4 bytes")
    await h.sealer.scan()
    assert not path.exists()
    [(session, stream, index, digest)] = h.sealed
    assert (session, stream, index) == (SESSION, "video.0", 3)
    sealed = h.store.read(digest)
    assert h.stored() == [h.store.path(digest)]
    assert leaf_hash(sealed).hex() == digest
    assert open_chunk(KEY, SESSION, "video.0", 3, sealed) == b"fragmented mp4 bytes"
    with pytest.raises(DecryptionError):
        open_chunk(KEY, SESSION, "video.0", 2, sealed)
    with pytest.raises(DecryptionError):
        open_chunk(KEY, "s2", "video.0", 3, sealed)
    assert h.key_calls == [SESSION]


async def test_chunks_and_sessions_report_what_was_sealed(h: Harness) -> None:
    zstd_payload = b"\x28\xb5\x2f\xfd pretend zstd"
    stream_dir = h.spool / SESSION / "audit.0"
    stream_dir.mkdir(parents=True)
    spool.atomic_write(
        stream_dir / spool.chunk_name(0), spool.pack_chunk("zstd", 4096, zstd_payload)
    )
    h.put_chunk("video.0", 0, b"a" * 100)
    h.put_chunk("video.0", 1, b"b" * 50)
    h.put_chunk("video.0", 0, b"other session", session="s2")
    await h.sealer.scan()
    chunks = await h.sealer.chunks(SESSION)
    digests = {(s, i): d for sess, s, i, d in h.sealed if sess == SESSION}
    assert chunks == [
        SealedChunk("audit.0", 0, digests["audit.0", 0], len(zstd_payload) + 40, 4096, "zstd"),
        SealedChunk("video.0", 0, digests["video.0", 0], 140, 100, "none"),
        SealedChunk("video.0", 1, digests["video.0", 1], 90, 50, "none"),
    ]
    assert [c.stream for c in await h.sealer.chunks("s2")] == ["video.0"]
    assert await h.sealer.chunks("nobody") == []
    assert await h.sealer.sessions() == [(SESSION, "open"), ("s2", "open")]
    assert sorted(h.key_calls) == [SESSION, "s2"]  # one key request per session


async def test_recorded_chunk_found_again_is_only_deleted(h: Harness) -> None:
    h.put_chunk("video.0", 0, b"payload")
    await h.sealer.scan()
    assert len(h.sealed) == 1
    # Crash between recording and deleting: the plaintext chunk is still in the spool.
    path = h.put_chunk("video.0", 0, b"payload")
    sealer = await h.restart()
    await sealer.scan()
    assert not path.exists()
    assert len(h.sealed) == 1 and len(h.stored()) == 1
    assert len(await sealer.chunks(SESSION)) == 1
    assert h.key_calls == [SESSION]  # no key needed to drop a chunk already sealed


async def test_malformed_chunk_is_set_aside_not_sealed(h: Harness) -> None:
    path = h.put_chunk("video.0", 0, b"ok")
    path.write_bytes(b"NOPE" + bytes(20))
    await h.sealer.scan()
    assert not path.exists()
    assert path.with_name(path.name + ".bad").read_bytes() == b"NOPE" + bytes(20)
    assert h.sealed == [] and h.stored() == []
    assert await h.sealer.chunks(SESSION) == []
    await h.sealer.scan()  # the .bad file is not picked up again
    assert h.sealed == [] and path.with_name(path.name + ".bad").exists()


async def test_session_completes_only_when_everything_is_in(h: Harness) -> None:
    session_dir = h.spool / SESSION
    h.put_chunk("video.0", 0, b"v0")
    h.put_chunk("video.0", 1, b"v1")
    h.put_chunk("audit.0", 0, b"a0")
    h.end_stream("video.0", 2)
    h.end_stream("audit.0", 2)  # audit.0#1 has not been cut yet
    await h.sealer.scan()
    assert h.completed == [] and session_dir.exists()  # no session.end

    h.end_session()
    await h.sealer.scan()
    assert h.completed == [] and session_dir.exists()  # audit.0 is short of a chunk

    (session_dir / "video.1").mkdir()  # a stream without chunks.end holds completion up
    h.put_chunk("audit.0", 1, b"a1")
    await h.sealer.scan()
    assert h.completed == [] and session_dir.exists()
    assert await h.sealer.sessions() == [(SESSION, "open")]

    h.end_stream("video.1", 0)
    await h.sealer.scan()
    assert h.completed == [SESSION]
    assert not session_dir.exists()
    assert await h.sealer.sessions() == [(SESSION, "complete")]
    assert len(await h.sealer.chunks(SESSION)) == 4
    await h.sealer.scan()
    assert h.completed == [SESSION]  # fires once


def test_get_session_info_shape_is_what_producers_may_write() -> None:
    """ProducerInfo (GetSessionInfo) names exactly the session.json keys, none required."""
    assert ProducerInfo.__optional_keys__ == frozenset(spool.SESSION_INFO_KEYS)
    assert ProducerInfo.__required_keys__ == frozenset()


async def test_completion_survives_a_restart_between_sealing_and_cleanup(h: Harness) -> None:
    h.put_chunk("video.0", 0, b"v0")
    await h.sealer.scan()
    sealer = await h.restart()
    h.end_stream("video.0", 1)
    h.end_session()
    await sealer.scan()
    assert h.completed == [SESSION] and not (h.spool / SESSION).exists()


async def test_key_source_failure_propagates_and_keeps_the_chunk(h: Harness) -> None:
    path = h.put_chunk("video.0", 0, b"payload")
    h.key_error = UnavailableError("walletd is not running")
    with pytest.raises(UnavailableError, match="walletd"):
        await h.sealer.scan()
    assert path.read_bytes() == spool.pack_chunk("none", 7, b"payload")
    assert h.sealed == [] and h.stored() == []
    assert await h.sealer.chunks(SESSION) == [] and await h.sealer.sessions() == []

    h.key_error = None  # walletd is back: the next scan seals it
    await h.sealer.scan()
    assert not path.exists() and [s[:3] for s in h.sealed] == [(SESSION, "video.0", 0)]
