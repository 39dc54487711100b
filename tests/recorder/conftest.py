"""Fixtures for recorder tests: a real Xvfb display, X clients on it, a tiny tmpfs.

`start_xvfb` and `start_client` are plain functions so that this module can move
to ``tests/conftest.py`` when other packages need a display.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

X11_SOCKET_DIR = Path("/tmp/.X11-unix")
_DISPLAY_RANGE = range(200, 900)  # clear of the low numbers xrdp and humans use


def _display_in_use(number: int) -> bool:
    return Path(f"/tmp/.X{number}-lock").exists() or (X11_SOCKET_DIR / f"X{number}").exists()


def start_xvfb(
    width: int, height: int, *extra_args: str, timeout: float = 10.0
) -> tuple[str, subprocess.Popen[bytes]]:
    """Start ``Xvfb :N -screen 0 WxHx24 -nolisten tcp -noreset`` on a free display number.

    Args:
        width: screen width in pixels.
        height: screen height in pixels.
        extra_args: more Xvfb arguments, e.g. ``"-extension", "RECORD"``.
        timeout: seconds to wait for the server socket.

    Raises:
        RuntimeError: no display could be started.

    Returns:
        (display name such as ``":417"``, the Xvfb process; terminate it).
    """
    if shutil.which("Xvfb") is None:
        raise RuntimeError("Xvfb is not installed (apt-get install xvfb)")
    candidates = [n for n in random.sample(_DISPLAY_RANGE, 20) if not _display_in_use(n)]
    for number in candidates:
        argv = ["Xvfb", f":{number}", "-screen", "0", f"{width}x{height}x24"]
        proc = subprocess.Popen(
            [*argv, "-nolisten", "tcp", "-noreset", *extra_args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        socket = X11_SOCKET_DIR / f"X{number}"
        deadline = time.monotonic() + timeout
        while proc.poll() is None and not socket.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        if proc.poll() is None and socket.exists():
            return f":{number}", proc
        stop_process(proc)  # lost a race for the number, or too slow: try another
    raise RuntimeError(f"could not start Xvfb on any of displays {candidates}")


def start_client(display: str, *argv: str) -> subprocess.Popen[bytes]:
    """Start an X client (e.g. ``"xclock", "-update", "1"``) on ``display``."""
    return subprocess.Popen(
        list(argv),
        env={**os.environ, "DISPLAY": display},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Terminate ``proc`` and reap it (kill after 5 s)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def xdotool(display: str, *args: str) -> str:
    """Run ``xdotool`` on ``display`` and return its stdout."""
    done = subprocess.run(
        ["xdotool", *args],
        env={**os.environ, "DISPLAY": display},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout


def wait_for_window(display: str, *search: str, timeout: float = 10.0) -> int:
    """The id of the first window ``xdotool search *search`` finds, waiting for it."""
    deadline = time.monotonic() + timeout
    while True:
        done = subprocess.run(
            ["xdotool", "search", *search],
            env={**os.environ, "DISPLAY": display},
            capture_output=True,
            text=True,
            timeout=30,
        )
        ids = done.stdout.split()
        if ids:
            return int(ids[0])
        if time.monotonic() > deadline:
            raise RuntimeError(f"no window matches {search} on {display}")
        time.sleep(0.05)


@pytest.fixture
def xvfb() -> Iterator[str]:
    """A 640x480 Xvfb display with nothing on it; yields its name."""
    display, proc = start_xvfb(640, 480)
    try:
        yield display
    finally:
        stop_process(proc)


@pytest.fixture
def moving_display(xvfb: str) -> Iterator[str]:
    """The `xvfb` display with a spinning ``ico`` (throttled) and ``xclock``."""
    clients = [
        start_client(xvfb, "ico", "-faces", "-sleep", "0.03", "-geometry", "400x300+0+0"),
        start_client(xvfb, "xclock", "-update", "1", "-geometry", "200x200+420+0"),
    ]
    try:
        wait_for_window(xvfb, "--name", "^Ico")
        wait_for_window(xvfb, "--class", "xclock")
        yield xvfb
    finally:
        for client in clients:
            stop_process(client)


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs mounted for the test (needs root, as `make test` and CI run)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (run the suite as root): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory: Path, leave: int) -> None:
    """Fill the file system of ``directory`` until at most ``leave`` bytes are free."""
    stat = os.statvfs(directory)
    free = stat.f_bavail * stat.f_frsize
    if free > leave:
        (directory / "ballast").write_bytes(b"\0" * (free - leave))
