"""Write a byte stream into the spool as numbered segments.

A stream directory holds ``seg-<seq:08d>.part`` (the one segment being written)
and ``seg-<seq:08d>.seg`` (finished segments, published by an atomic rename in
the same directory). The stream is its ``.seg`` files concatenated in sequence
order. `SegmentWriter` is the writable, non-seekable file object PyAV muxes
fragmented MP4 into; `JsonLinesWriter` writes the audit stream (one JSON object
per line, never split across segments) on the same scheme.

This module does not chunk, compress, encrypt or delete segments (the chunker
owns them once published), and it does not fsync: the spool is a RAM tmpfs.
"""

from __future__ import annotations

import errno
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lucid.recorder.errors import SpoolFullError

__all__ = [
    "PART_SUFFIX",
    "SEGMENT_SUFFIX",
    "OnSegment",
    "Segment",
    "SegmentWriter",
    "list_segments",
    "next_sequence",
    "recover_parts",
    "segment_path",
]

PART_SUFFIX = ".part"
SEGMENT_SUFFIX = ".seg"
_NAME = re.compile(r"^seg-(\d{8,})\.(part|seg)$")
_FILE_MODE = 0o640  # the chunker reads published segments as a group member
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})

OnSegment = Callable[[int, Path, int], object]
"""Called as ``on_segment(seq, path, size)`` after each segment is published."""


@dataclass(frozen=True)
class Segment:
    """A published segment: its sequence number, ``.seg`` path and size in bytes."""

    seq: int
    path: Path
    size: int


def segment_path(directory: Path, seq: int, suffix: str = SEGMENT_SUFFIX) -> Path:
    """The path of segment ``seq`` in ``directory`` (``.seg`` unless told otherwise).

    Args:
        directory: the stream directory.
        seq: sequence number (>= 0).
        suffix: ``SEGMENT_SUFFIX`` or ``PART_SUFFIX``.

    Returns:
        ``directory / "seg-<seq:08d><suffix>"``.
    """
    return directory / f"seg-{seq:08d}{suffix}"


def _scan(directory: Path) -> list[tuple[int, str, Path]]:
    """(seq, suffix, path) of every segment-named file in ``directory``."""
    found: list[tuple[int, str, Path]] = []
    try:
        entries = list(directory.iterdir())
    except FileNotFoundError:
        return found
    for entry in entries:
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), "." + match.group(2), entry))
    return found


def list_segments(directory: Path) -> list[Segment]:
    """The published segments of a stream directory, in sequence order.

    Args:
        directory: the stream directory (missing means no segments).

    Returns:
        One `Segment` per ``.seg`` file, sorted by sequence number.
    """
    return sorted(
        (
            Segment(seq, path, path.stat().st_size)
            for seq, suffix, path in _scan(directory)
            if suffix == SEGMENT_SUFFIX
        ),
        key=lambda segment: segment.seq,
    )


def next_sequence(directory: Path) -> int:
    """The first sequence number after every ``.seg`` and ``.part`` in ``directory``.

    Args:
        directory: the stream directory (missing means 0).

    Returns:
        ``max(seq) + 1`` over existing segments and parts, or 0 when there are none.
    """
    return max((seq + 1 for seq, _, _ in _scan(directory)), default=0)


def recover_parts(directory: Path) -> list[Segment]:
    """Publish the ``.part`` files a crashed writer left, so no captured byte is lost.

    A non-empty part becomes the ``.seg`` of the same sequence number; an empty one
    is removed. Call it before starting a writer on the directory and hand the
    returned segments to whoever consumes published ones.

    Args:
        directory: the stream directory (missing means nothing to do).

    Raises:
        RuntimeError: a part and a finished segment share a sequence number (the
            directory was tampered with or two writers shared it).

    Returns:
        The segments published here, in sequence order.
    """
    recovered: list[Segment] = []
    for seq, suffix, part in sorted(_scan(directory)):
        if suffix != PART_SUFFIX:
            continue
        size = part.stat().st_size
        if size == 0:
            part.unlink()
            continue
        target = segment_path(directory, seq)
        if target.exists():
            raise RuntimeError(f"{part} and {target} both exist: two writers shared {directory}")
        os.rename(part, target)
        recovered.append(Segment(seq, target, size))
    return recovered


def _translate(err: OSError, path: Path) -> SpoolFullError | OSError:
    """SpoolFullError for ENOSPC/EDQUOT, the OSError itself otherwise."""
    if err.errno in _FULL_ERRNOS:
        return SpoolFullError(str(path), err.strerror or str(err))
    return err


