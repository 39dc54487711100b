"""Chunk compression policy: zstd or store, decided per chunk.

Video chunks are H.264 in fragmented MP4, which zstd barely shrinks (FACTS: 1.0-1.36x
at level 3, for ~80% of a chunk's CPU). So a video chunk is compressed at a low level,
and only after a sample of it shows that compressing pays: a sample that gains less
than ``CompressionLevels.min_gain`` (3%) stores the chunk as it is. Measured (see
bench/README.md): zstd-1 gains 0% on camera-like H.264, ~1.4-6% on CABAC desktop
recordings, 4.5-14% on CAVLC or calm desktops; a 2 x 1 MiB sample at 3% compressed no
chunk that gains < 2% and caught 65% of what compressing every chunk would save.
Audit chunks (JSON lines) always compress well and go straight to a higher level.
Whatever the policy chose, a chunk whose compressed form is not smaller is stored.

This module is pure: no bus, no files, no clock. It does not encrypt, hash or frame
chunks; the result's ``compression`` and ``plain_size`` travel with the sealed chunk
(manifest) so that :func:`decompress_chunk` can undo it and check it.

Compressor objects are reused per thread (zstd contexts hold a few MiB of tables), so
calling from several threads is safe and calling from one thread allocates once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

import zstandard

__all__ = [
    "ChunkDecompressError",
    "ChunkKind",
    "Compressed",
    "Compression",
    "CompressionLevels",
    "compress_chunk",
    "decompress_chunk",
    "sample_gain",
]

ChunkKind = Literal["video", "audit"]
Compression = Literal["zstd", "none"]

_SAMPLE_SLICES = 2  # the sample is this many equal slices spread evenly over the chunk
_MIN_LEVEL = -(1 << 17)  # ZSTD_minCLevel(): negative levels trade ratio for speed


class ChunkDecompressError(ValueError):
    """A stored chunk does not decompress to what its manifest says.

    Raised for an unknown compression name, a corrupt zstd frame, or a result whose
    size is not ``plain_size``. The chunk is bad input, not a bug in the caller.
    """


@dataclass(frozen=True, slots=True)
class CompressionLevels:
    """How chunks are compressed.

    Attributes:
        video_level: zstd level for video chunks that pass the sample test.
        audit_level: zstd level for audit chunks (JSON lines compress well).
        sample_bytes: bytes of a video chunk compressed first to decide (0: no sample,
            always compress), in two slices. Slices must be ~1 MiB: what zstd finds in
            desktop H.264 is repeats 0.1-1 MiB apart (unchanged screen content in each
            keyframe); 32 KiB slices see only CABAC noise. Chunks shorter than twice
            this are compressed whole.
        min_gain: fraction of the sample that compression must save (0.03 = 3%) for the
            whole video chunk to be compressed; below it the chunk is stored.
    """

    video_level: int = 1
    audit_level: int = 3
    sample_bytes: int = 2 * 1024 * 1024  # bytes; ~1.5 ms of zstd-1 per chunk
    min_gain: float = 0.03  # fraction of the sample's size

    def __post_init__(self) -> None:
        hi = zstandard.MAX_COMPRESSION_LEVEL
        for name in ("video_level", "audit_level"):
            level = getattr(self, name)
            # zstd reads level 0 as "default (3)": say 3 instead.
            if not _MIN_LEVEL <= level <= hi or level == 0:
                raise ValueError(f"{name}={level}: zstd levels are {_MIN_LEVEL}..-1 and 1..{hi}")
        if self.sample_bytes < 0:
            raise ValueError(f"sample_bytes={self.sample_bytes}: must be >= 0")
        if not 0.0 <= self.min_gain < 1.0:
            raise ValueError(f"min_gain={self.min_gain}: must be in [0, 1)")


@dataclass(frozen=True, slots=True)
class Compressed:
    """A chunk ready to seal.

    Attributes:
        data: the zstd frame, or the plaintext itself when ``compression`` is "none".
        compression: how ``data`` is encoded.
        plain_size: length of the plaintext chunk in bytes.
    """

    data: bytes
    compression: Compression
    plain_size: int


class _Codecs(threading.local):
    def __init__(self) -> None:
        self.compressors: dict[int, zstandard.ZstdCompressor] = {}
        self.decompressor: zstandard.ZstdDecompressor | None = None


_codecs = _Codecs()


def _compressor(level: int) -> zstandard.ZstdCompressor:
    cctx = _codecs.compressors.get(level)
    if cctx is None:
        # write_content_size lets decompress() size its output in one allocation.
        cctx = zstandard.ZstdCompressor(level=level, write_content_size=True)
        _codecs.compressors[level] = cctx
    return cctx


def _decompressor() -> zstandard.ZstdDecompressor:
    if _codecs.decompressor is None:
        _codecs.decompressor = zstandard.ZstdDecompressor()
    return _codecs.decompressor


def sample_gain(data: bytes | bytearray | memoryview, level: int, sample_bytes: int) -> float:
    """Estimate what zstd at ``level`` saves on ``data`` from a spread-out sample.

    Args:
        data: the chunk.
        level: zstd level.
        sample_bytes: total size of the sample (slices taken evenly across ``data``).

    Returns:
        The fraction of the sample's bytes that compression saved (may be negative).
    """
    view = memoryview(data)
    size = len(view)
    if size == 0:
        return 0.0
    if sample_bytes >= size:
        slices = [view]
    else:
        piece = max(1, sample_bytes // _SAMPLE_SLICES)
        stride = size // _SAMPLE_SLICES
        slices = [view[i * stride : i * stride + piece] for i in range(_SAMPLE_SLICES)]
    cctx = _compressor(level)
    # Slices are compressed separately: measured, that tracks the whole chunk better
    # than one joined sample does.
    packed = sum(len(cctx.compress(piece)) for piece in slices)
    return 1.0 - packed / sum(len(piece) for piece in slices)


def compress_chunk(
    data: bytes | bytearray | memoryview, kind: ChunkKind, levels: CompressionLevels | None = None
) -> Compressed:
    """Compress one plaintext chunk following the policy in the module docstring.

    Args:
        data: the plaintext chunk (typically 16 MiB; any size works). A stored chunk
            is ``data`` itself when it is ``bytes``, else a copy.
        kind: "video" (H.264 in fMP4) or "audit" (JSON lines).
        levels: levels and sample policy; defaults to ``CompressionLevels()``.

    Returns:
        The chunk as zstd or stored; never larger than ``data``.

    Raises:
        ValueError: ``kind`` is not "video" or "audit".
    """
    if levels is None:
        levels = _DEFAULT_LEVELS
    size = len(data)
    if kind == "video":
        level = levels.video_level
        if (
            levels.sample_bytes
            and size >= 2 * levels.sample_bytes
            and sample_gain(data, level, levels.sample_bytes) < levels.min_gain
        ):
            return Compressed(bytes(data), "none", size)
    elif kind == "audit":
        level = levels.audit_level
    else:
        raise ValueError(f"unknown chunk kind {kind!r}: expected 'video' or 'audit'")
    packed = _compressor(level).compress(data)
    if len(packed) >= size:
        return Compressed(bytes(data), "none", size)
    return Compressed(packed, "zstd", size)


def decompress_chunk(data: bytes, compression: str, plain_size: int) -> bytes:
    """Undo :func:`compress_chunk` and check the size the manifest recorded.

    Args:
        data: the chunk as stored (after decryption).
        compression: "zstd" or "none", as recorded with the chunk.
        plain_size: the plaintext length recorded with the chunk.

    Returns:
        The plaintext chunk.

    Raises:
        ChunkDecompressError: unknown ``compression``, corrupt zstd data, or a plaintext
            whose length is not ``plain_size``.
    """
    if compression == "none":
        plain = bytes(data)
    elif compression == "zstd":
        try:
            # Check the size the frame announces before allocating it; frames without
            # one (-1) are bounded by max_output_size instead.
            announced = zstandard.frame_content_size(data)
            if announced not in (-1, plain_size):
                raise ChunkDecompressError(
                    f"zstd frame holds {announced} bytes, manifest says {plain_size}"
                )
            plain = _decompressor().decompress(
                data, max_output_size=max(plain_size, 1), allow_extra_data=False
            )
        except zstandard.ZstdError as err:
            raise ChunkDecompressError(f"corrupt zstd chunk: {err}") from err
    else:
        raise ChunkDecompressError(f"unknown compression {compression!r}")
    if len(plain) != plain_size:
        raise ChunkDecompressError(
            f"chunk decompressed to {len(plain)} bytes, manifest says {plain_size}"
        )
    return plain


_DEFAULT_LEVELS = CompressionLevels()
