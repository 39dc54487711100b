"""`lucid up/down/sessions/export` as a user runs them (real processes, real Xvfb)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

LUCID = [sys.executable, "-m", "lucid.cli"]


def lucid(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LUCID, *args], capture_output=True, text=True, timeout=300)


def _poll(read: Callable[[], str], ok: Callable[[str], bool], timeout_s: float = 90) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        out = read()
        if ok(out):
            return out
        assert time.monotonic() < deadline, out
        time.sleep(0.5)


def test_up_record_down_export(tmp_path: Path) -> None:
    state = tmp_path / "appliance"
    up = lucid("up", "--state", str(state), "--detach", "--desktop")
    assert up.returncode == 0, up.stderr
    try:
        # The desktop asks for approval and nothing is recorded until an admin gives it.
        pending = _poll(
            lambda: lucid("sessions", "pending", "--state", str(state)).stdout,
            lambda out: "desktop-" in out,
        )
        request = next(w for w in pending.split() if w.startswith("desktop-"))
        assert request not in lucid("sessions", "--state", str(state)).stdout
        code = (state / "state" / "gatekeeper" / "setup-code").read_text().strip()
        passkey = tmp_path / "alice.passkey"
        enrolled = lucid(
            "admin",
            "enroll",
            "alice",
            "--passkey",
            str(passkey),
            "--code",
            code,
            "--state",
            str(state),
        )
        assert enrolled.returncode == 0, enrolled.stderr
        approved = lucid(
            "sessions", "approve", request, "--passkey", str(passkey), "--state", str(state)
        )
        assert approved.returncode == 0, approved.stderr
        _poll(
            lambda: lucid("sessions", "--state", str(state)).stdout, lambda out: "recording" in out
        )
        time.sleep(2)  # some video to seal; not a pass/fail criterion
    finally:
        down = lucid("down", "--state", str(state))
    assert down.returncode == 0, down.stderr
    log = (state / "run" / "up.log").read_text()
    assert "web page http://localhost:" in log and "setup code" in log, log
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
