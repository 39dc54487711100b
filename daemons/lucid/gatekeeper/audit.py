"""gatekeeper's device audit stream: decisions as JSON lines in the RAM spool.

Each decision (request, approval, denial, expiry, revocation, policy change, registration)
is one line ``{"t": "<RFC 3339 ms>", "type": ..., ...}`` appended to the producer session
``gatekeeper-<UTC stamp>-<hex>`` in its one stream ``audit.0``, laid out exactly like a
recorder session (``seg-NNNNNNNN.part`` -> atomic rename to ``.seg``; ``END``; then
``session.json`` + ``session.end``), so the chunker, encryptor and merkle seal it like any
session. A session is opened by its first event (an empty one would have nothing to seal)
and ended by `rotate` after ``rotate_s`` or at `close`. `recover` ends the sessions a crash
left open. This module does not fsync (the spool is RAM) and does not know the bus.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lucid.runtime import spool
from lucid.runtime.errors import StorageFullError
from lucid.runtime.ids import new_session_id

PRODUCER = "gatekeeper"
STREAM = "audit.0"
_FILE_MODE = 0o640  # the chunker reads (and removes) segments as a group member

Clock = Callable[[], float]


def rfc3339(ts: float) -> str:
    """``ts`` (Unix seconds) as RFC 3339 UTC with milliseconds and ``Z``."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _stamp_time(session: str) -> float | None:
    """When ``gatekeeper-<YYYYmmddTHHMMSSZ>-<hex>`` began, from its name."""
    parts = session.split("-")
    if len(parts) < 2:
        return None
    try:
        return datetime.strptime(parts[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


class AuditLog:
    """Append-only JSON-lines audit stream with segment rolls and session rotation."""

    def __init__(self, spool_dir: Path, clock: Clock, rotate_s: float, segment_s: float) -> None:
        self._spool = spool_dir
        self._clock = clock
        self._rotate_s = rotate_s
        self._segment_s = segment_s
        self._session: str | None = None
        self._started = 0.0
        self._seq = 0
        self._fd: int | None = None
        self._part_opened = 0.0
        self.events = 0  # events written since start (for logs and tests)

    @property
    def session(self) -> str | None:
        """The audit session being written, if any."""
        return self._session

    def _stream_dir(self) -> Path:
        assert self._session is not None
        return self._spool / self._session / STREAM

    def _part(self) -> Path:
        return self._stream_dir() / f"seg-{self._seq:08d}.part"

    def write(self, event_type: str, **fields: Any) -> None:
        """Append one event line now (opening a session and a part as needed).

        Raises:
            StorageFullError: the spool is full (the line is not written).
        """
        now = self._clock()
        line = json.dumps({"t": rfc3339(now), "type": event_type, **fields}, sort_keys=True)
        data = (line + "\n").encode()
        if self._session is None:
            self._session = new_session_id(PRODUCER)
            self._started = now
            self._seq = 0
            self._stream_dir().mkdir(parents=True, exist_ok=True)
        if self._fd is None:
            self._fd = os.open(self._part(), os.O_WRONLY | os.O_CREAT | os.O_APPEND, _FILE_MODE)
            self._part_opened = now
        size = os.fstat(self._fd).st_size
        try:
            if os.write(self._fd, data) != len(data):
                raise OSError(errno.ENOSPC, "short write")
        except OSError as err:
            os.ftruncate(self._fd, size)  # never leave half a line behind
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFullError(f"spool full writing audit event {event_type}") from err
            raise
        self.events += 1

    def roll(self) -> None:
        """Publish the current part as ``.seg`` (if it holds a line)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        size = os.fstat(fd).st_size
        os.close(fd)
        part = self._part()
        if size == 0:
            part.unlink(missing_ok=True)
            return
        os.rename(part, part.with_suffix(".seg"))
        self._seq += 1

    def tick(self) -> None:
        """Roll a part older than ``segment_s``; end a session older than ``rotate_s``."""
        now = self._clock()
        if self._fd is not None and now - self._part_opened >= self._segment_s:
            self.roll()
        if self._session is not None and now - self._started >= self._rotate_s:
            self.rotate()

    def rotate(self) -> None:
        """End the current session (if any); the next event starts a new one."""
        if self._session is None:
            return
        self.roll()
        session_dir = self._spool / self._session
        _end_session(session_dir, self._seq - 1, self._started, self._clock(), complete=True)
        self._session = None

    def close(self) -> None:
        """End the current session (at shutdown)."""
        self.rotate()

    def recover(self) -> list[str]:
        """End gatekeeper sessions a crash left open; returns their names.

        Leftover parts are published, the stream gets its ``END`` and the session its
        ``session.json`` (``complete`` false: the tail after the last line may be lost).
        A session with no line at all is removed (there would be nothing to seal).
        """
        ended: list[str] = []
        for session_dir in spool.sessions(self._spool):
            name = session_dir.name
            if not name.startswith(PRODUCER + "-") or (session_dir / spool.SESSION_END).exists():
                continue
            if name == self._session:
                continue
            stream_dir = session_dir / STREAM
            last_time = _publish_parts(stream_dir)
            segments = spool.list_segments(stream_dir)
            ended_at = self._clock() if last_time is None else last_time
            if not segments and spool.read_int(stream_dir / spool.STREAM_END) is None:
                shutil.rmtree(session_dir, ignore_errors=True)
                continue
            started = _stamp_time(name) or ended_at
            _end_session(session_dir, max(segments, default=-1), started, ended_at, False)
            ended.append(name)
        return ended


def _publish_parts(stream_dir: Path) -> float | None:
    """Rename non-empty parts to ``.seg`` (drop empty ones); latest mtime of any segment."""
    latest: float | None = None
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(stream_dir):
            if not entry.name.startswith("seg-"):
                continue
            stat = entry.stat()
            latest = max(latest or 0.0, stat.st_mtime)
            if entry.name.endswith(".part"):
                path = Path(entry.path)
                if stat.st_size == 0:
                    path.unlink()
                else:
                    os.rename(path, path.with_suffix(".seg"))
    return latest


def _end_session(
    session_dir: Path, last_seq: int, started: float, ended: float, complete: bool
) -> None:
    stream_dir = session_dir / STREAM
    stream_dir.mkdir(parents=True, exist_ok=True)
    if spool.read_int(stream_dir / spool.STREAM_END) is None:
        spool.atomic_write(stream_dir / spool.STREAM_END, f"{last_seq}\n".encode())
    spool.write_session_info(
        session_dir,
        {
            "producer": PRODUCER,
            "started_at": rfc3339(started),
            "ended_at": rfc3339(max(started, ended)),
            "encoder": "none",
            "encoder_settings": "{}",
            "complete": "true" if complete else "false",
        },
    )
