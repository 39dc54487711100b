"""`lucid demo` end to end: the real command, then verify, tamper, play."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import av
import pytest

LUCID = [sys.executable, "-m", "lucid.cli"]


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*LUCID, *args], capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        pytest.fail(f"lucid {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("demo")
    proc = run("demo", "--seconds", "4", "--out", str(out))
    bundle_line, key_line, trust_line = proc.stdout.strip().splitlines()[-3:]
    assert Path(trust_line) == out / "trust.json"
    return Path(bundle_line), Path(key_line)


def _rewrite(src: Path, dst: Path, member: str, change: bytes | None) -> None:
    """Copy a bundle, replacing ``member``'s bytes (same size keeps the tar valid)."""
    with tarfile.open(src) as tin, tarfile.open(dst, "w", format=tarfile.USTAR_FORMAT) as tout:
        for info in tin.getmembers():
            data = tin.extractfile(info).read()  # type: ignore[union-attr]  # regular files only
            if info.name == member and change is not None:
                data = change
            info.size = len(data)
            import io

            tout.addfile(info, io.BytesIO(data))


def test_demo_verifies(demo: tuple[Path, Path]) -> None:
    bundle, key = demo
    assert bundle.suffix == ".lucid" and key.name == "auditor.key"
    proc = run("verify", str(bundle), "-q")
    assert proc.stdout.startswith("OK ")
    assert "(not pinned: pass --trust or --device-key)" in proc.stdout
    assert "approved by demo-admin's passkey (unknown)" in proc.stdout
    trusted = run("verify", str(bundle), "-q", "--trust", str(key.parent / "trust.json"))
    lines = trusted.stdout.splitlines()
    assert lines[0].startswith("OK ")
    assert "(trusted: in your trust file)" in lines[1] and lines[1].startswith("  signed by")
    assert lines[2] == "  approved by demo-admin's passkey (trusted)"  # the demo admin's approval
    assert lines[3].startswith("  anchored in block ") and "(not checked: no --rpc)" in lines[3]


def test_tampered_chunk_names_the_chunk(demo: tuple[Path, Path], tmp_path: Path) -> None:
    bundle, _ = demo
    with tarfile.open(bundle) as tar:
        names = [m.name for m in tar.getmembers() if m.name.startswith("chunks/")]
        victim = names[len(names) // 2]
        data = bytearray(tar.extractfile(victim).read())  # type: ignore[union-attr]  # a file
    data[len(data) // 2] ^= 0x01
    bad = tmp_path / "bad.lucid"
    _rewrite(bundle, bad, victim, bytes(data))
    proc = run("verify", str(bad), "-q", check=False)
    assert proc.returncode == 1
    assert "chunk " in proc.stderr and "#" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_tampered_manifest_fails(demo: tuple[Path, Path], tmp_path: Path) -> None:
    bundle, _ = demo
    with tarfile.open(bundle) as tar:
        manifest = tar.extractfile("manifest.json").read()  # type: ignore[union-attr]  # a file
    forged = manifest.replace(b'"complete":true', b'"complete":fals')  # same length
    assert forged != manifest
    bad = tmp_path / "forged.lucid"
    _rewrite(bundle, bad, "manifest.json", forged)
    proc = run("verify", str(bad), "-q", check=False)
    assert proc.returncode != 0
    assert "manifest" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("content", [b"", b"not a bundle at all", b"\x00" * 1024])
def test_foreign_files_fail_cleanly(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "x.lucid"
    path.write_bytes(content)
    for args in (["verify", str(path)], ["play", str(path), "--key", str(path), "-o", "o.mp4"]):
        proc = run(*args, check=False)
        assert proc.returncode != 0
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_truncated_bundle_fails_cleanly(demo: tuple[Path, Path], tmp_path: Path) -> None:
    bundle, _ = demo
    cut = tmp_path / "cut.lucid"
    cut.write_bytes(bundle.read_bytes()[: bundle.stat().st_size // 2])
    proc = run("verify", str(cut), "-q", check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr


def test_play_gives_a_playable_mp4(demo: tuple[Path, Path], tmp_path: Path) -> None:
    bundle, key = demo
    out = tmp_path / "session.mp4"
    run("play", str(bundle), "--key", str(key), "-o", str(out))
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
    assert frames >= 15  # 4 s at 15 fps, minus start-up
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "h264"


def test_play_with_wrong_key_fails_cleanly(demo: tuple[Path, Path], tmp_path: Path) -> None:
    from lucid.evidence.keyfile import RecipientKey

    bundle, _ = demo
    other = tmp_path / "other.key"
    RecipientKey.generate().save(other)
    proc = run("play", str(bundle), "--key", str(other), "-o", str(tmp_path / "x.mp4"), check=False)
    assert proc.returncode != 0 and "recipient" in proc.stderr
    assert not (tmp_path / "x.mp4").exists()
