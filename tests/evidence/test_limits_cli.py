"""Hostile bundles against the real `lucid` command: it refuses them with one line, and its
peak RSS (the child's, from ``wait4``) stays within a bound over a genuine tiny bundle's.

The bundles come from ``limits_helpers``; the library-level tests are in ``test_limits.py``.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import pytest
import zstandard

from lucid.evidence import ChunkEntry
from lucid.evidence.limits import MAX_CHUNK_SIZE, MAX_MANIFEST_SIZE, MAX_PLAIN_SIZE
from tests.evidence.helpers import Sample, make_sample
from tests.evidence.limits_helpers import (
    GiB,
    MiB,
    fixed_members,
    sealed_entry,
    signed_bundle,
    write_tar,
    zstd_bomb,
)

LUCID = [sys.executable, "-m", "lucid.cli"]


PEAK_RSS = Path(__file__).resolve().parents[2] / "scripts" / "peak_rss.py"


def lucid(tmp_path: Path, *args: str) -> tuple[int, str, str, int]:
    """Run the real command; return (exit status, stdout, stderr, peak RSS in bytes).

    Through scripts/peak_rss.py: a child of this test process (which holds bundles of
    64 MiB) would report this process's peak RSS as its own."""
    rss_file = tmp_path / "rss.txt"
    with open(tmp_path / "out.txt", "w+") as out, open(tmp_path / "err.txt", "w+") as err:
        proc = subprocess.run(
            [sys.executable, str(PEAK_RSS), str(rss_file), *LUCID, *args],
            stdout=out,
            stderr=err,
            check=False,
        )
        out.seek(0)
        err.seek(0)
        rss = int(rss_file.read_text().split()[1])
        return proc.returncode, out.read(), err.read(), rss


@pytest.fixture(scope="module")
def baseline_rss(tmp_path_factory: pytest.TempPathFactory) -> int:
    """Peak RSS of `lucid verify` on a tiny genuine bundle: interpreter, PyAV, PyNaCl."""
    tmp = tmp_path_factory.mktemp("baseline")
    sample = make_sample(tmp)
    status, out, err, rss = lucid(tmp, "verify", "-q", str(sample.path))
    assert status == 0 and out.startswith("OK "), err
    return rss


def one_line_error(err: str, *fragments: str) -> None:
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, err


# --- the command line -----------------------------------------------------------------


def test_cli_play_refuses_a_4_gib_plain_size(
    sample: Sample, tmp_path: Path, baseline_rss: int
) -> None:
    # The attack: a signed manifest claims 4 GiB for a chunk that is a small zstd
    # bomb, and the old reader sized its buffer from the claim.
    entry = sealed_entry(sample, 0, zstd_bomb(GiB), 4 * GiB, "zstd")
    path = signed_bundle(sample, tmp_path / "claim.lucid", [entry])
    assert path.stat().st_size < 512 * 1024
    key = tmp_path / "auditor.key"
    sample.recipient.save(key)
    out = tmp_path / "out.mp4"
    status, _, err, rss = lucid(tmp_path, "play", str(path), "--key", str(key), "-o", str(out))
    assert status == 2  # unreadable input: not the format
    one_line_error(err, "manifest.chunks[0].plain_size", f"more than the format's {MAX_PLAIN_SIZE}")
    assert rss < baseline_rss + 32 * MiB, (rss, baseline_rss)
    assert not out.exists()


def test_cli_play_cuts_off_a_bomb_within_the_limit(
    sample: Sample, tmp_path: Path, baseline_rss: int
) -> None:
    entry = sealed_entry(sample, 0, zstd_bomb(GiB), MAX_PLAIN_SIZE, "zstd")
    path = signed_bundle(sample, tmp_path / "bomb.lucid", [entry])
    key = tmp_path / "auditor.key"
    sample.recipient.save(key)
    out = tmp_path / "out.mp4"
    status, _, err, rss = lucid(tmp_path, "play", str(path), "--key", str(key), "-o", str(out))
    assert status == 1  # checked and failed
    one_line_error(err, "chunk video.0#0: decompresses to more than its")
    assert rss < baseline_rss + 4 * MAX_CHUNK_SIZE, (rss, baseline_rss)
    assert not out.exists() and not (tmp_path / "out.mp4.part").exists()


