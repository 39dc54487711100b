"""kill -9 of daemons under `lucid up --desktop`: the appliance rides out every restart.

A user's run of the appliance (real processes, real Xvfb): the desktop is approved and
recording, then gatekeeper and the sealing daemons are killed one after the other. The
appliance must keep running, each daemon must come back, and the recording must go on and
seal complete when stopped normally.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from lucid.evidence.bundle import open_bundle
from tests.cli.test_appliance import _poll, lucid

#: Daemons killed in turn while the desktop records (the recorder's own kill -9 is covered
#: in tests/pipeline/test_kill9.py: its session resumes as a new part).
VICTIMS = ("gatekeeper", "merkle", "encryptor", "chunker", "walletd")


def _daemon_pid(parent: int, name: str) -> int | None:
    """The pid of ``python -m lucid.<name>`` started by ``parent`` (the `lucid up` process)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and f"lucid.{name}".encode() in argv:
            return int(entry)
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _until(up_pid: int, what: str, done: Callable[[], bool], timeout_s: float = 90) -> None:
    """Wait for ``done()``; fail at once if `lucid up` ends meanwhile (the bug under test)."""
    deadline = time.monotonic() + timeout_s  # a guard against hanging, not a criterion
    while not done():
        assert _alive(up_pid), f"lucid up ended while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _approve_desktop(state: Path, tmp_path: Path) -> str:
    pending = _poll(
        lambda: lucid("sessions", "pending", "--state", str(state)).stdout,
        lambda out: "desktop-" in out,
    )
    request = next(w for w in pending.split() if w.startswith("desktop-"))
    code = (state / "state" / "gatekeeper" / "setup-code").read_text().strip()
    passkey = tmp_path / "alice.passkey"
    args = ("--passkey", str(passkey), "--state", str(state))
    enrolled = lucid("admin", "enroll", "alice", *args[:2], "--code", code, *args[2:])
    assert enrolled.returncode == 0, enrolled.stderr
    approved = lucid("sessions", "approve", request, *args)
    assert approved.returncode == 0, approved.stderr
    return request


def _recording(state: Path, session: str) -> bool:
    out = lucid("sessions", "--state", str(state)).stdout
    return any(line.split()[:2] == [session, "recording"] for line in out.splitlines())


def test_kill9_of_each_daemon_never_ends_the_appliance(tmp_path: Path) -> None:
    state = tmp_path / "appliance"
    up = lucid("up", "--state", str(state), "--detach", "--desktop")
    assert up.returncode == 0, up.stderr
    up_pid = int((state / "run" / "up.pid").read_text())
    try:
        session = _approve_desktop(state, tmp_path)
        _until(up_pid, "the recording", lambda: _recording(state, session))
        for name in VICTIMS:
            victim = _daemon_pid(up_pid, name)
            assert victim is not None, f"{name} is not running under lucid up"
            os.kill(victim, signal.SIGKILL)
            _until(up_pid, f"{name} to die", lambda v=victim: not _alive(v))  # type: ignore[misc]
            # The supervisor brings it back; every client (the desktop source polling
            # gatekeeper, the daemons calling each other) waits for it meanwhile.
            _until(
                up_pid,
                f"{name} to be restarted",
                lambda n=name, v=victim: _daemon_pid(up_pid, n) not in (None, v),  # type: ignore[misc]
            )
            _until(up_pid, "the recording", lambda: _recording(state, session))
        listing = lucid("sessions", "pending", "--state", str(state))
        assert listing.returncode == 0, listing.stderr  # gatekeeper answers again
        time.sleep(1)  # some video after the last restart; not a pass/fail criterion
        assert _alive(up_pid) and (state / "run" / "ready").exists()
    finally:
        down = lucid("down", "--state", str(state))
    assert down.returncode == 0, down.stderr
    log = (state / "run" / "up.log").read_text()
    assert f"sealed {session}:" in log, log
    assert "starting over" not in log, log  # no restart outlasted its clients' patience

    assert lucid("up", "--state", str(state), "--detach").returncode == 0
    try:
        out = tmp_path / "desk.lucid"
        exported = lucid("export", session, "-o", str(out), "--state", str(state))
        assert exported.returncode == 0, exported.stderr
        assert lucid("verify", str(out), "-q").returncode == 0
        with open_bundle(out) as bundle:
            assert bundle.manifest.complete, "the recording ended abnormally"
    finally:
        assert lucid("down", "--state", str(state)).returncode == 0
