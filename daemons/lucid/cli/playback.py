"""Remux decrypted fragmented-MP4 parts into one ordinary MP4 (no re-encoding).

Each recorder run of a session is one fMP4 part; parts are joined back to back on one
timeline. Input is streamed: each part is read from an iterator of decrypted pieces (one
chunk at a time, see `lucid.evidence.playback`) through a non-seekable file object, so a
part is never held whole, and decrypted video is written only to the output the user asked
for. Fragmented MP4 needs no seeking to demux.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av

from lucid.evidence.errors import FormatError


class _PieceReader:
    """A read-only, non-seekable file over an iterator of byte strings (no ``seek``: PyAV
    then treats the input as a stream). Errors the iterator raises pass through ``read``."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._buf = memoryview(b"")

    def read(self, size: int = -1) -> bytes:
        while not self._buf:
            piece = next(self._pieces, None)
            if piece is None:
                return b""
            self._buf = memoryview(piece)
        if size < 0:
            size = len(self._buf)
        out = bytes(self._buf[:size])
        self._buf = self._buf[size:]
        return out


def remux_to_mp4(parts: Sequence[Iterator[bytes]], output: Path) -> int:
    """Write ``parts`` (each an fMP4 as an iterator of byte pieces) as one MP4 at ``output``.

    Memory: PyAV's I/O buffers plus whatever one piece of the iterators holds; the parts
    are read once, in order, and never joined.

    Raises:
        FormatError: a part is not decodable video.
        EvidenceError: whatever a part's iterator raises (a chunk that fails its checks).

    Returns:
        The number of packets written.
    """
    packets = 0
    with av.open(str(output), "w", format="mp4") as out:
        ostream = None
        offset = 0  # in output time base
        for number, pieces in enumerate(parts):
            try:
                inp = av.open(_PieceReader(pieces), "r", format="mp4")
            except av.FFmpegError as err:
                raise FormatError(f"video part {number} is not playable: {err}") from err
            with inp:
                if not inp.streams.video:
                    raise FormatError(f"video part {number} has no video track")
                istream = inp.streams.video[0]
                if ostream is None:
                    ostream = out.add_stream_from_template(istream)
                end = offset
                for packet in inp.demux(istream):
                    if packet.dts is None or packet.pts is None:
                        continue
                    tb = packet.time_base or istream.time_base or Fraction(1, 90000)
                    otb = ostream.time_base or tb
                    scale = tb / otb
                    packet.pts = int(packet.pts * scale) + offset
                    packet.dts = int(packet.dts * scale) + offset
                    duration = int((packet.duration or 0) * scale)
                    packet.time_base = otb
                    packet.stream = ostream
                    out.mux(packet)
                    packets += 1
                    end = max(end, packet.pts + max(duration, 1))
                offset = end
    if packets == 0:
        raise FormatError("the bundle's video holds no frames")
    return packets
