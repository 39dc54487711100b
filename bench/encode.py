"""Benchmark: the recorder's encode path against the ffmpeg CLI on the same frames.

`bench_encode_vs_ffmpeg` captures N 1080p frames of a desktop-like Xvfb screen
(ico spinning, clocks, a text editor, a calculator) into a raw BGRA file, then
encodes that file (a) with `lucid.recorder.pipeline.Fmp4Encoder` writing spool
segments through `SegmentWriter`, exactly as a recording does, and (b) with the
ffmpeg CLI at the same preset, tune, CRF, GOP and fragmented-MP4 flags. Both read
the file through FFmpeg's rawvideo demuxer. Each side is timed with
`time.perf_counter`, best of three, interleaved.

Without Xvfb it falls back to FFmpeg's ``testsrc2`` pattern (not desktop-like).
It does not measure capture: x11grab of Xvfb runs at ~1000 fps, far from the limit.

Run: ``python bench/encode.py [workdir]``; prints ``encode_vs_ffmpeg: X (goal ≥ 0.9)``.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av

from lucid.recorder.encoder import EncoderSettings, probe_encoder
from lucid.recorder.pipeline import MOVFLAGS, Fmp4Encoder
from lucid.recorder.segments import SegmentWriter

WIDTH, HEIGHT = 1920, 1080
FRAMES = 150
REPEATS = 3
SETTINGS = EncoderSettings(codecs=("libx264",))
_DESKTOP = [
    ["ico", "-faces", "-sleep", "0.02", "-geometry", "900x700+60+60"],
    ["xclock", "-update", "1", "-geometry", "300x300+1560+40"],
    ["xeyes", "-geometry", "300x200+1560+400"],
    ["xcalc", "-geometry", "+1000+80"],
    ["xlogo", "-geometry", "250x250+60+800"],
]


def _raw_input(raw: Path, fps: int) -> av.container.InputContainer:
    options = {"video_size": f"{WIDTH}x{HEIGHT}", "pixel_format": "bgra", "framerate": str(fps)}
    return av.open(str(raw), format="rawvideo", options=options)


def _start_xvfb() -> tuple[str, subprocess.Popen[bytes]]:
    for number in random.sample(range(200, 900), 20):
        if Path(f"/tmp/.X{number}-lock").exists():
            continue
        proc = subprocess.Popen(
            ["Xvfb", f":{number}", "-screen", "0", f"{WIDTH}x{HEIGHT}x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                return f":{number}", proc
            time.sleep(0.02)
        proc.kill()
        proc.wait()
    raise RuntimeError("cannot start Xvfb")


def _write_frames(source: av.container.InputContainer, raw: Path, count: int) -> None:
    row = WIDTH * 4
    with raw.open("wb") as out:
        for index, frame in enumerate(source.decode(video=0)):
            if index >= count:
                break
            bgra = frame if frame.format.name in ("bgra", "bgr0") else frame.reformat(format="bgra")
            plane = bgra.planes[0]
            data = memoryview(plane)
            if plane.line_size == row:
                out.write(data[: row * HEIGHT])
            else:
                for y in range(HEIGHT):
                    out.write(data[y * plane.line_size : y * plane.line_size + row])


def make_frames(workdir: Path, count: int = FRAMES, fps: int = 15) -> Path:
    """Capture ``count`` desktop-like 1920x1080 frames into ``workdir/frames.bgra``.

    Args:
        workdir: where the raw file goes (count x 8 MiB).
        count: number of frames.
        fps: capture rate.

    Returns:
        The raw BGRA file.
    """
    raw = workdir / "frames.bgra"
    if shutil.which("Xvfb") is None:
        spec = f"testsrc2=size={WIDTH}x{HEIGHT}:rate={fps}"
        with av.open(spec, format="lavfi") as source:
            _write_frames(source, raw, count)
        return raw
    display, server = _start_xvfb()
    env = {**os.environ, "DISPLAY": display}
    clients = [
        subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for argv in [*_DESKTOP, ["xedit", "-geometry", "800x500+1000+520", __file__]]
        if shutil.which(argv[0])
    ]
    try:
        time.sleep(1.0)  # let the clients map and draw
        options = {"framerate": str(fps), "draw_mouse": "1"}
        with av.open(display, format="x11grab", options=options) as source:
            _write_frames(source, raw, count)
    finally:
        for proc in [*clients, server]:
            proc.terminate()
            proc.wait()
    return raw


def encode_ours(raw: Path, outdir: Path, settings: EncoderSettings = SETTINGS) -> float:
    """Encode ``raw`` with the recorder's path into segments; return frames per second."""
    shutil.rmtree(outdir, ignore_errors=True)
    start = time.perf_counter()
    choice = probe_encoder(settings, WIDTH, HEIGHT)
    writer = SegmentWriter(outdir, segment_seconds=settings.fragment_seconds)
    encoder = Fmp4Encoder(writer, choice, WIDTH, HEIGHT, settings)
    frames = 0
    with _raw_input(raw, settings.fps) as source:
        for frames, frame in enumerate(source.decode(video=0), start=1):
            before = writer.bytes_written
            encoder.encode(frame, frames - 1)
            if writer.bytes_written != before:
                writer.roll()
    encoder.finish()
    writer.close()
    return frames / (time.perf_counter() - start)


