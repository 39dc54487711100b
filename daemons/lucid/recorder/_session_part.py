"""One part of a recording session: what one recorder run captures, from start to close.

A part is a ``video.<part>`` stream written by the capture pipeline in a worker thread and an
``audit.<part>`` stream written by an `AuditRecorder` (its own threads). `start_part` returns
once capture has opened the display and the audit recorder runs; segment callbacks hop back to
the event loop. `translate` maps recorder errors to the bus errors callers see.

This module does not touch the session table, does not decide when a session ends or write end
markers, and does not talk to the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lucid.recorder import errors as rec_errors
from lucid.recorder.audit import AuditRecorder
from lucid.recorder.encoder import EncoderChoice, EncoderSettings
from lucid.recorder.jsonlines import JsonLinesWriter
from lucid.recorder.pipeline import RecordingResult, record
from lucid.runtime.errors import (
    BusError,
    DisplayUnavailableError,
    InternalError,
    StorageFullError,
)

SegmentCallback = Callable[[str, str, int], None]
"""``(session, stream, seq)``: a segment of ``stream`` is finished in the spool."""


@dataclass
class LivePart:
    """The running part of a session; ``stop`` ends capture, ``stopping`` says someone did."""

    session: str
    part: int
    stop: threading.Event = field(default_factory=threading.Event)
    video: asyncio.Future[RecordingResult] | None = None
    audit: AuditRecorder | None = None
    audit_writer: JsonLinesWriter | None = None
    stopping: bool = False


def translate(err: Exception) -> BusError:
    """The bus error for a recorder error (bus errors pass through; others are internal)."""
    if isinstance(err, rec_errors.DisplayUnavailableError):
        return DisplayUnavailableError(str(err))
    if isinstance(err, rec_errors.SpoolFullError):
        return StorageFullError(str(err))
    if isinstance(err, BusError):
        return err
    return InternalError(f"{type(err).__name__}: {err}")


async def start_part(
    live: LivePart,
    display: str,
    xauthority: str,
    session_dir: Path,
    settings: EncoderSettings,
    on_segment: SegmentCallback,
) -> tuple[EncoderChoice, asyncio.Future[RecordingResult]]:
    """Start capture and audit of ``live`` into ``session_dir``.

    On return ``live.video``, ``live.audit`` and ``live.audit_writer`` are set; on failure
    whatever was set stays in ``live`` for `close_audit`.

    Args:
        live: the part to start (``session`` and ``part`` name its streams).
        display: X display name, e.g. ``":10"``.
        xauthority: the session's Xauthority file, or ``""`` for the environment's.
        session_dir: the session's spool directory.
        settings: encoder settings for the capture.
        on_segment: called on the event loop for every finished segment.

    Returns:
        (the encoder in use, the capture's future: done when capture ends; also ``live.video``).

    Raises:
        DisplayUnavailableError: the display cannot be opened (capture stopped).
        StorageFullError: the spool is full.
        InternalError: anything else that ended capture before it started.
    """
    loop = asyncio.get_running_loop()
    session, part = live.session, live.part
    started: asyncio.Future[tuple[EncoderChoice, int, int]] = loop.create_future()

    def on_started(choice: EncoderChoice, width: int, height: int) -> None:
        loop.call_soon_threadsafe(_resolve, started, (choice, width, height))

    def on_video_segment(seq: int, path: Path, size: int) -> None:
        loop.call_soon_threadsafe(on_segment, session, f"video.{part}", seq)

    def run() -> RecordingResult:
        return record(
            display,
            xauthority or None,
            session_dir / f"video.{part}",
            settings,
            live.stop,
            on_video_segment,
            on_started,
        )

    try:

        def on_audit_segment(seq: int, path: Path, size: int) -> None:
            loop.call_soon_threadsafe(on_segment, session, f"audit.{part}", seq)

        writer = JsonLinesWriter(session_dir / f"audit.{part}", on_audit_segment)
    except rec_errors.RecorderError as err:
        raise translate(err) from err
    live.audit_writer = writer
    live.video = video = asyncio.ensure_future(asyncio.to_thread(run))
    waiters: set[asyncio.Future[Any]] = {video, started}
    done, _ = await asyncio.wait(waiters, return_when="FIRST_COMPLETED")
    if started not in done:
        started.cancel()
        failure = video.exception() or InternalError("capture ended before it started")
        raise translate(failure) from failure  # type: ignore[arg-type]  # BaseException -> Exception
    choice, width, height = started.result()
    audit = AuditRecorder(display, xauthority or None, writer)
    live.audit = audit
    try:
        audit.session_start(session=session, display=display, part=part)
        audit.encoder(choice, width, height)
        await asyncio.to_thread(audit.start)
    except rec_errors.RecorderError as err:
        live.stop.set()
        await asyncio.gather(video, return_exceptions=True)
        raise translate(err) from err
    return choice, video


async def close_audit(live: LivePart) -> None:
    """Stop the part's audit recorder and close its writer (errors closing are dropped)."""
    if live.audit is not None:
        await asyncio.to_thread(live.audit.stop)
    if live.audit_writer is not None:
        with contextlib.suppress(rec_errors.RecorderError):
            live.audit_writer.close()


def _resolve(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)
