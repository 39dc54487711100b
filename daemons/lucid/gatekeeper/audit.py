"""gatekeeper's device audit stream: decisions as JSON lines in the RAM spool.

Each decision (request, approval, denial, expiry, revocation, policy change, registration)
is one line ``{"t": "<RFC 3339 ms>", "type": ..., ...}`` appended to the producer session
``gatekeeper-<UTC stamp>-<hex>`` in its one stream ``audit.0``, laid out exactly like a
recorder session (``seg-NNNNNNNN.part`` -> atomic rename to ``.seg``; ``END``; then
``session.json`` + ``session.end``), so the chunker, encryptor and merkle seal it like any
session. A session is opened by its first event (an empty one would have nothing to seal)
and ended by `rotate` after ``rotate_s`` or at `close`.

The record of who approved what survives crashes like any session: `recover` (at start) ends
every session a crash left open, ``complete`` false, and adds a stream ``audit.<n>`` holding
one ``audit.interrupted`` line, so a session whose segments the chunker had already consumed
still ends and is signed. With an `AuditJournal` (gatekeeper's state directory) it also ends
the sessions a power cut took out of the RAM spool: what reached the store is signed. This
module does not fsync the spool (it is RAM) and does not know the bus.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lucid.gatekeeper.audit_journal import AuditJournal, JournalEntry
from lucid.runtime import spool
from lucid.runtime.errors import StorageFullError
from lucid.runtime.ids import new_session_id

PRODUCER = "gatekeeper"
STREAM = "audit.0"
#: In the spool root while gatekeeper has run since the spool was made: its absence at start
#: means the spool was dropped (power cut, reboot) and the journal's sessions went with it.
SPOOL_MARK = ".gatekeeper-audit"
INTERRUPTED = "audit.interrupted"
_LOST_TAIL = (
    "gatekeeper stopped without ending this audit session (crash or power loss); events "
    "after the last chunk that reached the store may be missing"
)
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

    def __init__(
        self,
        spool_dir: Path,
        clock: Clock,
        rotate_s: float,
        segment_s: float,
        journal: AuditJournal | None = None,
    ) -> None:
        """``journal`` None: a dropped spool loses its open sessions (tests of the layout)."""
        self._spool = spool_dir
        self._journal = journal
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
            session = new_session_id(PRODUCER)
            if self._journal is not None:  # before the spool: a power cut cannot orphan it
                self._journal.put(session, JournalEntry(now, 1, ended=False))
            self._session = session
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
        """Roll a part older than ``segment_s``; end a session older than ``rotate_s``;
        forget journal entries of ended sessions the pipeline has taken from the spool."""
        now = self._clock()
        if self._fd is not None and now - self._part_opened >= self._segment_s:
            self.roll()
        if self._session is not None and now - self._started >= self._rotate_s:
            self.rotate()
        if self._journal is not None:
            for name, entry in self._journal.entries().items():
                if entry.ended and not (self._spool / name).exists():
                    self._journal.forget(name)

    def rotate(self) -> None:
        """End the current session (if any); the next event starts a new one."""
        if self._session is None:
            return
        self.roll()
        session_dir = self._spool / self._session
        _end_session(session_dir, self._seq - 1, self._started, self._clock(), complete=True)
        if self._journal is not None:
            self._journal.put(self._session, JournalEntry(self._started, 1, ended=True))
        self._session = None

    def close(self) -> None:
        """End the current session (at shutdown)."""
        self.rotate()

    def recover(self) -> list[str]:
        """End the gatekeeper sessions a crash or power cut left open; returns their names.

        A session still in the spool without ``session.end``: leftover parts are published,
        each stream gets its ``END`` (-1 when the chunker consumed every segment). A session
        the journal knows but the spool lost (dropped spool, or never taken by the pipeline)
        is laid out again empty. Either way it gets a new stream with one `INTERRUPTED`
        line and its ``session.json`` (``complete`` false), so the pipeline seals and signs
        whatever of it reached the store. Ended sessions the pipeline took are forgotten.
        """
        now = self._clock()
        journal = self._journal.entries() if self._journal is not None else {}
        forget = self._journal.forget if self._journal is not None else None
        dropped = not (self._spool / SPOOL_MARK).exists()
        ended: list[str] = []
        for session_dir in spool.sessions(self._spool):
            name = session_dir.name
            if not name.startswith(PRODUCER + "-") or (session_dir / spool.SESSION_END).exists():
                continue
            if name == self._session:
                continue
            self._end_interrupted(name, journal.get(name), now)
            ended.append(name)
        for name, entry in journal.items():
            if (self._spool / name).exists() or name in ended:
                continue
            if entry.ended and not dropped and forget is not None:
                forget(name)  # the encryptor took it (nothing else removes an ended session)
                continue
            self._end_interrupted(name, entry, now)
            ended.append(name)
        self._spool.mkdir(parents=True, exist_ok=True)
        spool.atomic_write(self._spool / SPOOL_MARK, b"gatekeeper audit spool\n")
        return ended

    def _end_interrupted(self, name: str, entry: JournalEntry | None, now: float) -> None:
        session_dir = self._spool / name
        started = entry.started if entry is not None else (_stamp_time(name) or now)
        used = [int(d.name.split(".", 1)[1]) for d in spool.streams(session_dir) if _audit(d)]
        index = max([*used, (entry.streams if entry is not None else 1) - 1]) + 1
        if self._journal is not None:  # before the stream: a crash here never reuses its name
            self._journal.put(name, JournalEntry(started, index + 1, ended=False))
        for stream_dir in spool.streams(session_dir):
            if _audit(stream_dir) and spool.read_int(stream_dir / spool.STREAM_END) is None:
                _publish_parts(stream_dir)
                last = max(spool.list_segments(stream_dir), default=-1)
                spool.atomic_write(stream_dir / spool.STREAM_END, f"{last}\n".encode())
        stream_dir = session_dir / f"audit.{index}"
        stream_dir.mkdir(parents=True, exist_ok=True)
        line = json.dumps(
            {"t": rfc3339(now), "type": INTERRUPTED, "session": name, "detail": _LOST_TAIL},
            sort_keys=True,
        )
        seg = stream_dir / spool.segment_name(0)
        spool.atomic_write(seg.with_suffix(".part"), (line + "\n").encode())
        os.chmod(seg.with_suffix(".part"), _FILE_MODE)
        os.rename(seg.with_suffix(".part"), seg)
        spool.atomic_write(stream_dir / spool.STREAM_END, b"0\n")
        _write_info(session_dir, started, now, complete=False)
        if self._journal is not None:
            self._journal.put(name, JournalEntry(started, index + 1, ended=True))


def _audit(stream_dir: Path) -> bool:
    head, _, tail = stream_dir.name.partition(".")
    return head == "audit" and tail.isdigit()


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
    _write_info(session_dir, started, ended, complete)


def _write_info(session_dir: Path, started: float, ended: float, complete: bool) -> None:
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
