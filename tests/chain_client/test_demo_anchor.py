"""`lucid demo` anchors its session: on its own anvil by default, or on `--chain-rpc URL`
(contracts deployed and the device funded there), and `lucid verify --rpc URL` accepts it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lucid.chain_client.localchain import LocalChain

LUCID = [sys.executable, "-m", "lucid.cli"]


def lucid(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LUCID, *args], capture_output=True, text=True, timeout=600)


def test_demo_on_a_given_chain_is_verified_against_it(anvil: LocalChain, tmp_path: Path) -> None:
    demo = lucid("demo", "--seconds", "2", "--out", str(tmp_path), "--chain-rpc", anvil.url)
    assert demo.returncode == 0, demo.stderr
    assert "anchored demo-" in demo.stderr, demo.stderr
    bundle = Path(demo.stdout.strip().splitlines()[-3])  # bundle, auditor.key, trust.json
    offline = lucid("verify", "-q", str(bundle))
    assert offline.returncode == 0, offline
    assert "of chain 31337 (not checked: no --rpc)" in offline.stdout, offline
    online = lucid("verify", "-q", str(bundle), "--rpc", anvil.url)
    assert online.returncode == 0, online.stderr
    assert "of chain 31337 (checked, " in online.stdout
