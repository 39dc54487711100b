"""Cut spool streams into compressed chunks, resumable after a crash.

For each stream the database keeps the position (segment, offset) where the next chunk
starts and the next chunk index. A chunk is written as ``.part``, then recorded in the
database together with the new position, then renamed to its final name (only then can the
encryptor see it), then the fully consumed segments are deleted. Every step is redone
safely on restart (``reconcile``). Chunks are cut when a full chunk is pending, when the
oldest pending byte is older than the flush interval, and at the end of a stream.
This module does not talk to the bus; ``on_chunk`` tells the caller about new chunks.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from lucid.chunker.compress import CompressionLevels, compress_chunk
from lucid.evidence.limits import MAX_PLAIN_SIZE
from lucid.runtime import spool
from lucid.runtime.errors import ConfigError

MIGRATIONS = [
    """
    CREATE TABLE streams (
        session TEXT NOT NULL,
        stream TEXT NOT NULL,
        next_index INTEGER NOT NULL DEFAULT 0,
        seq INTEGER NOT NULL DEFAULT 0,
        offset INTEGER NOT NULL DEFAULT 0,
        done INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (session, stream)
    );
    CREATE TABLE chunks (
        session TEXT NOT NULL,
        stream TEXT NOT NULL,
        idx INTEGER NOT NULL,
        end_seq INTEGER NOT NULL,
        end_offset INTEGER NOT NULL,
        plain_size INTEGER NOT NULL,
        stored_size INTEGER NOT NULL,
        compression TEXT NOT NULL,
        cut_at REAL NOT NULL,
        PRIMARY KEY (session, stream, idx)
    );
    """,
]


@dataclass
class Position:
    next_index: int
    seq: int
    offset: int
    done: bool


@dataclass(frozen=True)
class CutPolicy:
    """How the chunker cuts. ``chunk_bytes`` is bounded by the evidence format: a chunk's
    plaintext above ``lucid.evidence.limits.MAX_PLAIN_SIZE`` would seal into bundles that
    every verifier refuses.

    Raises:
        ConfigError: ``chunk_bytes`` outside 1 B .. MAX_PLAIN_SIZE, or a flush interval <= 0.
    """

    chunk_bytes: int
    flush_seconds: float
    levels: CompressionLevels

    def __post_init__(self) -> None:
        if not 0 < self.chunk_bytes <= MAX_PLAIN_SIZE:
            raise ConfigError(
                f"config chunker.chunk_bytes: {self.chunk_bytes} is outside 1..{MAX_PLAIN_SIZE} "
                "(the evidence format's largest chunk, docs/evidence.md)"
            )
        if self.flush_seconds <= 0:
            raise ConfigError("config chunker.flush_seconds: must be > 0")


ChunkCallback = Callable[[str, str, int], None]


class Cutter:
    def __init__(
        self,
        db: aiosqlite.Connection,
        spool_dir: Path,
        policy: CutPolicy,
        on_chunk: ChunkCallback,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._spool = spool_dir
        self._policy = policy
        self._on_chunk = on_chunk
        self._clock = clock
        self.stats = {"chunks_cut": 0, "bytes_in": 0, "bytes_out": 0, "streams_open": 0}

    async def scan(self) -> None:
        """One pass over every stream in the spool."""
        open_streams = 0
        for session_dir in spool.sessions(self._spool):
            for stream_dir in spool.streams(session_dir):
                if not await self._scan_stream(session_dir.name, stream_dir):
                    open_streams += 1
        self.stats["streams_open"] = open_streams

    async def _position(self, session: str, stream: str) -> Position:
        async with self._db.execute(
            "SELECT next_index, seq, offset, done FROM streams WHERE session=? AND stream=?",
            (session, stream),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return Position(0, 0, 0, False)
        return Position(int(row[0]), int(row[1]), int(row[2]), bool(row[3]))

    async def _scan_stream(self, session: str, stream_dir: Path) -> bool:
        """Cut what is due in one stream; True once the stream is finished."""
        stream = stream_dir.name
        pos = await self._position(session, stream)
        self._reconcile(stream_dir, pos)
        if pos.done:
            return True
        segments = spool.list_segments(stream_dir)
        if pos.seq == 0 and pos.offset == 0 and segments and 0 not in segments:
            pos.seq = min(segments)  # stream began after its earliest segments were consumed
        sizes: list[tuple[int, int]] = []
        seq = pos.seq
        while seq in segments:
            sizes.append((seq, segments[seq].stat().st_size))
            seq += 1
        pending = sum(size for _, size in sizes) - pos.offset
        last_seq = spool.read_int(stream_dir / spool.STREAM_END)
        ended = last_seq is not None and (last_seq < pos.seq or seq > last_seq)
        while pending >= self._policy.chunk_bytes:
            pos = await self._cut(session, stream_dir, pos, segments, self._policy.chunk_bytes)
            pending -= self._policy.chunk_bytes
        if pending > 0 and (ended or self._age(segments, pos) >= self._policy.flush_seconds):
            pos = await self._cut(session, stream_dir, pos, segments, pending)
            pending = 0
        # pending < 0: the segment under the saved position is shorter than what was cut from
        # it (a power cut lost the tail of the spool): nothing is left to cut, so finish.
        if ended and pending <= 0:
            await self._finish(session, stream_dir, pos)
            return True
        return False

    def _age(self, segments: dict[int, Path], pos: Position) -> float:
        try:
            return self._clock() - segments[pos.seq].stat().st_mtime
        except (KeyError, FileNotFoundError):
            return 0.0

    def _reconcile(self, stream_dir: Path, pos: Position) -> None:
        # Finish the steps after a committed cut that a crash may have interrupted.
        for name in os.listdir(stream_dir) if stream_dir.exists() else []:
            if name.startswith("chunk-") and name.endswith(".zc.part"):
                index = int(name[6:14])
                part = stream_dir / name
                if index < pos.next_index:
                    part.rename(stream_dir / spool.chunk_name(index))
                else:
                    part.unlink()
        for seq, path in spool.list_segments(stream_dir).items():
            if seq < pos.seq:
                path.unlink()

    async def _cut(
        self, session: str, stream_dir: Path, pos: Position, segments: dict[int, Path], n: int
    ) -> Position:
        data, end_seq, end_offset = _read_span(segments, pos.seq, pos.offset, n)
        kind = "video" if stream_dir.name.startswith("video") else "audit"
        packed = await asyncio.to_thread(self._compress, data, kind)
        index = pos.next_index
        part = stream_dir / (spool.chunk_name(index) + ".part")
        await asyncio.to_thread(_write, part, packed[0])
        new = Position(index + 1, end_seq, end_offset, False)
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            await self._db.execute(
                "INSERT INTO chunks(session, stream, idx, end_seq, end_offset, plain_size, "
                "stored_size, compression, cut_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    session,
                    stream_dir.name,
                    index,
                    end_seq,
                    end_offset,
                    len(data),
                    len(packed[0]),
                    packed[1],
                    self._clock(),
                ),
            )
            await self._db.execute(
                "INSERT INTO streams(session, stream, next_index, seq, offset) VALUES (?,?,?,?,?) "
                "ON CONFLICT(session, stream) DO UPDATE SET next_index=excluded.next_index, "
                "seq=excluded.seq, offset=excluded.offset",
                (session, stream_dir.name, new.next_index, new.seq, new.offset),
            )
            await self._db.execute("COMMIT")
        except BaseException:
            await self._db.execute("ROLLBACK")
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
            raise
        part.rename(stream_dir / spool.chunk_name(index))
        self._reconcile(stream_dir, new)
        self.stats["chunks_cut"] += 1
        self.stats["bytes_in"] += len(data)
        self.stats["bytes_out"] += len(packed[0])
        self._on_chunk(session, stream_dir.name, index)
        return new

    def _compress(self, data: bytes, kind: str) -> tuple[bytes, str]:
        result = compress_chunk(data, kind, self._policy.levels)  # type: ignore[arg-type]  # kind is "video" or "audit"
        return spool.pack_chunk(
            result.compression, result.plain_size, result.data
        ), result.compression

    async def _finish(self, session: str, stream_dir: Path, pos: Position) -> None:
        spool.atomic_write(stream_dir / spool.CHUNKS_END, str(pos.next_index).encode())
        await self._db.execute(
            "INSERT INTO streams(session, stream, next_index, seq, offset, done) "
            "VALUES (?,?,?,?,?,1) ON CONFLICT(session, stream) DO UPDATE SET done=1",
            (session, stream_dir.name, pos.next_index, pos.seq, pos.offset),
        )
        for path in spool.list_segments(stream_dir).values():
            path.unlink()


def _read_span(segments: dict[int, Path], seq: int, offset: int, n: int) -> tuple[bytes, int, int]:
    """Read ``n`` bytes of the stream from (seq, offset); return data and the end position."""
    parts: list[bytes] = []
    remaining = n
    while remaining > 0:
        with open(segments[seq], "rb") as fh:
            fh.seek(offset)
            piece = fh.read(remaining)
            size = os.fstat(fh.fileno()).st_size
        parts.append(piece)
        remaining -= len(piece)
        offset += len(piece)
        if offset >= size:
            seq, offset = seq + 1, 0
    return b"".join(parts), seq, offset


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
