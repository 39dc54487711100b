"""The audit stream's spool layout, rolls, rotation and crash recovery, on a fake clock."""

from __future__ import annotations

import json
from pathlib import Path

from lucid.gatekeeper.audit import STREAM, AuditLog
from lucid.runtime import spool


class FakeClock:
    """Unix time that moves only when told, in whole milliseconds."""

    def __init__(self) -> None:
        self.ms = 1_800_000_000_000

    def __call__(self) -> float:
        return self.ms / 1000

    def advance(self, seconds: float) -> None:
        self.ms += round(seconds * 1000)


def _lines(stream_dir: Path) -> list[dict[str, object]]:
    data = b"".join(p.read_bytes() for _, p in sorted(spool.list_segments(stream_dir).items()))
    return [json.loads(line) for line in data.splitlines()]


def test_rolls_segments_and_rotates_sessions(tmp_path: Path) -> None:
    clock = FakeClock()
    log = AuditLog(tmp_path, clock, rotate_s=60, segment_s=1)
    log.tick()
    assert log.session is None and not list(tmp_path.iterdir())  # no event, no session
    log.write("request.filed", session="s1")
    first = log.session
    assert first is not None and first.startswith("gatekeeper-")
    stream = tmp_path / first / STREAM
    assert [p.name for p in stream.iterdir()] == ["seg-00000000.part"]
    clock.advance(0.5)
    log.tick()
    assert not spool.list_segments(stream)
    clock.advance(0.5)
    log.tick()
    assert list(spool.list_segments(stream)) == [0]
    log.write("request.denied", session="s1")
    clock.advance(60)
    log.tick()  # rolls the part, then rotates
    assert log.session is None
    assert spool.read_int(stream / spool.STREAM_END) == 1
    info = spool.read_session_info(tmp_path / first)
    assert info["producer"] == "gatekeeper" and info["complete"] == "true"
    assert info["started_at"] < info["ended_at"]
    assert (tmp_path / first / spool.SESSION_END).exists()
    assert [e["type"] for e in _lines(stream)] == ["request.filed", "request.denied"]
    log.write("policy.set", version=2)
    assert log.session not in (None, first)
    log.close()
    assert log.session is None
    assert len(spool.sessions(tmp_path)) == 2
    assert all((s / spool.SESSION_END).exists() for s in spool.sessions(tmp_path))


def test_recover_ends_what_a_crash_left_open(tmp_path: Path) -> None:
    clock = FakeClock()
    crashed = AuditLog(tmp_path, clock, rotate_s=3600, segment_s=1)
    crashed.write("request.filed", session="s1")
    clock.advance(2)
    crashed.tick()
    crashed.write("request.filed", session="s2")  # left in a .part
    name = crashed.session
    assert name is not None
    (tmp_path / "gatekeeper-20260101T000000Z-empty" / STREAM).mkdir(parents=True)
    (tmp_path / "s-other").mkdir()  # a recorder session: not gatekeeper's business
    restarted = AuditLog(tmp_path, clock, rotate_s=3600, segment_s=1)
    # A stream without segments may be one the chunker consumed: it is ended, never dropped.
    assert restarted.recover() == ["gatekeeper-20260101T000000Z-empty", name]
    stream = tmp_path / name / STREAM
    assert [e["session"] for e in _lines(stream)] == ["s1", "s2"]
    assert spool.read_int(stream / spool.STREAM_END) == 1
    assert spool.read_session_info(tmp_path / name)["complete"] == "false"
    assert [e["type"] for e in _lines(tmp_path / name / "audit.1")] == ["audit.interrupted"]
    empty = tmp_path / "gatekeeper-20260101T000000Z-empty"
    assert spool.read_int(empty / STREAM / spool.STREAM_END) == -1
    assert (empty / spool.SESSION_END).exists()
    assert (tmp_path / "s-other").exists()
    assert restarted.recover() == []
