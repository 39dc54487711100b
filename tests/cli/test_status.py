"""`lucid status` and what `lucid up` says about daemons that cannot do their job."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LUCID = [sys.executable, "-m", "lucid.cli"]


def lucid(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LUCID, *args], capture_output=True, text=True, timeout=300, env=env or dict(os.environ)
    )


def test_without_anvil_up_and_status_say_anchoring_is_degraded(tmp_path: Path) -> None:
    state = tmp_path / "appliance"
    env = dict(os.environ) | {"LUCID_ANVIL": str(tmp_path / "no-anvil-here")}
    up = lucid("up", "--state", str(state), "--detach", env=env)
    assert up.returncode == 0, up.stderr
    try:
        assert "degraded: chain_client: anchoring: anvil missing" in up.stdout, up.stdout
        status = lucid("status", "--state", str(state))
        assert status.returncode == 1, status.stdout + status.stderr
        lines = {line.split()[0]: line for line in status.stdout.splitlines()[1:]}
        assert "degraded" in lines["chain_client"] and "anvil missing" in lines["chain_client"]
        for daemon in ("walletd", "gatekeeper", "recorder", "merkle", "admin_ui"):
            assert lines[daemon].split()[1] == "ok", status.stdout
        assert lines["rdp_gate"].split()[1] == "off", status.stdout  # optional, not degraded
    finally:
        assert lucid("down", "--state", str(state)).returncode == 0
    log = (state / "run" / "up.log").read_text()
    assert "degraded: chain_client: anchoring: anvil missing" in log, log


def test_with_anvil_everything_is_ok(tmp_path: Path) -> None:
    from lucid.chain_client.localchain import find_anvil

    anvil = find_anvil()  # `make setup` installs it; a missing anvil fails here, loudly
    assert anvil.is_file(), anvil
    state = tmp_path / "appliance"
    up = lucid("up", "--state", str(state), "--detach")
    assert up.returncode == 0, up.stderr
    try:
        assert "all 8 daemons running; anchoring: ok" in up.stdout, up.stdout
        assert "degraded" not in up.stdout
        status = lucid("status", "--state", str(state))
        assert status.returncode == 0, status.stdout + status.stderr
        assert "anchoring: ok" in status.stdout
    finally:
        assert lucid("down", "--state", str(state)).returncode == 0


def test_status_without_an_appliance_says_so(tmp_path: Path) -> None:
    proc = lucid("status", "--state", str(tmp_path / "none"))
    assert proc.returncode == 1
    assert "no appliance is running" in proc.stderr and "Traceback" not in proc.stderr
