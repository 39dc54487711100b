"""`lucid keys auditor new|show`: a key file an auditor keeps, its public key on stdout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lucid.evidence.keyfile import RecipientKey

LUCID = [sys.executable, "-m", "lucid.cli"]


def lucid(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LUCID, *args], capture_output=True, text=True, timeout=120)


def test_new_writes_a_key_and_prints_its_public_key(tmp_path: Path) -> None:
    path = tmp_path / "auditor.key"
    made = lucid("keys", "auditor", "new", "-o", str(path))
    assert made.returncode == 0, made.stderr
    key = RecipientKey.load(path)
    assert made.stdout.strip() == key.public.hex()  # stdout: the public key alone
    assert path.stat().st_mode & 0o077 == 0
    assert "Keys page" in made.stderr and "lucid play" in made.stderr
    shown = lucid("keys", "auditor", "show", str(path))
    assert shown.returncode == 0 and shown.stdout.strip() == key.public.hex()


def test_new_never_overwrites_a_key(tmp_path: Path) -> None:
    path = tmp_path / "auditor.key"
    assert lucid("keys", "auditor", "new", "-o", str(path)).returncode == 0
    before = path.read_bytes()
    again = lucid("keys", "auditor", "new", "-o", str(path))
    assert again.returncode == 2 and again.stderr.count("\n") == 1
    assert "already exists" in again.stderr and "Traceback" not in again.stderr
    assert path.read_bytes() == before
    missing = lucid("keys", "auditor", "show", str(tmp_path / "none.key"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
