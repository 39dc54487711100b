"""Audit events from a real Xvfb: focus changes and key metadata, never key content."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lucid.recorder.audit import AuditRecorder, KeyStats, rfc3339_ms
from lucid.recorder.encoder import EncoderSettings, probe_encoder
from lucid.recorder.errors import DisplayUnavailableError
from lucid.recorder.jsonlines import JsonLinesWriter
from lucid.recorder.segments import list_segments
from tests.recorder.conftest import (
    start_client,
    start_xvfb,
    stop_process,
    wait_for_window,
    xdotool,
)

RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
TYPED = "qjqqjjqj"  # letters that occur in no event name, field or window title here


def published_text(directory: Path) -> str:
    return "".join(s.path.read_text("utf-8") for s in list_segments(directory))


def published_events(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in published_text(directory).splitlines()]


def wait_for_events(
    directory: Path, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 15.0
) -> list[dict[str, Any]]:
    """Published events once ``predicate`` holds for them (fails after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        events = published_events(directory)
        if predicate(events):
            return events
        if time.monotonic() > deadline:
            pytest.fail(f"events never matched; got {events}")
        time.sleep(0.05)


@pytest.fixture
def two_windows(xvfb: str) -> Iterator[tuple[str, int, int]]:
    """The display with an xclock and an xeyes: (display, clock id, eyes id)."""
    clients = [
        start_client(xvfb, "xclock", "-geometry", "200x200+0+0"),
        start_client(xvfb, "xeyes", "-geometry", "200x200+300+0"),
    ]
    try:
        clock = wait_for_window(xvfb, "--class", "xclock")
        eyes = wait_for_window(xvfb, "--class", "xeyes")
        yield xvfb, clock, eyes
    finally:
        for client in clients:
            stop_process(client)


def focus_on(window: int) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda events: any(e["type"] == "focus" and e["window"] == window for e in events)


def test_focus_changes_are_recorded_with_title_and_class(
    two_windows: tuple[str, int, int], tmp_path: Path
) -> None:
    display, clock, eyes = two_windows
    writer = JsonLinesWriter(tmp_path / "audit", segment_seconds=0.1)
    audit = AuditRecorder(display, None, writer, poll_seconds=0.05)
    audit.start()
    try:
        xdotool(display, "windowfocus", "--sync", str(clock))
        wait_for_events(tmp_path / "audit", focus_on(clock))
        xdotool(display, "windowfocus", "--sync", str(eyes))
        events = wait_for_events(tmp_path / "audit", focus_on(eyes))
    finally:
        audit.stop()
        writer.close()

    focus = [e for e in events if e["type"] == "focus" and e["window"] in (clock, eyes)]
    assert focus[-2]["window"] == clock
    assert focus[-2]["title"] == "xclock"
    assert focus[-2]["wm_class"] == ["xclock", "XClock"]
    assert focus[-1] | {"t": None} == {
        "t": None,
        "type": "focus",
        "window": eyes,
        "title": "xeyes",
        "wm_class": ["xeyes", "XEyes"],
    }
    assert all(RFC3339_MS.match(e["t"]) for e in events)
    assert audit.error is None


def test_a_newly_mapped_window_under_the_pointer_takes_the_focus(xvfb: str, tmp_path: Path) -> None:
    # No window manager: focus is PointerRoot, so the window under the pointer has it.
    xdotool(xvfb, "mousemove", "100", "100")
    writer = JsonLinesWriter(tmp_path / "audit", segment_seconds=0.1)
    audit = AuditRecorder(xvfb, None, writer, poll_seconds=0.05)
    audit.start()
    client = start_client(xvfb, "xlogo", "-geometry", "300x300+0+0")
    try:
        logo = wait_for_window(xvfb, "--class", "xlogo")
        events = wait_for_events(tmp_path / "audit", focus_on(logo))
    finally:
        stop_process(client)
        audit.stop()
        writer.close()

    (event,) = [e for e in events if e["type"] == "focus" and e["window"] == logo]
    assert event["wm_class"] == ["xlogo", "XLogo"]


def test_keys_are_counted_but_their_content_is_never_written(
    two_windows: tuple[str, int, int], tmp_path: Path
) -> None:
    display, clock, _ = two_windows
    writer = JsonLinesWriter(tmp_path / "audit", segment_seconds=0.1)
    audit = AuditRecorder(display, None, writer, poll_seconds=0.05, keys_seconds=0.2)
    audit.start()
    try:
        assert audit.keys_available
        xdotool(display, "windowfocus", "--sync", str(clock))
        wait_for_events(tmp_path / "audit", focus_on(clock))
        xdotool(display, "type", "--delay", "30", TYPED)
        wait_for_events(
            tmp_path / "audit",
            lambda events: sum(e["count"] for e in events if e["type"] == "keys") >= len(TYPED),
        )
    finally:
        audit.stop()
        writer.close()

    text = published_text(tmp_path / "audit")
    keys = [e for e in published_events(tmp_path / "audit") if e["type"] == "keys"]
    assert sum(e["count"] for e in keys) == len(TYPED)
    assert {e["window"] for e in keys} == {clock}
    for event in keys:
        assert set(event) == {"t", "type", "count", "window", "intervals_ms"}
        if event["count"] > 1:
            gaps = event["intervals_ms"]
            assert 0 <= gaps["min"] <= gaps["median"] <= gaps["max"]
    assert TYPED not in text
    assert not set(TYPED) & set(text)


def test_without_record_extension_focus_still_works(tmp_path: Path) -> None:
    display, proc = start_xvfb(320, 240, "-extension", "RECORD")
    client = start_client(display, "xclock", "-geometry", "100x100+0+0")
    writer = JsonLinesWriter(tmp_path / "audit", segment_seconds=0.1)
    audit = AuditRecorder(display, None, writer, poll_seconds=0.05)
    try:
        clock = wait_for_window(display, "--class", "xclock")
        audit.start()
        xdotool(display, "windowfocus", "--sync", str(clock))
        events = wait_for_events(tmp_path / "audit", focus_on(clock))
    finally:
        audit.stop()
        writer.close()
        stop_process(client)
        stop_process(proc)

    assert not audit.keys_available
    (unavailable,) = [e for e in events if e["type"] == "keys.unavailable"]
    assert "RECORD" in unavailable["reason"]


def test_caller_events_session_and_encoder(tmp_path: Path) -> None:
    writer = JsonLinesWriter(tmp_path / "audit")
    moment = datetime(2025, 1, 2, 3, 4, 5, 678_901, tzinfo=UTC)
    audit = AuditRecorder(":0", None, writer, now=lambda: moment)
    choice = probe_encoder(EncoderSettings(codecs=("libx264",)), 320, 240)

    audit.session_start(session="s-1", user="alice")
    audit.encoder(choice, 320, 240)
    audit.session_stop(reason="stopped")
    writer.close()

    start, encoder, stop = published_events(tmp_path / "audit")
    assert start == {
        "t": "2025-01-02T03:04:05.678Z",
        "type": "session.start",
        "session": "s-1",
        "user": "alice",
    }
    assert encoder["type"] == "encoder"
    assert encoder["settings"] == choice.facts()
    assert (encoder["codec"], encoder["width"], encoder["height"]) == ("libx264", 320, 240)
    assert stop["reason"] == "stopped"


def test_missing_display_raises_display_unavailable(tmp_path: Path) -> None:
    writer = JsonLinesWriter(tmp_path / "audit")
    audit = AuditRecorder(":5999", "/nonexistent/xauth", writer)

    with pytest.raises(DisplayUnavailableError, match="XAUTHORITY=/nonexistent/xauth"):
        audit.start()


def test_key_stats_report_count_and_intervals_across_the_clock_wrap() -> None:
    stats = KeyStats()
    assert stats.take() == (0, None)
    stats.add(100)
    assert stats.take() == (1, None)
    for server_time in (2**32 - 50, 2**32 - 10, 30, 130):
        stats.add(server_time)

    assert stats.take() == (4, {"min": 40, "median": 40, "max": 100})
    assert stats.take() == (0, None)


def test_rfc3339_ms_is_utc_with_milliseconds() -> None:
    moment = datetime.fromisoformat("2025-06-30T23:59:59.999999+02:00")

    assert rfc3339_ms(moment) == "2025-06-30T21:59:59.999Z"


def test_display_going_away_is_written_as_display_lost(tmp_path: Path) -> None:
    display, proc = start_xvfb(320, 240)
    writer = JsonLinesWriter(tmp_path / "audit", segment_seconds=0.1)
    audit = AuditRecorder(display, None, writer, poll_seconds=0.05)
    try:
        audit.start()
        stop_process(proc)
        events = wait_for_events(
            tmp_path / "audit", lambda events: any(e["type"] == "display.lost" for e in events)
        )
    finally:
        stop_process(proc)
        audit.stop()
        writer.close()

    assert events[-1]["type"] == "display.lost"
    assert audit.error is None
