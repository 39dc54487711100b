"""Recording a real Xvfb display into spool segments that form one fragmented MP4."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import threading
from pathlib import Path

import av
import pytest

from lucid.recorder.encoder import EncoderChoice, EncoderSettings
from lucid.recorder.errors import DisplayUnavailableError, SpoolFullError
from lucid.recorder.pipeline import RecordingResult, record
from lucid.recorder.segments import list_segments
from tests.recorder.conftest import fill, start_xvfb, stop_process

FPS = 15
SETTINGS = EncoderSettings(fps=FPS)


def record_for(
    display: str, out_dir: Path, seconds: float, settings: EncoderSettings = SETTINGS
) -> tuple[RecordingResult, list[tuple[int, Path, int]], list[tuple[str, int, int]]]:
    """Record ``display`` for ``seconds`` after capture has started."""
    stop = threading.Event()
    published: list[tuple[int, Path, int]] = []
    started: list[tuple[str, int, int]] = []

    def on_started(choice: EncoderChoice, width: int, height: int) -> None:
        started.append((choice.name, width, height))
        threading.Timer(seconds, stop.set).start()

    result = record(
        display,
        None,
        out_dir,
        settings,
        stop,
        lambda seq, path, size: published.append((seq, path, size)),
        on_started,
    )
    return result, published, started


def concatenated(directory: Path) -> bytes:
    return b"".join(segment.path.read_bytes() for segment in list_segments(directory))


def decode_all(data: bytes) -> tuple[int, int, float]:
    """(frames, keyframes, duration in seconds) of an MP4 held in memory."""
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.video[0]
        frames = keyframes = 0
        last_time = 0.0
        for frame in container.decode(stream):
            frames += 1
            keyframes += frame.key_frame
            last_time = float(frame.time or 0.0)
    return frames, keyframes, last_time + 1 / FPS


def test_three_seconds_make_segments_of_one_playable_fragmented_mp4(
    moving_display: str, tmp_path: Path
) -> None:
    out_dir = tmp_path / "video.0"

    result, published, started = record_for(moving_display, out_dir, 3.0)

    assert started == [("libx264", 640, 480)]
    assert result.encoder.name == "libx264"
    assert (result.width, result.height) == (640, 480)
    assert result.display_lost is None
    assert result.started_at is not None
    segments = list_segments(out_dir)
    assert len(segments) >= 2
    assert [(s.seq, s.path, s.size) for s in segments] == published
    assert not list(out_dir.glob("*.part"))
    data = concatenated(out_dir)
    assert result.bytes == len(data)
    frames, keyframes, duration = decode_all(data)
    assert frames == result.frames
    assert 2.5 * FPS <= frames <= 3.6 * FPS
    assert duration == pytest.approx(result.duration, abs=1.5 / FPS)
    assert keyframes < frames / 4  # captured frames are marked I: the reset must hold
    assert data[4:8] == b"ftyp" and b"moof" in data and b"mvex" in data


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe is not installed")
def test_ffprobe_accepts_the_stream(moving_display: str, tmp_path: Path) -> None:
    result, _, _ = record_for(moving_display, tmp_path / "video.0", 2.0)
    movie = tmp_path / "movie.mp4"
    movie.write_bytes(concatenated(tmp_path / "video.0"))

    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,width,height,nb_read_frames,color_space",
            "-of",
            "json",
            str(movie),
        ],
        capture_output=True,
        text=True,
        check=True,
    )

    assert probe.stderr == ""
    (stream,) = json.loads(probe.stdout)["streams"]
    assert stream["codec_name"] == "h264"
    assert (stream["width"], stream["height"]) == (640, 480)
    assert int(stream["nb_read_frames"]) == result.frames
    assert stream["color_space"] == "bt709"


def test_odd_screen_sizes_are_cropped_to_even(tmp_path: Path) -> None:
    display, proc = start_xvfb(321, 241)
    try:
        result, _, started = record_for(display, tmp_path / "video.0", 0.5)
    finally:
        stop_process(proc)

    assert started == [("libx264", 320, 240)]
    frames, _, _ = decode_all(concatenated(tmp_path / "video.0"))
    assert frames == result.frames > 0


def test_missing_display_raises_display_unavailable(tmp_path: Path) -> None:
    stop = threading.Event()

    with pytest.raises(DisplayUnavailableError) as caught:
        record(":5999", "/nonexistent/xauth", tmp_path / "video.0", SETTINGS, stop)

    assert "':5999'" in str(caught.value)
    assert "XAUTHORITY=/nonexistent/xauth" in str(caught.value)
    assert not (tmp_path / "video.0").exists()


def test_display_going_away_ends_the_recording_with_a_playable_stream(tmp_path: Path) -> None:
    display, proc = start_xvfb(320, 240)
    stop = threading.Event()
    try:
        result = record(
            display,
            None,
            tmp_path / "video.0",
            SETTINGS,
            stop,
            on_started=lambda *_: threading.Timer(1.5, proc.terminate).start(),
        )
    finally:
        stop_process(proc)

    assert result.display_lost is not None
    assert not stop.is_set()
    frames, _, _ = decode_all(concatenated(tmp_path / "video.0"))
    assert frames == result.frames > 0


def test_full_spool_raises_spool_full_and_publishes_the_prefix(
    moving_display: str, tiny_tmpfs: Path
) -> None:
    fill(tiny_tmpfs, leave=12 * 1024)
    stop = threading.Event()
    out_dir = tiny_tmpfs / "video.0"

    with pytest.raises(SpoolFullError, match="spool full"):
        record(moving_display, None, out_dir, SETTINGS, stop)

    assert not stop.is_set()
    assert not list(out_dir.glob("*.part"))
    data = concatenated(out_dir)
    assert data[4:8] == b"ftyp"  # what reached the spool is published, in order
