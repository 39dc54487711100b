"""Chunk compression policy: zstd or store, and the checks on the way back."""

from __future__ import annotations

import json
import os
import random
import threading

import pytest
import zstandard

from lucid.chunker.compress import (
    ChunkDecompressError,
    Compressed,
    CompressionLevels,
    compress_chunk,
    decompress_chunk,
    sample_gain,
)

MiB = 1024 * 1024


def _random(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def _audit_lines(count: int) -> bytes:
    events = (
        {"t": 1700000000.0 + i / 10, "kind": "focus", "window": f"xterm {i % 7}", "seq": i}
        for i in range(count)
    )
    return b"".join(json.dumps(e).encode() + b"\n" for e in events)


def _h264_like(size: int, compressible_every: int) -> bytes:
    """Random bytes (like CABAC output) with a run of zeros every so often."""
    rng = random.Random(7)
    out = bytearray()
    while len(out) < size:
        out += rng.randbytes(compressible_every)
        out += bytes(compressible_every // 4)
    return bytes(out[:size])


def test_audit_is_compressed_at_audit_level() -> None:
    data = _audit_lines(20_000)
    result = compress_chunk(data, "audit", CompressionLevels(audit_level=5))
    assert result.compression == "zstd"
    assert result.plain_size == len(data)
    assert len(result.data) < len(data) // 4
    assert zstandard.get_frame_parameters(result.data).content_size == len(data)
    assert decompress_chunk(result.data, "zstd", len(data)) == data


def test_incompressible_video_is_stored_as_is() -> None:
    data = _random(4 * MiB)
    result = compress_chunk(data, "video", CompressionLevels())
    assert result == Compressed(data, "none", len(data))
    assert result.data is data  # stored chunks are not copied
    assert decompress_chunk(result.data, "none", len(data)) == data


def test_compressible_video_is_compressed() -> None:
    data = _h264_like(4 * MiB, compressible_every=4096)  # ~20% zeros
    result = compress_chunk(data, "video", CompressionLevels())
    assert result.compression == "zstd"
    assert len(result.data) < 0.85 * len(data)
    assert decompress_chunk(result.data, result.compression, result.plain_size) == data


def test_sample_below_min_gain_stores_even_if_whole_chunk_would_shrink() -> None:
    data = _h264_like(2 * MiB, compressible_every=4096)
    gain = sample_gain(data, 1, 256 * 1024)
    assert 0.1 < gain < 0.3
    sample = 256 * 1024
    stored = compress_chunk(
        data, "video", CompressionLevels(sample_bytes=sample, min_gain=gain + 0.01)
    )
    packed = compress_chunk(
        data, "video", CompressionLevels(sample_bytes=sample, min_gain=gain - 0.01)
    )
    assert stored.compression == "none"
    assert packed.compression == "zstd"


def test_repeats_far_apart_are_seen_by_the_default_sample() -> None:
    # Desktop H.264: an unchanged screen re-encodes into near-identical keyframes a few
    # hundred KiB apart; between them, incompressible CABAC output.
    rng = random.Random(3)
    keyframe = rng.randbytes(64 * 1024)
    data = b"".join(keyframe + rng.randbytes(256 * 1024) for _ in range(52))[: 16 * MiB]
    assert sample_gain(data, 1, 2 * MiB) > 0.1
    result = compress_chunk(data, "video")
    assert result.compression == "zstd"
    assert len(result.data) < 0.9 * len(data)


def test_sampling_off_compresses_whenever_it_shrinks() -> None:
    data = _h264_like(2 * MiB, compressible_every=65536)
    levels = CompressionLevels(sample_bytes=0, min_gain=0.99)
    assert compress_chunk(data, "video", levels).compression == "zstd"


def test_short_video_chunk_is_compressed_whole() -> None:
    data = b"moov" * 1000  # shorter than twice the sample: no sampling
    result = compress_chunk(data, "video", CompressionLevels(sample_bytes=256 * 1024))
    assert result.compression == "zstd"
    assert decompress_chunk(result.data, "zstd", len(data)) == data


def test_store_when_compression_does_not_shrink() -> None:
    for data in (b"", b"x", _random(1000)):
        result = compress_chunk(data, "audit", CompressionLevels())
        assert result == Compressed(data, "none", len(data))


def test_memoryview_input_is_accepted() -> None:
    buf = bytearray(_audit_lines(1000))
    result = compress_chunk(memoryview(buf), "audit")
    assert decompress_chunk(result.data, "zstd", len(buf)) == bytes(buf)
    stored = compress_chunk(memoryview(bytearray(_random(MiB))), "video")
    assert stored.compression == "none"
    assert isinstance(stored.data, bytes)


def test_sample_gain_is_cheap_estimate_of_whole_chunk() -> None:
    data = _h264_like(8 * MiB, compressible_every=8192)
    whole = 1 - len(zstandard.ZstdCompressor(level=1).compress(data)) / len(data)
    assert sample_gain(data, 1, 256 * 1024) == pytest.approx(whole, abs=0.02)
    assert sample_gain(b"", 1, 1024) == 0.0


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown chunk kind"):
        compress_chunk(b"data", "screenshots", CompressionLevels())  # type: ignore[arg-type]  # the point of the test


@pytest.mark.parametrize(
    "kwargs",
    [
        {"video_level": 0},
        {"audit_level": 23},
        {"video_level": -(1 << 17) - 1},
        {"sample_bytes": -1},
        {"min_gain": -0.1},
        {"min_gain": 1.0},
    ],
)
def test_levels_are_checked(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        CompressionLevels(**kwargs)  # type: ignore[arg-type]  # ints and floats mixed on purpose


def test_negative_level_works() -> None:
    data = _audit_lines(2000)
    result = compress_chunk(data, "audit", CompressionLevels(audit_level=-5))
    assert result.compression == "zstd"
    assert decompress_chunk(result.data, "zstd", len(data)) == data


class TestDecompressErrors:
    data = _audit_lines(5000)
    packed = zstandard.ZstdCompressor(level=3).compress(data)

    def test_wrong_plain_size(self) -> None:
        with pytest.raises(ChunkDecompressError, match="manifest says"):
            decompress_chunk(self.packed, "zstd", len(self.data) + 1)

    def test_wrong_size_of_stored_chunk(self) -> None:
        with pytest.raises(ChunkDecompressError, match="manifest says 3"):
            decompress_chunk(b"ab", "none", 3)

    def test_corrupt_frame(self) -> None:
        broken = bytearray(self.packed)
        broken[len(broken) // 2] ^= 0xFF
        with pytest.raises(ChunkDecompressError):
            decompress_chunk(bytes(broken), "zstd", len(self.data))

    def test_truncated_frame(self) -> None:
        with pytest.raises(ChunkDecompressError, match="corrupt"):
            decompress_chunk(self.packed[:-10], "zstd", len(self.data))

    def test_trailing_bytes(self) -> None:
        with pytest.raises(ChunkDecompressError, match="corrupt"):
            decompress_chunk(self.packed + b"\x00", "zstd", len(self.data))

    def test_not_zstd(self) -> None:
        with pytest.raises(ChunkDecompressError, match="corrupt"):
            decompress_chunk(b"plain text", "zstd", 10)

    def test_unknown_compression(self) -> None:
        with pytest.raises(ChunkDecompressError, match="unknown compression 'lz4'"):
            decompress_chunk(self.packed, "lz4", len(self.data))

    def test_frame_without_content_size_is_bounded(self) -> None:
        bare = zstandard.ZstdCompressor(write_content_size=False).compress(self.data)
        assert decompress_chunk(bare, "zstd", len(self.data)) == self.data
        with pytest.raises(ChunkDecompressError):
            decompress_chunk(bare, "zstd", len(self.data) - 1)

    def test_error_is_a_value_error(self) -> None:
        assert issubclass(ChunkDecompressError, ValueError)


def test_threads_share_nothing() -> None:
    chunks = [_audit_lines(3000 + i) + os.urandom(64) for i in range(8)]
    results: dict[int, bytes] = {}

    def work(i: int) -> None:
        for _ in range(5):
            packed = compress_chunk(chunks[i], "audit")
            results[i] = decompress_chunk(packed.data, packed.compression, packed.plain_size)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(chunks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(len(chunks))] == chunks
