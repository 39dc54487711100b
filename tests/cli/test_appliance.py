"""`lucid up/down/sessions/export` as a user runs them (real processes, real Xvfb)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

LUCID = [sys.executable, "-m", "lucid.cli"]


def lucid(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LUCID, *args], capture_output=True, text=True, timeout=300)


def test_up_record_down_export(tmp_path: Path) -> None:
    state = tmp_path / "appliance"
    up = lucid("up", "--state", str(state), "--detach", "--desktop")
    assert up.returncode == 0, up.stderr
    try:
        deadline = time.monotonic() + 60
        while True:
            listing = lucid("sessions", "--state", str(state))
            assert listing.returncode == 0, listing.stderr
            if "recording" in listing.stdout:
                break
            assert time.monotonic() < deadline, listing.stdout
            time.sleep(0.5)
        time.sleep(2)
    finally:
        down = lucid("down", "--state", str(state))
    assert down.returncode == 0, down.stderr
    log = (state / "run" / "up.log").read_text()
    assert "sealed desktop-" in log, log
    session = log.split("sealed ", 1)[1].split(":", 1)[0]

    assert lucid("up", "--state", str(state), "--detach").returncode == 0
    try:
        listing = lucid("sessions", "--state", str(state))
        assert session in listing.stdout and "sealed" in listing.stdout
        out = tmp_path / "desk.lucid"
        exported = lucid("export", session, "-o", str(out), "--state", str(state))
        assert exported.returncode == 0, exported.stderr
        assert lucid("verify", str(out), "-q").returncode == 0
        missing = lucid(
            "export", "no-such-session", "-o", str(tmp_path / "x"), "--state", str(state)
        )
        assert missing.returncode == 1
        assert missing.stderr.count("\n") == 1 and "not sealed" in missing.stderr
        assert not (tmp_path / "x").exists() and not (tmp_path / "x.part").exists()
    finally:
        assert lucid("down", "--state", str(state)).returncode == 0


def test_commands_without_an_appliance_say_so(tmp_path: Path) -> None:
    proc = lucid("sessions", "--state", str(tmp_path / "none"))
    assert proc.returncode == 1
    assert "no appliance is running" in proc.stderr and "Traceback" not in proc.stderr
    proc = lucid("down", "--state", str(tmp_path / "none"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
