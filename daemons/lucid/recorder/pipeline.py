"""Record a display: capture, convert, encode H.264, mux fragmented MP4, spool it.

`record` is the blocking loop a recorder runs in a worker thread for one video
stream (one ``video.<part>`` directory). `Fmp4Encoder` is its encode path, used
as is by ``bench/encode.py``: one reused swscale context converts each captured
BGR0/BGRA frame to BT.709 limited-range yuv420p, the probed encoder encodes it,
and the mp4 muxer writes ``frag_keyframe+empty_moov+default_base_moof``
fragments of about ``fragment_seconds`` into a non-seekable sink. The muxer
hands over a fragment's bytes in the call that closes it, so rolling the
`SegmentWriter` after such a call publishes whole fragments and bounds the
unpublished tail to about one fragment in the muxer plus one in the part.

This module does not talk D-Bus, write audit events or decide stream names;
callbacks run in the worker thread (hop to the event loop yourself).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.video.frame import PictureType, VideoFrame
from av.video.reformatter import ColorRange, Colorspace, VideoReformatter
from av.video.stream import VideoStream

from lucid.recorder.capture import open_capture
from lucid.recorder.encoder import (
    PIX_FMT,
    EncoderChoice,
    EncoderSettings,
    configure_codec_context,
    probe_encoder,
)
from lucid.recorder.errors import EncoderError
from lucid.recorder.segments import OnSegment, SegmentWriter

__all__ = ["MOVFLAGS", "Fmp4Encoder", "OnStarted", "RecordingResult", "record"]

_log = logging.getLogger(__name__)

MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"

OnStarted = Callable[[EncoderChoice, int, int], object]
"""Called as ``on_started(choice, width, height)`` once capture and encoder are open."""


@dataclass(frozen=True)
class RecordingResult:
    """What one `record` call produced.

    Attributes:
        frames: frames encoded.
        duration: media duration in seconds (last slot + 1) / fps.
        encoder: the encoder that ran.
        width: frame width in pixels.
        height: frame height in pixels.
        dropped: captured frames skipped to keep real time.
        started_at: wall-clock capture time of the first frame (UTC), if any.
        display_lost: why capture ended on its own (X server gone, screen
            resized), or None when ``stop`` ended it.
        segments: segments published.
        bytes: bytes published.
    """

    frames: int
    duration: float
    encoder: EncoderChoice
    width: int = 0
    height: int = 0
    dropped: int = 0
    started_at: datetime | None = None
    display_lost: str | None = None
    segments: int = 0
    bytes: int = 0


class Fmp4Encoder:
    """Encode frames with a probed encoder into fragmented MP4 written to ``sink``.

    ``sink`` is any writable file object; it should not be seekable (PyAV then
    streams). Closing the container closes the sink (PyAV calls ``sink.close()``).
    """

    def __init__(
        self,
        sink: Any,
        choice: EncoderChoice,
        width: int,
        height: int,
        settings: EncoderSettings,
    ) -> None:
        """Create the mp4 muxer and the encoder stream (the header is written lazily).

        Args:
            sink: writable file object, e.g. a `SegmentWriter`.
            choice: the encoder from `probe_encoder` (same size and rate).
            width: frame width in pixels (even).
            height: frame height in pixels (even).
            settings: for the fragment duration and encoder threads.

        Raises:
            EncoderError: the muxer or the encoder stream cannot be set up.
        """
        fragment_us = max(1, round(settings.fragment_seconds * 1_000_000))
        try:
            self._container = av.open(
                sink,
                "w",
                format="mp4",
                options={"movflags": MOVFLAGS, "frag_duration": str(fragment_us)},
            )
            stream = self._container.add_stream(choice.name, rate=choice.fps)
            if not isinstance(stream, VideoStream):
                raise EncoderError(f"{choice.name} is not a video encoder")
            configure_codec_context(stream.codec_context, choice, width, height)
            stream.codec_context.thread_count = settings.threads
        except (av.FFmpegError, ValueError) as err:
            raise EncoderError(f"cannot set up {choice.name} into fragmented MP4: {err}") from err
        self._stream: VideoStream = stream
        self._time_base = Fraction(1, choice.fps)
        self._reformatter = VideoReformatter()  # reused: keeps swscale's cached context
        self._closed = False
        self.packets = 0

    def encode(self, frame: VideoFrame, pts: int) -> None:
        """Convert, encode and mux one frame.

        Args:
            frame: a captured frame in any pixel format swscale reads.
            pts: presentation time in units of ``1/fps``; strictly increasing.

        Raises:
            EncoderError: the encoder or the muxer failed.
            SpoolFullError: the sink is a `SegmentWriter` on a full spool.
        """
        try:
            yuv = self._reformatter.reformat(
                frame,
                format=PIX_FMT,
                dst_colorspace=Colorspace.ITU709,
                dst_color_range=ColorRange.MPEG,
            )
            # Captured frames come marked as I-frames, which libx264 honours:
            # every frame would become a keyframe (about 30 times the bytes).
            yuv.pict_type = PictureType.NONE
            yuv.pts = pts
            yuv.time_base = self._time_base
            packets = self._stream.encode(yuv)
            if packets:
                self.packets += len(packets)
                self._container.mux(packets)
        except av.FFmpegError as err:
            raise EncoderError(f"encoding frame {pts} failed: {err}") from err

    def finish(self) -> None:
        """Flush the encoder, write the last fragment and close the muxer and sink.

        Raises:
            EncoderError: the encoder or the muxer failed.
            SpoolFullError: the sink is a `SegmentWriter` on a full spool.
        """
        if self._closed:
            return
        try:
            packets = self._stream.encode(None)
            if packets:
                self.packets += len(packets)
                self._container.mux(packets)
            self._closed = True
            self._container.close()
        except av.FFmpegError as err:
            raise EncoderError(f"finishing the stream failed: {err}") from err
        finally:
            if not self._closed:
                self.abort()

    def abort(self) -> None:
        """Close the muxer after a failure, ignoring further errors."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._container.close()