def encode_ffmpeg(raw: Path, out: Path, frames: int, settings: EncoderSettings = SETTINGS) -> float:
    """Encode ``raw`` with the ffmpeg CLI at the same settings; return frames per second."""
    command = [
        "ffmpeg", "-nostdin", "-v", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgra", "-s", f"{WIDTH}x{HEIGHT}",
        "-r", str(settings.fps), "-i", str(raw),
        "-c:v", "libx264", "-preset", settings.preset, "-tune", settings.tune,
        "-crf", str(settings.crf), "-g", str(settings.gop_frames), "-pix_fmt", "yuv420p",
        "-f", "mp4", "-movflags", MOVFLAGS,
        "-frag_duration", str(round(settings.fragment_seconds * 1_000_000)),
        str(out),
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True)
    return frames / (time.perf_counter() - start)


def bench_encode_vs_ffmpeg(workdir: Path, frames: int = FRAMES) -> dict[str, float]:
    """Compare the recorder's encode speed with the ffmpeg CLI's on the same frames.

    Args:
        workdir: scratch directory (needs ~frames x 8 MiB).
        frames: number of 1080p frames.

    Raises:
        subprocess.CalledProcessError: ffmpeg failed.

    Returns:
        ``{"encode_vs_ffmpeg": ours / ffmpeg, "encode_fps": ours, "ffmpeg_fps": ffmpeg}``,
        each side the best of three runs.
    """
    raw = make_frames(workdir, frames)
    count = raw.stat().st_size // (WIDTH * HEIGHT * 4)
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(REPEATS):
        ours.append(encode_ours(raw, workdir / "ours"))
        theirs.append(encode_ffmpeg(raw, workdir / "ffmpeg.mp4", count))
    best_ours, best_theirs = max(ours), max(theirs)
    return {
        "encode_vs_ffmpeg": best_ours / best_theirs,
        "encode_fps": best_ours,
        "ffmpeg_fps": best_theirs,
    }


def main() -> None:
    """Run the benchmark in a temporary (or the given) directory and print the result."""
    if len(sys.argv) > 1:
        result = bench_encode_vs_ffmpeg(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory(prefix="lucid-bench-") as tmp:
            result = bench_encode_vs_ffmpeg(Path(tmp))
    print(f"encode_fps: {result['encode_fps']:.1f}")
    print(f"ffmpeg_fps: {result['ffmpeg_fps']:.1f}")
    print(f"encode_vs_ffmpeg: {result['encode_vs_ffmpeg']:.2f} (goal ≥ 0.9)")


if __name__ == "__main__":
    main()
