"""`make setup` (scripts/setup.sh) on a fresh checkout: what `make run` and `make bench` need.

The checkout is a copy of ``scripts/`` and ``contracts/`` without ``node_modules``, ``out``
and ``cache`` (what a fresh clone has), with a venv whose stamp is current, so the Python
steps have nothing to do and the real venv's editable install is left alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILT = ("node_modules", "out", "cache")


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clone")
    shutil.copytree(REPO / "scripts", root / "scripts")
    shutil.copytree(REPO / "contracts", root / "contracts", ignore=shutil.ignore_patterns(*BUILT))
    shutil.copy2(REPO / "pyproject.toml", root / "pyproject.toml")
    venv = root / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to(sys.executable)
    (root / ".venv" / ".stamp").touch()  # newer than the copied pyproject.toml
    return root


def setup(root: Path) -> str:
    proc = subprocess.run(
        ["bash", "scripts/setup.sh"], cwd=root, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def test_setup_installs_anvil_and_builds_the_contracts(fresh_clone: Path) -> None:
    out = setup(fresh_clone)
    assert "npm ci" in out and "building the contracts" in out, out
    anvil = fresh_clone / "contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
    version = subprocess.run([anvil, "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and "anvil" in version.stdout
    # what `make bench` deploys (contracts/scripts/gas.js) and checks for (bench/anchor.py)
    artifact = fresh_clone / "contracts/out/LucidAnchors.sol/LucidAnchors.json"
    assert json.loads(artifact.read_text())["bytecode"]["object"].startswith("0x6")


def test_setup_again_does_nothing(fresh_clone: Path) -> None:
    setup(fresh_clone)  # whatever the order the tests run in, the first run did the work
    again = setup(fresh_clone)
    assert "npm: contracts/node_modules up to date" in again, again
    assert "forge: contracts/out up to date" in again, again
    assert "npm ci" not in again and "building" not in again


def test_a_changed_lock_file_reinstalls(fresh_clone: Path) -> None:
    setup(fresh_clone)
    lock = fresh_clone / "contracts" / "package-lock.json"
    stamp = fresh_clone / "contracts" / "node_modules" / ".package-lock.json"
    later = stamp.stat().st_mtime + 10
    os.utime(lock, (later, later))
    out = setup(fresh_clone)
    assert "npm ci" in out and "building the contracts" in out, out


def test_setup_without_node_says_what_to_install(fresh_clone: Path, tmp_path: Path) -> None:
    # the system's PATH without node and npm
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in ("/usr/local/bin", "/usr/bin", "/bin"):
        for tool in Path(directory).iterdir():
            link = bin_dir / tool.name
            if tool.name not in ("node", "npm", "nodejs") and not link.exists():
                link.symlink_to(tool)
    proc = subprocess.run(
        ["bash", "scripts/setup.sh"],
        cwd=fresh_clone,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
    )
    assert proc.returncode == 1
    assert "node >= 20 and npm are needed" in proc.stderr and "Traceback" not in proc.stderr