def record(
    display: str,
    xauthority: str | None,
    out_dir: Path,
    settings: EncoderSettings,
    stop: threading.Event,
    on_segment: OnSegment | None = None,
    on_started: OnStarted | None = None,
    *,
    draw_mouse: bool = True,
) -> RecordingResult:
    """Record ``display`` into ``out_dir`` until ``stop`` is set or the display ends.

    Blocks; run it in a worker thread. Segments ``seg-<seq>.seg`` appear in
    ``out_dir`` about every ``settings.fragment_seconds``; their concatenation is
    one fragmented MP4. On return (or on an error after capture started) the
    encoder is flushed where possible and every byte written is published.

    Args:
        display: X display name, e.g. ``":10"``.
        xauthority: the session's Xauthority file, or None for the environment's.
        out_dir: the stream directory, e.g. ``<spool>/<session>/video.<part>``.
        settings: encoder and fragment settings.
        stop: set it (from any thread) to end the recording.
        on_segment: called in this thread as (seq, path, size) per published segment.
        on_started: called in this thread as (choice, width, height) before the
            first frame.
        draw_mouse: draw the pointer into the video.

    Raises:
        DisplayUnavailableError: the display cannot be opened.
        EncoderError: no encoder opens, or encoding fails.
        SpoolFullError: the spool is full or over quota.

    Returns:
        Frame count, media duration, encoder and why capture ended.
    """
    capture = open_capture(display, xauthority, settings.fps, draw_mouse=draw_mouse)
    try:
        choice = probe_encoder(settings, capture.width, capture.height)
        writer = SegmentWriter(out_dir, on_segment, segment_seconds=settings.fragment_seconds)
        try:
            encoder = Fmp4Encoder(writer, choice, capture.width, capture.height, settings)
            try:
                if on_started is not None:
                    on_started(choice, capture.width, capture.height)
                frames, last_slot = 0, -1
                for frame, slot in capture.frames(stop):
                    before = writer.bytes_written
                    encoder.encode(frame, slot)
                    frames, last_slot = frames + 1, slot
                    if writer.bytes_written != before:
                        writer.roll()  # the muxer just wrote a fragment (or the header)
                    else:
                        writer.maybe_roll()
                encoder.finish()
            except BaseException:
                encoder.abort()
                raise
        finally:
            writer.close()
    finally:
        capture.close()
    _log.info(
        "recorded %s: %d frames, %d dropped, %d segments, %d bytes",
        display,
        frames,
        capture.dropped,
        len(writer.segments),
        writer.bytes_written,
    )
    return RecordingResult(
        frames=frames,
        duration=(last_slot + 1) / settings.fps,
        encoder=choice,
        width=capture.width,
        height=capture.height,
        dropped=capture.dropped,
        started_at=capture.started_at,
        display_lost=capture.lost,
        segments=len(writer.segments),
        bytes=sum(segment.size for segment in writer.segments),
    )
