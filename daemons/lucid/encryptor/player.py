"""Stream one stream of a sealed session, decrypted, into a caller's pipe (web playback).

The web page plays recordings without the data key ever leaving the device's key path:
admin-ui hands the encryptor the write end of a pipe, the encryptor (which may already ask
walletd for data keys) opens the session's data key, then decrypts the stream's chunks from
the content-addressed store in index order into the pipe from a worker thread. Plaintext
exists only in memory and in the pipe; nothing is written to disk.

`Player.open` checks everything it can before returning (session complete, stream known,
every chunk present, data key available) and returns the stream's plaintext size, so the
caller can announce it (HTTP Content-Length). A failure after that closes the pipe early:
the reader sees fewer bytes than announced and must treat the stream as broken. A reader
that goes away (EPIPE) just ends the stream. At most ``max_streams`` run at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from lucid.encryptor.sealer import SealedChunk, Sealer
from lucid.evidence.errors import EvidenceError
from lucid.evidence.playback import open_plain
from lucid.evidence.tree import leaf_hash
from lucid.runtime.errors import NotFoundError, UnavailableError
from lucid.runtime.ids import check_session
from lucid.runtime.store import ChunkStore

log = logging.getLogger("lucid.encryptor.player")

KeySource = Callable[[str], Awaitable[bytes]]
Spawn = Callable[[Coroutine[Any, Any, Any], str], asyncio.Task[Any]]


class StreamBrokenError(Exception):
    """A stored chunk is missing, altered or does not open (the stream stops there)."""


class Player:
    def __init__(
        self,
        sealer: Sealer,
        store: ChunkStore,
        data_key: KeySource,
        spawn: Spawn,
        max_streams: int = 2,
    ) -> None:
        self._sealer = sealer
        self._store = store
        self._data_key = data_key
        self._spawn = spawn
        self._slots = max_streams
        self._running = 0

    async def open(self, session: str, stream: str, fd: int) -> int:
        """Start writing ``stream`` of ``session`` into ``fd`` (a dup is kept); return its size.

        Raises:
            NotFoundError: the session is not complete here, or has no such stream, or a
                chunk is missing from the store.
            UnavailableError: ``max_streams`` playbacks are already running.
        """
        check_session(session)
        if dict(await self._sealer.sessions()).get(session) != "complete":
            raise NotFoundError(f"session {session} is not a complete recording on this device")
        chunks = [c for c in await self._sealer.chunks(session) if c.stream == stream]
        if not chunks:
            raise NotFoundError(f"session {session} has no stream {stream!r}")
        missing = [c for c in chunks if not self._store.has(c.hash)]
        if missing:
            raise NotFoundError(
                f"session {session}: {len(missing)} chunk(s) of {stream} are missing from the store"
            )
        if self._running >= self._slots:
            raise UnavailableError(
                f"{self._slots} playbacks are already running; try again when one ends"
            )
        key = await self._data_key(session)
        out = os.dup(fd)  # the dispatcher closes the received fd; this copy is the stream's
        self._running += 1
        self._spawn(self._run(session, stream, chunks, key, out), f"play {session} {stream}")
        return sum(c.plain_size for c in chunks)

    async def _run(
        self, session: str, stream: str, chunks: list[SealedChunk], key: bytes, out: int
    ) -> None:
        try:
            await asyncio.to_thread(self._write_all, session, chunks, key, out)
        except BrokenPipeError:
            log.info("playback of %s %s: the reader went away", session, stream)
        except (StreamBrokenError, OSError) as err:
            log.error("playback of %s %s stopped: %s", session, stream, err)
        finally:
            os.close(out)
            self._running -= 1

    def _write_all(self, session: str, chunks: list[SealedChunk], key: bytes, out: int) -> None:
        for c in chunks:
            sealed = self._store.read(c.hash)
            if leaf_hash(sealed).hex() != c.hash:
                raise StreamBrokenError(f"{c.stream}[{c.index}] does not match its hash")
            try:
                plain = open_plain(
                    key, session, (c.stream, c.index, c.plain_size, c.compression), sealed
                )
            except EvidenceError as err:
                raise StreamBrokenError(str(err)) from None
            view = memoryview(plain)
            while view:
                view = view[os.write(out, view) :]
