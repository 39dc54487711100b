"""Recording sessions: start, stop, survive a crash of the recorder itself.

Each session has a spool directory with one ``video.<part>`` stream per recorder run (a
restart after a crash starts the next part, on the same display) and one ``audit.<part>``
stream of JSON-lines events. Stopping ends every stream (``END`` = last segment number still
in the spool, -1 if the chunker consumed them all) and then writes ``session.end``. Capture
and audit run in worker threads; their callbacks hop back to the loop. This module does not
talk to the bus: ``Events`` is how news leaves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from lucid.recorder import errors as rec_errors
from lucid.recorder.audit import AuditRecorder, rfc3339_ms
from lucid.recorder.encoder import EncoderChoice, EncoderSettings
from lucid.recorder.gate import Gate
from lucid.recorder.jsonlines import JsonLinesWriter
from lucid.recorder.pipeline import RecordingResult, record
from lucid.recorder.segments import recover_parts
from lucid.runtime import spool
from lucid.runtime.errors import (
    BusError,
    ConflictError,
    DisplayUnavailableError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    StorageFullError,
)
from lucid.runtime.ids import check_session

log = logging.getLogger(__name__)

MIGRATIONS = [
    """
    CREATE TABLE sessions (
        session TEXT PRIMARY KEY,
        display TEXT NOT NULL,
        xauthority TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('recording', 'ended', 'failed')),
        part INTEGER NOT NULL DEFAULT 0,
        started_at TEXT NOT NULL,
        ended_at TEXT NOT NULL DEFAULT '',
        encoder TEXT NOT NULL DEFAULT '',
        encoder_settings TEXT NOT NULL DEFAULT '{}',
        complete INTEGER NOT NULL DEFAULT 1,
        error TEXT NOT NULL DEFAULT '',
        message TEXT NOT NULL DEFAULT ''
    );
    """,
]

# Events other daemons add (AddAuditEvent): a dotted lower-case name that is not one of ours.
EXTERNAL_KIND = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*")
OWN_KINDS = re.compile(r"(session|encoder|focus|keys|display)(\..*)?")
EXTERNAL_FIELDS_MAX = 4096  # bytes of JSON: room for metadata, none for content
RESERVED_FIELDS = frozenset({"t", "type", "producer"})


@dataclass(frozen=True)
class Events:
    segment: Callable[[str, str, int], None]
    started: Callable[[str], None]
    ended: Callable[[str, bool], None]
    failed: Callable[[str, str, str], None]


@dataclass
class _Live:
    session: str
    part: int
    stop: threading.Event = field(default_factory=threading.Event)
    video: asyncio.Future[RecordingResult] | None = None
    audit: AuditRecorder | None = None
    audit_writer: JsonLinesWriter | None = None
    stopping: bool = False


def _now() -> str:
    return rfc3339_ms(datetime.now(UTC))


def _translate(err: Exception) -> BusError:
    if isinstance(err, rec_errors.DisplayUnavailableError):
        return DisplayUnavailableError(str(err))
    if isinstance(err, rec_errors.SpoolFullError):
        return StorageFullError(str(err))
    if isinstance(err, BusError):
        return err
    return InternalError(f"{type(err).__name__}: {err}")


class SessionManager:
    def __init__(
        self,
        db: aiosqlite.Connection,
        spool_dir: Path,
        settings: EncoderSettings,
        events: Events,
        gate: Gate,
    ) -> None:
        self._gate = gate
        self._db = db
        self._spool = spool_dir
        self._settings = settings
        self._events = events
        self._live: dict[str, _Live] = {}
        self._loop = asyncio.get_running_loop()

    # -- queries -------------------------------------------------------------------

    async def get(self, session: str) -> dict[str, str]:
        async with self._db.execute("SELECT * FROM sessions WHERE session=?", (session,)) as cur:
            row = await cur.fetchone()
        if row is None:
            raise NotFoundError(f"no session {session}")
        return self._info(dict(row))

    async def list(self) -> list[dict[str, str]]:
        async with self._db.execute("SELECT * FROM sessions ORDER BY started_at") as cur:
            return [self._info(dict(r)) async for r in cur]

    def _info(self, row: dict[str, Any]) -> dict[str, str]:
        session_dir = self._spool / row["session"]
        parts = int(row["part"]) + 1
        return {
            "session": row["session"],
            "display": row["display"],
            "state": row["state"],
            "started_at": row["started_at"],
            "ended_at": row["ended_at"],
            "encoder": row["encoder"],
            "encoder_settings": row["encoder_settings"],
            "parts": str(parts),
            "streams": ",".join(
                [f"video.{p}" for p in range(parts)] + [f"audit.{p}" for p in range(parts)]
            ),
            "complete": "true" if row["complete"] else "false",
            "error": row["error"],
            "message": row["message"],
            "spool": str(session_dir),
        }

    # -- lifecycle -----------------------------------------------------------------

    async def start(self, session: str, display: str, xauthority: str) -> None:
        """Start recording; returns once capture has opened the display.

        Raises:
            NotApprovedError: no approved grant for the session (default deny).
            ConflictError: the session id was used before.
            DisplayUnavailableError: the display cannot be opened (nothing is recorded).
            StorageFullError: the spool is full.
        """
        check_session(session)
        async with self._db.execute("SELECT state FROM sessions WHERE session=?", (session,)) as c:
            if await c.fetchone() is not None:
                raise ConflictError(f"session {session} already exists")
        await self._gate.admit(session)
        await self._db.execute(
            "INSERT INTO sessions(session, display, xauthority, state, started_at) "
            "VALUES (?,?,?, 'recording', ?)",
            (session, display, xauthority, _now()),
        )
        try:
            await self._start_part(session, display, xauthority, part=0)
        except BusError as err:
            await self._db.execute("DELETE FROM sessions WHERE session=?", (session,))
            live = self._live.pop(session, None)
            if live is not None:
                await self._close_audit(live)
            with contextlib.suppress(OSError):
                _remove_tree(self._spool / session)
            raise err
        self._events.started(session)

    async def _start_part(self, session: str, display: str, xauthority: str, part: int) -> None:
        session_dir = self._spool / session
        live = _Live(session=session, part=part)
        self._live[session] = live
        started: asyncio.Future[tuple[EncoderChoice, int, int]] = self._loop.create_future()

        def on_started(choice: EncoderChoice, width: int, height: int) -> None:
            self._loop.call_soon_threadsafe(_resolve, started, (choice, width, height))

        def on_segment(seq: int, path: Path, size: int) -> None:
            self._loop.call_soon_threadsafe(self._events.segment, session, f"video.{part}", seq)

        def run() -> RecordingResult:
            return record(
                display,
                xauthority or None,
                session_dir / f"video.{part}",
                self._settings,
                live.stop,
                on_segment,
                on_started,
            )

        try:

            def on_audit_segment(seq: int, path: Path, size: int) -> None:
                self._loop.call_soon_threadsafe(self._events.segment, session, f"audit.{part}", seq)

            writer = JsonLinesWriter(session_dir / f"audit.{part}", on_audit_segment)
        except rec_errors.RecorderError as err:
            raise _translate(err) from err
        live.audit_writer = writer
        live.video = asyncio.ensure_future(asyncio.to_thread(run))
        waiters: set[asyncio.Future[Any]] = {live.video, started}
        done, _ = await asyncio.wait(waiters, return_when="FIRST_COMPLETED")
        if started not in done:
            started.cancel()
            failure = live.video.exception() or InternalError("capture ended before it started")
            raise _translate(failure) from failure  # type: ignore[arg-type]  # BaseException -> Exception
        choice, width, height = started.result()
        audit = AuditRecorder(display, xauthority or None, writer)
        live.audit = audit
        try:
            audit.session_start(session=session, display=display, part=part)
            audit.encoder(choice, width, height)
            await asyncio.to_thread(audit.start)
        except rec_errors.RecorderError as err:
            live.stop.set()
            await asyncio.gather(live.video, return_exceptions=True)
            raise _translate(err) from err
        await self._db.execute(
            "UPDATE sessions SET part=?, encoder=?, encoder_settings=? WHERE session=?",
            (part, choice.name, json.dumps(choice.facts(), sort_keys=True), session),
        )
        live.video.add_done_callback(lambda fut: self._on_video_done(session, live, fut))

    def _on_video_done(
        self, session: str, live: _Live, fut: asyncio.Future[RecordingResult]
    ) -> None:
        if live.stopping or self._live.get(session) is not live:
            return
        err = fut.exception()
        if err is not None:
            failure = _translate(err)  # type: ignore[arg-type]  # an Exception here
            name, message = failure.name, failure.message
        else:
            lost = fut.result().display_lost or "capture ended"
            name, message = DisplayUnavailableError.name, f"display ended: {lost}"
        log.error("session %s failed: %s (%s)", session, message, name)
        task = self._loop.create_task(self._finish(session, live, failed=(name, message)))
        task.add_done_callback(_log_failure)

    async def end_by_grant(self, session: str, reason: str) -> None:
        """The grant ended (revoked, expired): stop recording now; the recording seals."""
        live = self._live.get(session)
        if live is not None:
            log.warning("session %s: grant %s; stopping the recording", session, reason)
            await self._finish(session, live, failed=None)

    async def stop(self, session: str) -> None:
        """Stop recording; returns when every stream is ended in the spool."""
        check_session(session)
        live = self._live.get(session)
        if live is None:
            info = await self.get(session)
            if info["state"] != "recording":
                raise ConflictError(f"session {session} is not recording ({info['state']})")
            raise InternalError(f"session {session} is not live in this recorder")
        await self._finish(session, live, failed=None)

    async def _finish(self, session: str, live: _Live, failed: tuple[str, str] | None) -> None:
        if live.stopping:
            return
        live.stopping = True
        live.stop.set()
        if live.video is not None:
            await asyncio.gather(live.video, return_exceptions=True)
        if live.audit is not None:
            with contextlib.suppress(rec_errors.RecorderError):
                live.audit.session_stop(reason=failed[1] if failed else "stopped")
        await self._close_audit(live)
        self._live.pop(session, None)
        complete = failed is None
        await self._db.execute(
            "UPDATE sessions SET state=?, ended_at=?, complete=?, error=?, message=? "
            "WHERE session=?",
            (
                "ended" if complete else "failed",
                _now(),
                int(complete),
                failed[0] if failed else "",
                failed[1] if failed else "",
                session,
            ),
        )
        try:
            await self._write_end_markers(session)
        except StorageFullError as err:  # retried by ensure_end_markers()
            log.warning("session %s: end markers wait for spool space: %s", session, err)
        if failed is not None:
            self._events.failed(session, *failed)
        self._events.ended(session, complete)
        await self._gate.release(session)

    async def add_event(self, session: str, kind: str, fields: str, producer: str) -> None:
        """Write ``{"type": kind, "producer": producer, **fields}`` to the session's audit stream.

        Raises:
            InvalidArgumentError: bad session id or kind, or fields not a small JSON object
                without the reserved keys.
            ConflictError: the session is not being recorded (here, now).
            StorageFullError: the spool is full.
        """
        check_session(session)
        if len(kind) > 64 or not EXTERNAL_KIND.fullmatch(kind) or OWN_KINDS.fullmatch(kind):
            raise InvalidArgumentError(f"audit event type {kind!r} is not allowed")
        if len(fields.encode()) > EXTERNAL_FIELDS_MAX:
            raise InvalidArgumentError(f"audit event fields exceed {EXTERNAL_FIELDS_MAX} bytes")
        try:
            values = json.loads(fields)
        except ValueError as err:
            raise InvalidArgumentError(f"audit event fields are not JSON: {err}") from None
        if not isinstance(values, dict) or RESERVED_FIELDS & values.keys():
            raise InvalidArgumentError(
                f"audit event fields must be a JSON object without {sorted(RESERVED_FIELDS)}"
            )
        live = self._live.get(session)
        if live is None or live.audit is None or live.stopping:
            raise ConflictError(f"session {session} is not being recorded")
        try:
            live.audit.event(kind, producer=producer, **values)
        except ValueError as err:  # NaN or infinity: not JSON the stream may carry
            raise InvalidArgumentError(f"audit event fields: {err}") from None
        except rec_errors.RecorderError as err:
            raise _translate(err) from err

    async def _close_audit(self, live: _Live) -> None:
        if live.audit is not None:
            await asyncio.to_thread(live.audit.stop)
        if live.audit_writer is not None:
            with contextlib.suppress(rec_errors.RecorderError):
                live.audit_writer.close()

    async def _write_end_markers(self, session: str) -> None:
        session_dir = self._spool / session
        if not session_dir.exists() or (session_dir / spool.SESSION_END).exists():
            return
        self._end_streams(session)
        info = await self.get(session)
        spool.write_session_info(
            session_dir,
            {key: info[key] for key in spool.SESSION_INFO_KEYS if key in info}
            | {"producer": "recorder", "grant": self._gate.name},
        )

    async def ensure_end_markers(self) -> None:
        """Write end markers that a full spool kept from being written (idempotent)."""
        async with self._db.execute(
            "SELECT session FROM sessions WHERE state IN ('ended', 'failed')"
        ) as cur:
            sessions = [r[0] async for r in cur]
        for session in sessions:
            with contextlib.suppress(StorageFullError):
                await self._write_end_markers(session)

    def _end_streams(self, session: str) -> None:
        for stream_dir in spool.streams(self._spool / session):
            if (stream_dir / spool.STREAM_END).exists():
                continue
            recover_parts(stream_dir)
            present = spool.list_segments(stream_dir)
            last = max(present) if present else -1
            spool.atomic_write(stream_dir / spool.STREAM_END, str(last).encode())

    async def resume(self) -> None:
        """After a recorder crash: end the interrupted parts, start the next ones."""
        async with self._db.execute(
            "SELECT session, display, xauthority, part FROM sessions WHERE state='recording'"
        ) as cur:
            rows = [tuple(r) async for r in cur]
        for session, display, xauthority, part in rows:
            self._end_streams(session)  # the crashed part's streams end here
            try:
                await self._gate.admit(session)  # revoked or expired while we were down?
                await self._start_part(session, display, xauthority, int(part) + 1)
                log.warning("session %s resumed as part %d", session, int(part) + 1)
            except BusError as err:
                log.error("session %s cannot resume: %s", session, err)
                live = self._live.pop(session, _Live(session, int(part)))
                live.stopping = False
                self._events.failed(session, err.name, err.message)
                await self._finish(session, live, failed=(err.name, err.message))

    async def close(self) -> None:
        """Daemon shutdown: stop capture threads without ending sessions (resume later)."""
        for live in list(self._live.values()):
            live.stopping = True
            live.stop.set()
            if live.video is not None:
                await asyncio.gather(live.video, return_exceptions=True)
            await self._close_audit(live)


def _resolve(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("ending a failed session failed: %s", task.exception())


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