def test_cli_verify_refuses_a_signed_1_gib_chunk(
    sample: Sample, tmp_path: Path, baseline_rss: int
) -> None:
    # The manifest lists the chunk at its real size, so the old verifier read it whole.
    entry = ChunkEntry("video.0", 0, bytes.fromhex("cd" * 32), GiB, GiB, "zstd")
    path = signed_bundle(sample, tmp_path / "gib.lucid", [(entry, GiB)])
    status, _, err, rss = lucid(tmp_path, "verify", "-q", str(path))
    assert status == 2
    one_line_error(err, f"member 'chunks/{'cd' * 32}' is {GiB} bytes, larger than the format's")
    assert rss < baseline_rss + 32 * MiB, (rss, baseline_rss)


def test_cli_verify_refuses_an_oversized_manifest(
    sample: Sample, tmp_path: Path, baseline_rss: int
) -> None:
    members = fixed_members(sample)
    path = tmp_path / "fat.lucid"
    write_tar(path, [members[0], ("manifest.json", MAX_MANIFEST_SIZE + 1), members[2]])
    status, _, err, rss = lucid(tmp_path, "verify", "-q", str(path))
    assert status == 2
    one_line_error(err, "member 'manifest.json' is", "larger than the format's")
    assert rss < baseline_rss + 32 * MiB, (rss, baseline_rss)


def fake_fmp4(packets: int, packet_bytes: int) -> bytes:
    """A fragmented MP4 of `packets` opaque video packets (remuxing never decodes them)."""
    buf = io.BytesIO()
    flags = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
    with av.open(buf, "w", format="mp4", options=flags) as out:
        stream = out.add_stream("mjpeg", rate=15)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuvj420p"
        for i in range(packets):
            packet = av.Packet(os.urandom(packet_bytes))
            packet.stream = stream
            packet.pts = packet.dts = i
            packet.duration = 1
            packet.time_base = Fraction(1, 15)
            packet.is_keyframe = True
            out.mux(packet)
    return buf.getvalue()


def test_cli_genuine_64_mib_video_verifies_and_plays_in_bounded_memory(
    sample: Sample, tmp_path: Path, baseline_rss: int
) -> None:
    video = fake_fmp4(16, 4 * MiB)  # 64 MiB of video, in five chunks
    entries: list[tuple[ChunkEntry, bytes]] = []
    pos = 0
    while pos < len(video):
        index = len(entries)
        plain = video[pos : pos + (15 * MiB if index == 1 else MAX_PLAIN_SIZE)]
        pos += len(plain)
        if index == 1:  # one zstd chunk (random data: 15 MiB grows a little), for the decoder
            body = zstandard.ZstdCompressor(level=1).compress(plain)
            entries.append(sealed_entry(sample, index, body, len(plain), "zstd"))
        else:
            entries.append(sealed_entry(sample, index, plain, len(plain), "none"))
    assert len(entries) == 5
    path = signed_bundle(sample, tmp_path / "long.lucid", entries)

    status, out, err, rss = lucid(tmp_path, "verify", "-q", str(path))
    assert status == 0 and out.startswith("OK "), err
    assert rss < baseline_rss + 8 * MiB, (rss, baseline_rss)  # chunks hashed in 1 MiB blocks

    key = tmp_path / "auditor.key"
    sample.recipient.save(key)
    # The baseline of playback: the same command on 2 frames of 64 KiB (PyAV's muxer loaded).
    small = signed_bundle(
        sample,
        tmp_path / "short.lucid",
        [sealed_entry(sample, 0, fake_fmp4(2, 64 * 1024), len(fake_fmp4(2, 64 * 1024)), "none")],
    )
    status, _, err, play_baseline = lucid(
        tmp_path, "play", str(small), "--key", str(key), "-o", str(tmp_path / "short.mp4")
    )
    assert status == 0, err
    mp4 = tmp_path / "long.mp4"
    status, out, err, rss = lucid(tmp_path, "play", str(path), "--key", str(key), "-o", str(mp4))
    assert status == 0, err
    assert "16 frames from 1 part(s)" in out
    # A chunk's sealed bytes, ciphertext and plaintext (+ the binding's copy), 64 MiB, plus
    # zstd's and the muxer's buffers (measured: ~28 MiB); holding the stream whole (pieces,
    # then joined) took over 128 MiB above the baseline.
    assert rss < play_baseline + 4 * MAX_CHUNK_SIZE + 40 * MiB, (rss, play_baseline)
    with av.open(str(mp4)) as container:
        got = [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]
    assert len(got) == 16 and sum(len(p) for p in got) == 16 * 4 * MiB
