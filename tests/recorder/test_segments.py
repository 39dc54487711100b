"""Spool segments: atomic publish, sequence continuation, recovery, full spool."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from lucid.recorder.errors import SpoolFullError
from lucid.recorder.jsonlines import JsonLinesWriter
from lucid.recorder.segments import (
    Segment,
    SegmentWriter,
    list_segments,
    next_sequence,
    recover_parts,
    segment_path,
)
from tests.recorder.conftest import fill


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def stream_bytes(directory: Path) -> bytes:
    return b"".join(segment.path.read_bytes() for segment in list_segments(directory))


def test_roll_publishes_the_part_atomically_and_calls_back(tmp_path: Path) -> None:
    published: list[tuple[int, Path, int]] = []
    writer = SegmentWriter(tmp_path / "video.0", lambda *args: published.append(args))

    writer.write(b"hello ")
    part = segment_path(tmp_path / "video.0", 0, ".part")
    assert part.read_bytes() == b"hello "
    assert list_segments(tmp_path / "video.0") == []

    segment = writer.roll()
    writer.write(memoryview(b"world"))
    writer.close()

    assert segment == Segment(0, tmp_path / "video.0" / "seg-00000000.seg", 6)
    assert published == [
        (0, tmp_path / "video.0" / "seg-00000000.seg", 6),
        (1, tmp_path / "video.0" / "seg-00000001.seg", 5),
    ]
    assert not part.exists()
    assert stream_bytes(tmp_path / "video.0") == b"hello world"


def test_empty_parts_are_never_published(tmp_path: Path) -> None:
    published: list[tuple[int, Path, int]] = []
    writer = SegmentWriter(tmp_path, lambda *args: published.append(args))

    assert writer.roll() is None
    writer.write(b"")
    writer.close()
    writer.close()

    assert published == []
    assert list(tmp_path.iterdir()) == []


def test_maybe_roll_waits_for_segment_seconds(tmp_path: Path) -> None:
    clock = FakeClock()
    writer = SegmentWriter(tmp_path, segment_seconds=1.0, clock=clock)
    writer.write(b"a")

    clock.now += 0.5
    assert writer.maybe_roll() is None
    clock.now += 0.5
    rolled = writer.maybe_roll()

    assert rolled is not None and rolled.seq == 0
    assert writer.pending == 0


def test_sequence_continues_after_existing_segments_and_parts(tmp_path: Path) -> None:
    (tmp_path / "seg-00000004.seg").write_bytes(b"old")
    (tmp_path / "seg-00000007.part").write_bytes(b"crashed")
    (tmp_path / "unrelated.txt").write_bytes(b"x")
    assert next_sequence(tmp_path) == 8

    writer = SegmentWriter(tmp_path)
    writer.write(b"new")
    writer.close()

    assert [s.seq for s in list_segments(tmp_path)] == [4, 8]
    assert (tmp_path / "seg-00000007.part").read_bytes() == b"crashed"


def test_recover_parts_promotes_leftovers_and_drops_empty_ones(tmp_path: Path) -> None:
    (tmp_path / "seg-00000000.seg").write_bytes(b"a")
    (tmp_path / "seg-00000001.part").write_bytes(b"bc")
    (tmp_path / "seg-00000002.part").write_bytes(b"")

    recovered = recover_parts(tmp_path)

    assert recovered == [Segment(1, tmp_path / "seg-00000001.seg", 2)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seg-00000000.seg", "seg-00000001.seg"]
    assert recover_parts(tmp_path / "missing") == []


def test_recover_parts_refuses_a_part_shadowing_a_segment(tmp_path: Path) -> None:
    (tmp_path / "seg-00000003.seg").write_bytes(b"a")
    (tmp_path / "seg-00000003.part").write_bytes(b"b")

    with pytest.raises(RuntimeError, match="two writers"):
        recover_parts(tmp_path)


def test_writer_is_a_non_seekable_write_only_file(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path)

    assert writer.writable() and not writer.readable() and not writer.seekable()
    assert not hasattr(writer, "seek")
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"x")


def test_full_spool_raises_spool_full_and_keeps_what_was_written(tiny_tmpfs: Path) -> None:
    fill(tiny_tmpfs, leave=8192)
    published: list[tuple[int, Path, int]] = []
    writer = SegmentWriter(tiny_tmpfs / "audit", lambda *args: published.append(args))
    accepted = 0

    with pytest.raises(SpoolFullError, match="spool full"):
        for _ in range(100):
            accepted += writer.write(b"z" * 1000)
    with pytest.raises(SpoolFullError):
        writer.write(b"more")  # a stream with a hole would be corrupt: keep refusing
    writer.close()

    stream = stream_bytes(tiny_tmpfs / "audit")
    assert accepted <= len(stream) <= 8192
    assert stream == b"z" * len(stream)
    assert [seq for seq, _, _ in published] == [0]


def test_json_lines_are_compact_and_never_split(tmp_path: Path) -> None:
    clock = FakeClock()
    writer = JsonLinesWriter(tmp_path / "audit", segment_seconds=1.0, clock=clock)
    writer.write({"type": "session.start", "who": "zoë"})
    clock.now += 2
    writer.write({"type": "focus", "window": 1})
    writer.maybe_roll()
    writer.write({"type": "session.stop"})
    writer.close()

    segments = list_segments(tmp_path / "audit")
    assert [s.path.read_text("utf-8").count("\n") for s in segments] == [2, 1]
    lines = stream_bytes(tmp_path / "audit").decode("utf-8").splitlines()
    assert lines[0] == '{"type":"session.start","who":"zoë"}'
    assert [json.loads(line)["type"] for line in lines] == [
        "session.start",
        "focus",
        "session.stop",
    ]


def test_json_lines_reject_unserialisable_events(tmp_path: Path) -> None:
    writer = JsonLinesWriter(tmp_path)

    with pytest.raises(ValueError, match="not JSON"):
        writer.write({"type": "x", "bad": object()})
    with pytest.raises(ValueError):
        writer.write({"type": "x", "nan": float("nan")})
    writer.close()
    assert list_segments(tmp_path) == []


def test_json_lines_writer_is_thread_safe(tmp_path: Path) -> None:
    writer = JsonLinesWriter(tmp_path, segment_seconds=0.0)

    def worker(n: int) -> None:
        for i in range(200):
            writer.write({"type": "t", "worker": n, "i": i, "pad": "x" * 100})
            writer.maybe_roll()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()

    lines = stream_bytes(tmp_path).decode().splitlines()
    assert sorted((e["worker"], e["i"]) for e in map(json.loads, lines)) == [
        (n, i) for n in range(4) for i in range(200)
    ]