class SegmentWriter:
    """A write-only binary file object that publishes its bytes as spool segments.

    Bytes go to the current ``.part`` (created at the first write after a roll, so
    no empty segment is ever published). `roll` renames the part to ``.seg`` and
    calls ``on_segment``. Sequence numbers continue after the highest existing
    segment or part in the directory. It is not seekable, on purpose: a muxer must
    never rewrite bytes that may already be published. One thread uses a writer.

    After a write fails (e.g. the spool is full) every further write raises the
    same error; `close` still publishes the bytes that did reach the part.
    """

    def __init__(
        self,
        directory: Path,
        on_segment: OnSegment | None = None,
        *,
        segment_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Prepare a writer; nothing is created until the first write.

        Args:
            directory: the stream directory; created if missing.
            on_segment: called with (seq, path, size) after each publish.
            segment_seconds: age of a part after which `maybe_roll` publishes it.
            clock: monotonic seconds (a seam for tests).

        Raises:
            SpoolFullError: the directory cannot be created for lack of space.
        """
        self.directory = directory
        self._on_segment = on_segment
        self._segment_seconds = segment_seconds
        self._clock = clock
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise _translate(err, directory) from err
        self._seq = next_sequence(directory)
        self._fd: int | None = None
        self._part_bytes = 0
        self._opened_at = 0.0
        self._failure: SpoolFullError | OSError | None = None
        self._closed = False
        self.bytes_written = 0
        self.segments: list[Segment] = []

    # -- file-object protocol (what PyAV's custom I/O uses) -------------------

    def writable(self) -> bool:
        """Always True: PyAV checks it before muxing into the object."""
        return True

    def readable(self) -> bool:
        """Always False."""
        return False

    def seekable(self) -> bool:
        """Always False, so the muxer streams and never seeks back."""
        return False

    @property
    def closed(self) -> bool:
        """True after `close`."""
        return self._closed

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Append ``data`` to the current part.

        Args:
            data: the bytes to append.

        Raises:
            SpoolFullError: the spool is full or over quota (now or before).
            OSError: another I/O failure (now or before).
            ValueError: the writer is closed.

        Returns:
            ``len(data)``: every byte is written or an error is raised.
        """
        if self._closed:
            raise ValueError("write to a closed SegmentWriter")
        if self._failure is not None:
            raise self._failure
        view = memoryview(data).cast("B")
        if not view:
            return 0
        fd = self._open_part()
        offset = 0
        try:
            while offset < len(view):
                written = os.write(fd, view[offset:])
                offset += written
                self._part_bytes += written
                self.bytes_written += written
        except OSError as err:
            failure = _translate(err, self._part_path())
            self._failure = failure
            raise failure from err
        return len(view)

    def flush(self) -> None:
        """Nothing to do: writes go straight to the file descriptor."""

    def close(self) -> None:
        """Publish the last part if it holds bytes; later calls do nothing.

        PyAV calls this when the container that writes into the object closes.
        """
        if self._closed:
            return
        try:
            self.roll()
        finally:
            self._closed = True

    # -- segments --------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Bytes in the current, unpublished part."""
        return self._part_bytes

    @property
    def next_seq(self) -> int:
        """The sequence number the current or next part gets."""
        return self._seq

    def due(self) -> bool:
        """True when the part holds bytes and is at least ``segment_seconds`` old."""
        return (
            self._fd is not None
            and self._part_bytes > 0
            and self._clock() - self._opened_at >= self._segment_seconds
        )

    def maybe_roll(self) -> Segment | None:
        """`roll` if `due`.

        Returns:
            The published segment, or None.
        """
        return self.roll() if self.due() else None

    def roll(self) -> Segment | None:
        """Publish the current part as ``.seg`` (if it holds bytes) and call back.

        Raises:
            OSError: the rename failed.

        Returns:
            The published segment, or None when there was nothing to publish.
        """
        if self._fd is None:
            return None
        fd, self._fd = self._fd, None
        part = self._part_path()
        os.close(fd)
        size = self._part_bytes
        self._part_bytes = 0
        if size == 0:
            part.unlink(missing_ok=True)
            return None
        target = segment_path(self.directory, self._seq)
        os.rename(part, target)
        segment = Segment(self._seq, target, size)
        self._seq += 1
        self.segments.append(segment)
        if self._on_segment is not None:
            self._on_segment(segment.seq, segment.path, segment.size)
        return segment

    def _part_path(self) -> Path:
        return segment_path(self.directory, self._seq, PART_SUFFIX)

    def _open_part(self) -> int:
        if self._fd is None:
            path = self._part_path()
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
            try:
                self._fd = os.open(path, flags, _FILE_MODE)
            except OSError as err:
                raise _translate(err, path) from err
            self._opened_at = self._clock()
        return self._fd

    def __enter__(self) -> SegmentWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
