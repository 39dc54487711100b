"""Capture an X display with FFmpeg's x11grab and time-stamp frames for encoding.

`open_capture` opens the whole screen (cropped to even width and height, which
4:2:0 encoders need) at a fixed frame rate; x11grab paces itself to that rate.
`Capture.frames` yields each frame with its slot ``round(elapsed * fps)`` from the
first frame's wall-clock capture time, dropping frames that land in a slot
already filled (x11grab catching up after a stall), so the stream keeps real
time. `xauthority_env` sets XAUTHORITY for one connect (the X libraries read it
only while connecting) and is shared with the audit recorder.

This module does not encode, mux or write files, and it does not follow screen
resizes (x11grab fails; the caller sees ``Capture.lost``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import av
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from lucid.recorder.errors import DisplayUnavailableError

__all__ = ["Capture", "open_capture", "xauthority_env"]

_log = logging.getLogger(__name__)
# os.environ is process-wide: connects with different XAUTHORITY values must not overlap.
_ENV_LOCK = threading.Lock()


@contextmanager
def xauthority_env(xauthority: str | None) -> Iterator[None]:
    """Set ``XAUTHORITY`` while the body connects to an X server, then restore it.

    Connects made under this context are serialised process-wide.

    Args:
        xauthority: path of the session's Xauthority file; None leaves the
            environment as it is.

    Returns:
        A context manager.
    """
    with _ENV_LOCK:
        if xauthority is None:
            yield
            return
        previous = os.environ.get("XAUTHORITY")
        os.environ["XAUTHORITY"] = xauthority
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("XAUTHORITY", None)
            else:
                os.environ["XAUTHORITY"] = previous


class Capture:
    """An open x11grab input: its size, rate, and a frame iterator. Close it."""

    def __init__(self, container: InputContainer, display: str, fps: int) -> None:
        """Wrap an opened x11grab container (use `open_capture`).

        Args:
            container: the opened input.
            display: the display name, for messages.
            fps: the capture frame rate.
        """
        self._container = container
        self._stream: VideoStream = container.streams.video[0]
        self.display = display
        self.fps = fps
        self.width: int = self._stream.codec_context.width
        self.height: int = self._stream.codec_context.height
        self.dropped = 0
        self.started_at: datetime | None = None
        self.lost: str | None = None

    def frames(self, stop: threading.Event) -> Iterator[tuple[VideoFrame, int]]:
        """Yield ``(frame, slot)`` until ``stop`` is set or the display goes away.

        ``slot`` is the frame's presentation time in units of ``1/fps`` since the
        first frame; slots strictly increase. ``stop`` is checked before each read,
        so the iterator ends at most one frame interval after it is set. When
        reading fails (the X server ended or the screen changed size) the iterator
        ends and `lost` says why.

        Args:
            stop: set it to end the iteration.

        Returns:
            An iterator of (frame, slot).
        """
        time_base = self._stream.time_base
        if time_base is None:
            raise RuntimeError("x11grab stream has no time base")
        scale_num = self.fps * time_base.numerator
        scale_den = time_base.denominator
        frames = self._container.decode(self._stream)
        first_pts: int | None = None
        last_slot = -1
        while not stop.is_set():
            try:
                frame = next(frames)
            except StopIteration:
                self.lost = "x11grab ended the stream"
                return
            except av.FFmpegError as err:
                self.lost = f"reading {self.display} failed: {err}"
                _log.info("capture of %s ended: %s", self.display, err)
                return
            pts = frame.pts
            if pts is None:
                continue
            if first_pts is None:
                first_pts = pts
                # x11grab stamps frames with the wall clock in stream time-base units.
                self.started_at = datetime.fromtimestamp(float(pts * time_base), tz=UTC)
            elapsed = pts - first_pts
            slot = (2 * elapsed * scale_num + scale_den) // (2 * scale_den)
            if slot <= last_slot:
                self.dropped += 1
                continue
            last_slot = slot
            yield frame, slot

    def close(self) -> None:
        """Close the X connection; later calls do nothing."""
        self._container.close()


def open_capture(
    display: str, xauthority: str | None, fps: int, *, draw_mouse: bool = True
) -> Capture:
    """Open ``display`` whole-screen with x11grab at ``fps`` frames per second.

    Args:
        display: X display name, e.g. ``":10"``.
        xauthority: the session's Xauthority file, or None to use the environment.
        fps: capture frame rate (x11grab sleeps between frames to keep it).
        draw_mouse: draw the pointer into the frames.

    Raises:
        DisplayUnavailableError: the display cannot be opened.

    Returns:
        The open capture; even width and height.
    """
    options = {"framerate": str(fps), "draw_mouse": "1" if draw_mouse else "0"}
    container = _open(display, xauthority, options)
    capture = Capture(container, display, fps)
    width, height = capture.width & ~1, capture.height & ~1
    if (width, height) != (capture.width, capture.height):
        # 4:2:0 needs even sizes: grab the even top-left part of the screen instead.
        # Open it before closing the first connection: an X server with no client
        # left resets, and a connect during the reset fails.
        try:
            container = _open(display, xauthority, {**options, "video_size": f"{width}x{height}"})
        finally:
            capture.close()
        capture = Capture(container, display, fps)
    if capture.width < 2 or capture.height < 2:
        capture.close()
        raise DisplayUnavailableError(
            display, xauthority, f"screen is {capture.width}x{capture.height}"
        )
    return capture


def _open(display: str, xauthority: str | None, options: dict[str, str]) -> InputContainer:
    try:
        with xauthority_env(xauthority):
            container = av.open(display, format="x11grab", options=options)
    except (av.FFmpegError, OSError) as err:
        raise DisplayUnavailableError(display, xauthority, str(err)) from err
    if not container.streams.video:
        container.close()
        raise DisplayUnavailableError(display, xauthority, "x11grab found no video stream")
    return container
