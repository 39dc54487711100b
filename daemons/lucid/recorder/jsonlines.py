"""JSON lines as spool segments: the audit stream's writer.

Builds on `lucid.recorder.segments.SegmentWriter`; it adds thread safety and keeps every
line whole inside one segment. It does not decide what an event contains.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from lucid.recorder.segments import OnSegment, Segment, SegmentWriter


class JsonLinesWriter:
    """Write JSON objects, one per line, as spool segments; thread-safe.

    A line is never split across segments: rolls happen between lines.
    """

    def __init__(
        self,
        directory: Path,
        on_segment: OnSegment | None = None,
        *,
        segment_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Prepare a writer over a `SegmentWriter` on ``directory``.

        Args:
            directory: the stream directory (e.g. ``<spool>/<session>/audit``).
            on_segment: called with (seq, path, size) after each publish.
            segment_seconds: age of a part after which `maybe_roll` publishes it.
            clock: monotonic seconds (a seam for tests).

        Raises:
            SpoolFullError: the directory cannot be created for lack of space.
        """
        self._lock = threading.Lock()
        self._segments = SegmentWriter(
            directory, on_segment, segment_seconds=segment_seconds, clock=clock
        )

    @property
    def segments(self) -> list[Segment]:
        """The segments published so far."""
        return list(self._segments.segments)

    def write(self, event: Mapping[str, object]) -> None:
        """Append ``event`` as one line of compact JSON.

        Args:
            event: a JSON-serialisable mapping (no NaN or infinity).

        Raises:
            SpoolFullError: the spool is full or over quota.
            ValueError: ``event`` is not JSON-serialisable, or the writer is closed.
        """
        try:
            line = json.dumps(event, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except TypeError as err:
            raise ValueError(f"audit event is not JSON-serialisable: {err}") from err
        with self._lock:
            self._segments.write((line + "\n").encode("utf-8"))

    def maybe_roll(self) -> Segment | None:
        """Publish the current part if it is old enough (see `SegmentWriter.due`)."""
        with self._lock:
            return self._segments.maybe_roll()

    def roll(self) -> Segment | None:
        """Publish the current part now, if it holds lines."""
        with self._lock:
            return self._segments.roll()

    def close(self) -> None:
        """Publish the last part; later calls do nothing."""
        with self._lock:
            self._segments.close()
