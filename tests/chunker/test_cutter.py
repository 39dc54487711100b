"""Cutter: spool segments -> compressed chunks, driven directly (no bus, no daemon).

Segments are written by hand with a fixed mtime; the cutter's clock is injected, so the
flush interval is tested by moving the clock, never by sleeping.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from lucid.chunker.compress import CompressionLevels, decompress_chunk
from lucid.chunker.cutter import MIGRATIONS, CutPolicy, Cutter
from lucid.runtime import spool
from lucid.runtime.db import open_db
from lucid.runtime.errors import ConfigError

SESSION = "s1"
T0 = 1_700_000_000.0  # mtime of every hand-written segment
FLUSH = 10.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Harness:
    """A Cutter over a tmp spool and db, recording its ``on_chunk`` calls."""

    def __init__(self, root: Path, chunk_bytes: int) -> None:
        self.root = root
        self.spool = root / "spool"
        self.db_path = root / "chunker.db"
        self.policy = CutPolicy(chunk_bytes, FLUSH, CompressionLevels())
        self.clock = Clock()
        self.calls: list[tuple[str, str, int]] = []

    async def open(self) -> Cutter:
        """(Re)start: a new connection and Cutter, as after a daemon restart."""
        self.db = await open_db(self.db_path, MIGRATIONS)
        self.cutter = Cutter(
            self.db, self.spool, self.policy, lambda *a: self.calls.append(a), self.clock
        )
        return self.cutter

    async def restart(self) -> Cutter:
        await self.db.close()
        return await self.open()

    def stream(self, name: str) -> Path:
        path = self.spool / SESSION / name
        path.mkdir(parents=True, exist_ok=True)
        return path


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = Harness(tmp_path, chunk_bytes=1000)
    await harness.open()
    yield harness
    await harness.db.close()


def write_segments(stream_dir: Path, pieces: list[bytes], first: int = 0) -> None:
    for seq, data in enumerate(pieces, start=first):
        path = stream_dir / spool.segment_name(seq)
        path.write_bytes(data)
        os.utime(path, (T0, T0))


def split(data: bytes, sizes: list[int]) -> list[bytes]:
    assert sum(sizes) == len(data)
    out, pos = [], 0
    for size in sizes:
        out.append(data[pos : pos + size])
        pos += size
    return out


def read_chunks(stream_dir: Path) -> list[tuple[str, bytes]]:
    """(compression, plaintext) of every finished chunk, in index order; indices contiguous."""
    chunks = spool.list_chunks(stream_dir)
    assert sorted(chunks) == list(range(len(chunks)))
    out = []
    for index in range(len(chunks)):
        header, payload = spool.unpack_chunk(chunks[index].read_bytes())
        out.append(
            (header.compression, decompress_chunk(payload, header.compression, header.plain_size))
        )
    return out


def video_bytes(size: int) -> bytes:
    """Alternating random (stored) and repetitive (zstd) kilobyte runs."""
    rng = random.Random(5)
    out = bytearray()
    while len(out) < size:
        out += rng.randbytes(1500) if len(out) // 1500 % 2 else b"moof-mdat " * 150
    return bytes(out[:size])


def audit_bytes(size: int) -> bytes:
    out = bytearray()
    while len(out) < size:
        out += json.dumps({"t": T0 + len(out), "kind": "focus", "window": "xterm"}).encode() + b"\n"
    return bytes(out[:size])


async def test_full_chunks_cut_exactly_across_segment_boundaries(h: Harness) -> None:
    stream_dir = h.stream("video.0")
    data = video_bytes(5500)
    write_segments(stream_dir, split(data, [700, 1300, 1, 2499, 1000]))
    cutter = h.cutter
    await cutter.scan()
    chunks = read_chunks(stream_dir)
    assert [len(plain) for _, plain in chunks] == [1000] * 5  # the 500-byte tail waits
    assert b"".join(plain for _, plain in chunks) == data[:5000]
    assert h.calls == [(SESSION, "video.0", i) for i in range(5)]
    # Byte 5000 is offset 500 of segment 4: segments 0-3 are consumed and gone.
    assert sorted(spool.list_segments(stream_dir)) == [4]
    assert not (stream_dir / spool.CHUNKS_END).exists()
    assert cutter.stats["chunks_cut"] == 5 and cutter.stats["bytes_in"] == 5000
    assert cutter.stats["streams_open"] == 1


async def test_tail_is_cut_only_once_flush_seconds_have_passed(h: Harness) -> None:
    stream_dir = h.stream("audit.0")
    data = audit_bytes(300)
    write_segments(stream_dir, [data])
    h.clock.now = T0 + FLUSH - 0.5
    await h.cutter.scan()
    assert spool.list_chunks(stream_dir) == {} and h.calls == []
    h.clock.now = T0 + FLUSH
    await h.cutter.scan()
    assert [plain for _, plain in read_chunks(stream_dir)] == [data]
    assert h.calls == [(SESSION, "audit.0", 0)]


async def test_flush_age_is_that_of_the_oldest_pending_segment(h: Harness) -> None:
    stream_dir = h.stream("video.0")
    write_segments(stream_dir, [b"a" * 200, b"b" * 200])
    os.utime(stream_dir / spool.segment_name(1), (T0 + 9, T0 + 9))
    h.clock.now = T0 + FLUSH  # segment 0 is due, segment 1 is not: both go out together
    await h.cutter.scan()
    assert [plain for _, plain in read_chunks(stream_dir)] == [b"a" * 200 + b"b" * 200]


async def test_end_marker_cuts_final_chunk_and_closes_stream(h: Harness) -> None:
    stream_dir = h.stream("video.0")
    data = video_bytes(2300)
    write_segments(stream_dir, split(data, [1200, 1100]))
    spool.atomic_write(stream_dir / spool.STREAM_END, b"2")  # segment 2 has not arrived yet
    await h.cutter.scan()
    assert len(read_chunks(stream_dir)) == 2 and not (stream_dir / spool.CHUNKS_END).exists()

    write_segments(stream_dir, [b"last"], first=2)
    await h.cutter.scan()
    assert [plain for _, plain in read_chunks(stream_dir)] == [
        data[:1000],
        data[1000:2000],
        data[2000:] + b"last",
    ]
    assert spool.read_int(stream_dir / spool.CHUNKS_END) == 3
    assert spool.list_segments(stream_dir) == {}
    assert h.cutter.stats["streams_open"] == 0
    async with h.db.execute("SELECT done, next_index FROM streams") as cur:
        assert [tuple(r) for r in await cur.fetchall()] == [(1, 3)]

    write_segments(stream_dir, [b"late"], first=3)  # a done stream is never cut again
    h.clock.now = T0 + 10 * FLUSH
    await h.cutter.scan()
    assert len(h.calls) == 3 and len(spool.list_chunks(stream_dir)) == 3


@pytest.mark.parametrize(("stream", "make"), [("video.0", video_bytes), ("audit.0", audit_bytes)])
async def test_chunks_concatenate_to_the_stream(
    h: Harness, stream: str, make: Callable[[int], bytes]
) -> None:
    stream_dir = h.stream(stream)
    data: bytes = make(9000)
    pieces = split(data, [333, 1667, 2000, 1, 899, 2600, 1500])
    # Segments arrive in three batches with scans (and a flush) in between.
    write_segments(stream_dir, pieces[:2])
    await h.cutter.scan()
    write_segments(stream_dir, pieces[2:5], first=2)
    h.clock.now = T0 + FLUSH  # flushes a partial chunk mid-stream
    await h.cutter.scan()
    write_segments(stream_dir, pieces[5:], first=5)
    spool.atomic_write(stream_dir / spool.STREAM_END, str(len(pieces) - 1).encode())
    await h.cutter.scan()
    chunks = read_chunks(stream_dir)
    assert b"".join(plain for _, plain in chunks) == data
    assert spool.read_int(stream_dir / spool.CHUNKS_END) == len(chunks) == len(h.calls)
    assert any(len(plain) < 1000 for _, plain in chunks[:-1])  # the flush really happened
    kinds = {c for c, _ in chunks}
    assert kinds >= ({"zstd", "none"} if stream.startswith("video") else {"zstd"})


async def test_recorded_part_is_renamed_after_restart(h: Harness) -> None:
    stream_dir = h.stream("video.0")
    data = video_bytes(2500)
    pieces = split(data, [1500, 1000])
    write_segments(stream_dir, pieces)
    await h.cutter.scan()
    # Crash after the commit of chunk 1, before its rename and the segment cleanup.
    last = stream_dir / spool.chunk_name(1)
    last.rename(last.with_name(last.name + ".part"))
    write_segments(stream_dir, pieces)
    cutter = await h.restart()
    await cutter.scan()
    assert [plain for _, plain in read_chunks(stream_dir)] == [data[:1000], data[1000:2000]]
    assert not list(stream_dir.glob("*.part"))
    assert sorted(spool.list_segments(stream_dir)) == [1]  # segment 0 was consumed
    assert cutter.stats["chunks_cut"] == 0  # nothing was cut twice


async def test_unrecorded_part_is_deleted_and_recut(h: Harness) -> None:
    stream_dir = h.stream("video.0")
    data = video_bytes(1200)
    write_segments(stream_dir, [data])
    # Crash after writing chunk 0's .part, before recording it.
    (stream_dir / (spool.chunk_name(0) + ".part")).write_bytes(b"half a chunk")
    await h.cutter.scan()
    assert [plain for _, plain in read_chunks(stream_dir)] == [data[:1000]]
    assert not list(stream_dir.glob("*.part"))
    assert h.calls == [(SESSION, "video.0", 0)]


async def test_restart_resumes_at_the_recorded_position(h: Harness) -> None:
    stream_dir = h.stream("audit.0")
    data = audit_bytes(4200)
    pieces = split(data, [1700, 1700, 800])
    write_segments(stream_dir, pieces[:2])
    await h.cutter.scan()
    cutter = await h.restart()
    write_segments(stream_dir, pieces[2:], first=2)
    spool.atomic_write(stream_dir / spool.STREAM_END, b"2")
    await cutter.scan()
    assert b"".join(plain for _, plain in read_chunks(stream_dir)) == data
    assert h.calls == [(SESSION, "audit.0", i) for i in range(5)]


async def test_stream_starting_after_consumed_segments(h: Harness) -> None:
    stream_dir = h.stream("video.1")
    write_segments(stream_dir, [b"x" * 600, b"y" * 600], first=7)
    await h.cutter.scan()
    assert [plain for _, plain in read_chunks(stream_dir)] == [b"x" * 600 + b"y" * 400]


async def test_empty_stream_ends_with_zero_chunks(h: Harness) -> None:
    stream_dir = h.stream("audit.1")
    spool.atomic_write(stream_dir / spool.STREAM_END, b"-1")
    await h.cutter.scan()
    assert spool.read_int(stream_dir / spool.CHUNKS_END) == 0
    assert spool.list_chunks(stream_dir) == {} and h.calls == []
    assert h.cutter.stats["streams_open"] == 0


@pytest.mark.parametrize("size", [0, 16 * 1024 * 1024 + 1, 64 * 1024 * 1024])
def test_chunk_size_beyond_the_format_is_a_config_error(size: int) -> None:
    """A chunk larger than docs/evidence.md allows would seal into unverifiable bundles."""
    with pytest.raises(ConfigError, match=r"chunker\.chunk_bytes"):
        CutPolicy(chunk_bytes=size, flush_seconds=10, levels=CompressionLevels())


async def test_stream_whose_cut_segment_shrank_still_finishes(h: Harness) -> None:
    """After a power cut the segment under the saved position can be shorter than what was
    already cut from it; the ended stream must still finish (it used to wait for ever)."""
    stream = h.stream("audit.0")
    write_segments(stream, [b"a" * 1500])
    await h.cutter.scan()
    assert len(h.calls) == 1  # one full chunk of 1000 bytes; 500 wait for the flush
    write_segments(stream, [b"b" * 200])  # the spool lost the tail; the same seq, shorter
    (stream / spool.STREAM_END).write_text("0")
    await h.restart()
    await h.cutter.scan()
    assert (stream / spool.CHUNKS_END).exists(), "the stream never finished"
    assert [payload for _, payload in read_chunks(stream)] == [b"a" * 1000]
