"""The setup code never reaches a log file, and log files are 0640 (issue 9).

Before, gatekeeper logged the code and ``lucid up --detach`` wrote it to ``up.log``, both
readable by every local user (0644), while its own file is 0600. ``lucid up`` may still
show it on a terminal.
"""

from __future__ import annotations

import os
import pty
import select
import stat
import subprocess
import sys
from pathlib import Path

from tests.admin_ui.conftest import Ui

LUCID = [sys.executable, "-m", "lucid.cli"]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_daemon_logs_hold_no_setup_code_and_are_0640(ui: Ui) -> None:
    code = ui.setup_code()
    logs = sorted((ui.env.root / "run" / "logs").glob("*.log"))
    assert {p.stem for p in logs} >= {"gatekeeper", "admin_ui"}
    for path in logs:
        assert code not in path.read_text(errors="replace"), path
        assert _mode(path) == 0o640, path
    gatekeeper_log = ui.daemons.log_path("gatekeeper").read_text()
    assert str(ui.env.state / "gatekeeper" / "setup-code") in gatekeeper_log  # where, not what


def _read_all(fd: int) -> bytes:
    out = b""
    while select.select([fd], [], [], 0)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        out += chunk
    return out


def test_lucid_up_shows_the_code_on_a_terminal_only(tmp_path: Path) -> None:
    state = tmp_path / "appliance"
    primary, secondary = pty.openpty()
    try:
        up = subprocess.run(
            [*LUCID, "up", "--state", str(state), "--detach"],
            stdout=secondary,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
        )
        terminal = _read_all(primary).decode(errors="replace")
    finally:
        os.close(secondary)
        os.close(primary)
    try:
        assert up.returncode == 0, up.stderr
        code = (state / "state" / "gatekeeper" / "setup-code").read_text().strip()
        assert f"setup code: {code}" in terminal, terminal  # the person at the terminal sees it
        for path in [state / "run" / "up.log", *(state / "run" / "logs").glob("*.log")]:
            text = path.read_text(errors="replace")
            assert code not in text, path
            assert _mode(path) == 0o640, path
        assert "setup code in" in (state / "run" / "up.log").read_text()  # where, not what
    finally:
        down = subprocess.run(
            [*LUCID, "down", "--state", str(state)], capture_output=True, text=True, timeout=120
        )
        assert down.returncode == 0, down.stderr
