"""`lucid up --rdp-port` (what `make run` does): xrdp on 127.0.0.1 that a local client uses.

The whole appliance is started by the command, a real xfreerdp logs in as a local user, the
login waits for approval as a request in gatekeeper, the approval (CLI, soft passkey) starts
the desktop in that session, and `lucid down` takes xrdp and the session down with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.rdp.conftest import RdpUser, stop_process, user_pids
from tests.recorder.conftest import start_xvfb

pytestmark = pytest.mark.rdp

LUCID = [sys.executable, "-m", "lucid.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def lucid(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LUCID, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory every user can traverse (pytest's tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="lucid-up-rdp-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _client(port: int, user: RdpUser, display: str) -> subprocess.Popen[bytes]:
    argv = ["xfreerdp", f"/v:127.0.0.1:{port}", f"/u:{user.name}", f"/p:{user.password}"]
    return subprocess.Popen(
        [*argv, "/cert:ignore", "/size:800x600"],
        env={**os.environ, "DISPLAY": display},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _running(name: str) -> bool:
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == name:
                return True
    return False


def test_up_refuses_a_state_dir_users_cannot_reach(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o700)
    up = lucid("up", "--state", str(tmp_path / "appliance"), "--rdp-port", str(_free_port()))
    assert up.returncode != 0
    assert "searchable by every user" in up.stderr and "Traceback" not in up.stderr


async def test_up_with_rdp_gates_a_real_login(open_dir: Path, rdp_users: list[RdpUser]) -> None:
    if os.geteuid() != 0:
        pytest.fail("the RDP host needs root")
    state = open_dir / "appliance"
    port = _free_port()
    up = await asyncio.to_thread(
        lucid, "up", "--state", str(state), "--detach", "--rdp-port", str(port)
    )
    assert up.returncode == 0, up.stderr
    user = rdp_users[0]
    display, xvfb = start_xvfb(1024, 768)
    client = _client(port, user, display)
    try:
        log = (state / "run" / "up.log").read_text()
        assert f"RDP host 127.0.0.1:{port}" in log and "RDP certificate SHA-256" in log

        pending: list[str] = []

        def filed() -> bool:
            out = lucid("sessions", "pending", "--state", str(state)).stdout
            pending[:] = [line.split()[0] for line in out.splitlines() if user.name in line]
            return bool(pending)

        await wait_for(filed, 120, f"a request of {user.name}")
        assert not user_pids(user.uid, "xterm") and not user_pids(user.uid, "xlogo")

        code = (state / "state" / "gatekeeper" / "setup-code").read_text().strip()
        key = open_dir / "alice.passkey"
        enroll = lucid("admin", "enroll", "alice", "--passkey", str(key), "--code", code,
                       "--state", str(state))  # fmt: skip
        assert enroll.returncode == 0, enroll.stderr
        approve = lucid("sessions", "approve", pending[0], "--passkey", str(key),
                        "--state", str(state))  # fmt: skip
        assert approve.returncode == 0, approve.stderr

        def desktop() -> bool:
            return bool(user_pids(user.uid, "xterm") or user_pids(user.uid, "xlogo"))

        await wait_for(desktop, 120, "the approved session's desktop")
    finally:
        down = lucid("down", "--state", str(state))
        stop_process(client)
        stop_process(xvfb)
    assert down.returncode == 0, down.stderr
    assert not _running("xrdp") and not _running("xrdp-sesman")
    await wait_for(lambda: not user_pids(user.uid, "Xvnc"), 60, "the session's X server to end")
