"""Seal spool chunks into the store and track which sessions are complete.

For each ``chunk-N.zc`` in the spool: encrypt with the session's data key (from walletd)
and the associated data binding session, stream and index; store the ciphertext under its
leaf hash; record it; only then delete the plaintext. A chunk already recorded is just
deleted (a crash between record and delete). A session is complete when the recorder wrote
``session.end``, every stream has ``chunks.end`` and all its chunks are recorded; then its
spool directory is removed. This module does not talk to the bus: keys come through
``KeySource`` and news goes out through callbacks.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import aiosqlite

from lucid.evidence.crypto import seal_chunk
from lucid.evidence.tree import leaf_hash
from lucid.runtime import spool
from lucid.runtime.store import ChunkStore

if TYPE_CHECKING:  # the payload shape only; the bus library is not imported at run time
    from lucid.encryptor.client import ProducerInfo

MIGRATIONS = [
    """
    CREATE TABLE chunks (
        session TEXT NOT NULL,
        stream TEXT NOT NULL,
        idx INTEGER NOT NULL,
        hash TEXT NOT NULL,
        size INTEGER NOT NULL,
        plain_size INTEGER NOT NULL,
        compression TEXT NOT NULL,
        sealed_at REAL NOT NULL,
        PRIMARY KEY (session, stream, idx)
    );
    CREATE TABLE sessions (
        session TEXT PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN ('open', 'complete')),
        updated_at REAL NOT NULL
    );
    """,
    # The producer's session.json, kept when the spool directory goes.
    "ALTER TABLE sessions ADD COLUMN info TEXT NOT NULL DEFAULT '{}';",
]

KeySource = Callable[[str], Awaitable[bytes]]


@dataclass(frozen=True)
class SealedChunk:
    stream: str
    index: int
    hash: str
    size: int
    plain_size: int
    compression: str


class Sealer:
    def __init__(
        self,
        db: aiosqlite.Connection,
        spool_dir: Path,
        store: ChunkStore,
        data_key: KeySource,
        on_sealed: Callable[[str, str, int, str], None],
        on_complete: Callable[[str], None],
    ) -> None:
        self._db = db
        self._spool = spool_dir
        self._store = store
        self._data_key = data_key
        self._on_sealed = on_sealed
        self._on_complete = on_complete
        self._keys: dict[str, bytes] = {}

    async def scan(self) -> None:
        """Seal every pending chunk, then close sessions that are complete.

        Raises:
            StorageFullError: the store is full (the chunk stays in the spool).
            BusError: walletd did not hand out the key (the chunk stays in the spool).
        """
        for session_dir in spool.sessions(self._spool):
            session = session_dir.name
            stream_dirs = spool.streams(session_dir)
            for stream_dir in stream_dirs:
                for index, path in sorted(spool.list_chunks(stream_dir).items()):
                    await self._seal(session, stream_dir.name, index, path)
            if await self._is_complete(session_dir, stream_dirs):
                await self._set_state(session, "complete", spool.read_session_info(session_dir))
                await asyncio.to_thread(shutil.rmtree, session_dir)
                self._keys.pop(session, None)
                self._on_complete(session)

    async def _seal(self, session: str, stream: str, index: int, path: Path) -> None:
        if await self._recorded(session, stream, index):
            path.unlink(missing_ok=True)
            return
        key = self._keys.get(session)
        if key is None:
            key = self._keys[session] = await self._data_key(session)
            await self._set_state(session, "open")
        raw = await asyncio.to_thread(path.read_bytes)
        try:
            header, payload = spool.unpack_chunk(raw)
        except ValueError:
            # Not ours (the chunker writes only valid chunks): leave it for inspection.
            bad = path.with_name(path.name + ".bad")
            path.rename(bad)
            return

        def work() -> tuple[str, int]:
            sealed = seal_chunk(key, session, stream, index, payload)
            digest = leaf_hash(sealed).hex()
            self._store.put(digest, sealed)
            return digest, len(sealed)

        digest, size = await asyncio.to_thread(work)
        await self._db.execute(
            "INSERT INTO chunks(session, stream, idx, hash, size, plain_size, compression, "
            "sealed_at) VALUES (?,?,?,?,?,?,?,?)",
            (
                session,
                stream,
                index,
                digest,
                size,
                header.plain_size,
                header.compression,
                time.time(),
            ),
        )
        path.unlink()
        self._on_sealed(session, stream, index, digest)

    async def _recorded(self, session: str, stream: str, index: int) -> bool:
        async with self._db.execute(
            "SELECT 1 FROM chunks WHERE session=? AND stream=? AND idx=?", (session, stream, index)
        ) as cur:
            return await cur.fetchone() is not None

    async def _is_complete(self, session_dir: Path, stream_dirs: list[Path]) -> bool:
        if not (session_dir / spool.SESSION_END).exists():
            return False
        for stream_dir in stream_dirs:
            count = spool.read_int(stream_dir / spool.CHUNKS_END)
            if count is None:
                return False
            async with self._db.execute(
                "SELECT COUNT(*) FROM chunks WHERE session=? AND stream=?",
                (session_dir.name, stream_dir.name),
            ) as cur:
                row = await cur.fetchone()
            if row is None or int(row[0]) != count:
                return False
        return True

    async def _set_state(
        self, session: str, state: str, info: dict[str, str] | None = None
    ) -> None:
        await self._db.execute(
            "INSERT INTO sessions(session, state, updated_at, info) VALUES (?,?,?,?) "
            "ON CONFLICT(session) DO UPDATE SET state=excluded.state, "
            "updated_at=excluded.updated_at, info=excluded.info",
            (session, state, time.time(), json.dumps(info or {}, sort_keys=True)),
        )

    async def info(self, session: str) -> ProducerInfo | None:
        """The producer's session facts recorded at completion, as
        `lucid.runtime.spool.read_session_info` read them (None: unknown session)."""
        async with self._db.execute("SELECT info FROM sessions WHERE session=?", (session,)) as c:
            row = await c.fetchone()
        return None if row is None else cast("ProducerInfo", dict(json.loads(row[0])))

    async def chunks(self, session: str) -> list[SealedChunk]:
        async with self._db.execute(
            "SELECT stream, idx, hash, size, plain_size, compression FROM chunks "
            "WHERE session=? ORDER BY stream, idx",
            (session,),
        ) as cur:
            return [
                SealedChunk(r[0], int(r[1]), r[2], int(r[3]), int(r[4]), r[5]) async for r in cur
            ]

    async def sessions(self) -> list[tuple[str, str]]:
        async with self._db.execute("SELECT session, state FROM sessions ORDER BY session") as cur:
            return [(r[0], r[1]) async for r in cur]
