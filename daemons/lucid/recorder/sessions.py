"""Recording sessions: start, stop, survive a crash of the recorder itself.

Each session has a spool directory with one ``video.<part>`` stream per recorder run (a
restart after a crash starts the next part, on the same display) and one ``audit.<part>``
stream of JSON-lines events. Stopping ends every stream (``END`` = last segment number still
in the spool, -1 if the chunker consumed them all) and then writes ``session.end``. Capture
and audit run in worker threads; their callbacks hop back to the loop. This module does not
talk to the bus: ``Events`` is how news leaves it.

`SessionManager` decides when parts start and sessions end (start, stop, grant ended, capture
failed, resume after a restart, daemon shutdown). The pieces it drives live beside it: the
session table in `lucid.recorder._session_table` (`MIGRATIONS` is re-exported here), one
part's capture and audit in `lucid.recorder._session_part`, the spool's end markers in
`lucid.recorder._session_end`, and the rules for events other daemons add in
`lucid.recorder._external_events`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import aiosqlite

from lucid.recorder import errors as rec_errors
from lucid.recorder._external_events import parse_external_event
from lucid.recorder._session_end import end_streams, is_ended, write_session_end
from lucid.recorder._session_part import LivePart, close_audit, start_part, translate
from lucid.recorder._session_table import MIGRATIONS, SessionTable
from lucid.recorder.encoder import EncoderSettings
from lucid.recorder.gate import Gate
from lucid.recorder.pipeline import RecordingResult
from lucid.runtime.errors import (
    BusError,
    ConflictError,
    DisplayUnavailableError,
    InternalError,
    InvalidArgumentError,
    StorageFullError,
)
from lucid.runtime.ids import check_session

if TYPE_CHECKING:  # the payload shape only; the bus library is not imported at run time
    from lucid.recorder.client import RecordingInfo

__all__ = ["MIGRATIONS", "Events", "SessionManager"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Events:
    segment: Callable[[str, str, int], None]
    started: Callable[[str], None]
    ended: Callable[[str, bool], None]
    failed: Callable[[str, str, str], None]


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
        self._table = SessionTable(db, spool_dir)
        self._spool = spool_dir
        self._settings = settings
        self._events = events
        self._live: dict[str, LivePart] = {}
        self._loop = asyncio.get_running_loop()

    # -- queries -------------------------------------------------------------------

    async def get(self, session: str) -> RecordingInfo:
        """The session as the bus shows it.

        Raises:
            NotFoundError: no such session.
        """
        return await self._table.get(session)

    async def list(self) -> list[RecordingInfo]:
        """Every session as the bus shows it, oldest first."""
        return await self._table.all()

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
        if await self._table.exists(session):
            raise ConflictError(f"session {session} already exists")
        await self._gate.admit(session)
        await self._table.insert(session, display, xauthority)
        try:
            await self._start_part(session, display, xauthority, part=0)
        except BusError as err:
            await self._table.delete(session)
            live = self._live.pop(session, None)
            if live is not None:
                await close_audit(live)
            with contextlib.suppress(OSError):
                _remove_tree(self._spool / session)
            raise err
        self._events.started(session)

    async def _start_part(self, session: str, display: str, xauthority: str, part: int) -> None:
        live = LivePart(session=session, part=part)
        self._live[session] = live
        choice, video = await start_part(
            live, display, xauthority, self._spool / session, self._settings, self._events.segment
        )
        await self._table.set_part(session, part, choice)
        video.add_done_callback(lambda fut: self._on_video_done(session, live, fut))

    def _on_video_done(
        self, session: str, live: LivePart, fut: asyncio.Future[RecordingResult]
    ) -> None:
        if live.stopping or self._live.get(session) is not live:
            return
        err = fut.exception()
        if err is not None:
            failure = translate(err)  # type: ignore[arg-type]  # an Exception here
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

    async def _finish(self, session: str, live: LivePart, failed: tuple[str, str] | None) -> None:
        if live.stopping:
            return
        live.stopping = True
        live.stop.set()
        if live.video is not None:
            await asyncio.gather(live.video, return_exceptions=True)
        if live.audit is not None:
            with contextlib.suppress(rec_errors.RecorderError):
                live.audit.session_stop(reason=failed[1] if failed else "stopped")
        await close_audit(live)
        self._live.pop(session, None)
        complete = failed is None
        await self._table.set_ended(session, failed)
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
        values = parse_external_event(kind, fields)
        live = self._live.get(session)
        if live is None or live.audit is None or live.stopping:
            raise ConflictError(f"session {session} is not being recorded")
        try:
            live.audit.event(kind, producer=producer, **values)
        except ValueError as err:  # NaN or infinity: not JSON the stream may carry
            raise InvalidArgumentError(f"audit event fields: {err}") from None
        except rec_errors.RecorderError as err:
            raise translate(err) from err

    async def _write_end_markers(self, session: str) -> None:
        session_dir = self._spool / session
        if is_ended(session_dir):
            return
        end_streams(session_dir)
        info = await self.get(session)
        write_session_end(session_dir, info, self._gate.name)

    async def ensure_end_markers(self) -> None:
        """Write end markers that a full spool kept from being written (idempotent)."""
        for session in await self._table.ended():
            with contextlib.suppress(StorageFullError):
                await self._write_end_markers(session)

    async def resume(self) -> None:
        """After a recorder crash: end the interrupted parts, start the next ones."""
        for session, display, xauthority, part in await self._table.recording():
            end_streams(self._spool / session)  # the crashed part's streams end here
            try:
                await self._gate.admit(session)  # revoked or expired while we were down?
                await self._start_part(session, display, xauthority, part + 1)
                log.warning("session %s resumed as part %d", session, part + 1)
            except BusError as err:
                log.error("session %s cannot resume: %s", session, err)
                live = self._live.pop(session, LivePart(session, part))
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
            await close_audit(live)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("ending a failed session failed: %s", task.exception())


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
