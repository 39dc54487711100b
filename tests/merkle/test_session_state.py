"""The state `lucid sessions` shows, joined from the recorder's and merkle's session info."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lucid.merkle.client import SealInfo
from lucid.merkle.session_state import display_state
from lucid.recorder.client import RecordingInfo


def recording(state: str) -> RecordingInfo:
    return {
        "session": "s1",
        "display": ":10",
        "state": state,
        "started_at": "2026-11-22T02:15:30.123Z",
        "ended_at": "" if state == "recording" else "2026-11-22T02:25:00.000Z",
        "encoder": "libx264",
        "encoder_settings": "{}",
        "parts": "1",
        "streams": "video.0,audit.0",
        "complete": "false" if state == "failed" else "true",
        "error": "io.lucid.Error.StorageFull" if state == "failed" else "",
        "message": "",
        "spool": "/run/lucid/spool/s1",
    }


def seal(state: str) -> SealInfo:
    sealed = state == "sealed"
    return {
        "session": "s1",
        "state": state,
        "root": "ab" * 32 if sealed else "",
        "chunks": "3" if sealed else "0",
        "bytes": "4096" if sealed else "0",
        "complete": "true",
        "sealed_at": "1795314300.000",
        "message": "" if sealed else "no sealed chunks",
        "manifest": "/var/lib/lucid/merkle/s1/manifest.json",
    }


@pytest.mark.parametrize(
    ("recorder", "merkle", "shown"),
    [
        ("recording", None, "recording"),
        ("ended", None, "sealing"),
        ("failed", None, "failed"),
        ("ended", "sealed", "sealed"),
        ("failed", "sealed", "sealed"),  # a failed recording's sealed part
        ("ended", "failed", "seal-failed"),
        (None, "sealed", "sealed"),  # the recorder forgot it (another producer, a new state dir)
        (None, "failed", "seal-failed"),
        ("paused", None, "paused"),  # a state a newer recorder adds is shown as it is
        ("ended", "withdrawn", "seal-failed"),  # any merkle state but sealed is not sealed
        (None, None, "?"),
    ],
)
def test_merkle_has_the_last_word_then_the_recorder(
    recorder: str | None, merkle: str | None, shown: str
) -> None:
    rec = None if recorder is None else recording(recorder)
    sealed = None if merkle is None else seal(merkle)
    assert display_state(rec, sealed) == shown


def test_importing_it_does_not_load_the_bus_library() -> None:
    code = (
        "import sys, lucid.merkle.session_state;"
        "print(sorted(m for m in sys.modules if m.startswith('dbus')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
