"""Remux decrypted fragmented-MP4 parts into one ordinary MP4 (no re-encoding).

Each recorder run of a session is one fMP4 part; parts are joined back to back on one
timeline. Input stays in memory (``BytesIO``): decrypted video is written only to the output
the user asked for.
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av

from lucid.evidence.errors import FormatError


def remux_to_mp4(parts: list[bytes], output: Path) -> int:
    """Write ``parts`` (fMP4 byte strings) as one MP4 at ``output``; return the packet count.

    Raises:
        FormatError: a part is not decodable video.
    """
    packets = 0
    with av.open(str(output), "w", format="mp4") as out:
        ostream = None
        offset = 0  # in output time base
        for number, data in enumerate(parts):
            try:
                inp = av.open(io.BytesIO(data), "r", format="mp4")
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
