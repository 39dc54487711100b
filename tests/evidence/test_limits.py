"""Hostile bundles: sizes and counts above the format's limits are refused, cheaply.

Each attack is a valid tar (and, where it matters, a correctly signed manifest: the
attacker owns a device key) claiming or holding more than docs/evidence.md §9.1 allows.
The library tests measure with tracemalloc; the command-line tests run the real `lucid`
and read the child's peak RSS from ``wait4``. Big members are holes in sparse files, so
the tests stay cheap however large the attack.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tracemalloc
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import pytest
import zstandard

from lucid.evidence import (
    ChunkEntry,
    DecryptionError,
    FormatError,
    Manifest,
    Proofs,
    SignedManifest,
    StreamInfo,
    build_proofs,
    canonical_json,
    decrypt_stream,
    leaf_hash,
    open_bundle,
    root,
    seal_chunk,
    verify_bundle,
)
from lucid.evidence.limits import (
    MAX_CHUNK_SIZE,
    MAX_CHUNKS,
    MAX_MANIFEST_SIZE,
    MAX_MEMBERS,
    MAX_PLAIN_SIZE,
    MAX_PROOFS_SIZE,
    MAX_RECIPIENTS,
    MAX_STREAMS,
)
from tests.evidence.helpers import Sample, make_sample

MiB = 1024 * 1024
GiB = 1024 * MiB
LUCID = [sys.executable, "-m", "lucid.cli"]
Member = tuple[str, bytes | int]
"""A tar member: its bytes, or a size in bytes of zeros written as a hole."""


def write_tar(path: Path, members: list[Member]) -> None:
    """A valid ustar archive; int members are holes (sparse), so 1 GiB costs nothing."""
    with open(path, "wb") as fh:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = data if isinstance(data, int) else len(data)
            fh.write(info.tobuf(format=tarfile.USTAR_FORMAT))
            padded = -(-info.size // 512) * 512
            if isinstance(data, int):
                fh.seek(padded, os.SEEK_CUR)
            else:
                fh.write(data + bytes(padded - len(data)))
        fh.write(bytes(1024))  # end-of-archive marker, then padding to a whole record
        fh.write(bytes(-fh.tell() % 10240))


def signed_bundle(
    sample: Sample,
    path: Path,
    chunks: list[tuple[ChunkEntry, bytes | int]],
    *,
    kind: str = "video",
) -> Path:
    """A bundle of one stream ``video.0`` whose manifest the sample's device key signs,
    whatever it claims (built without `build_manifest`'s checks, as an attacker would)."""
    manifest = replace(
        sample.manifest,
        streams=(StreamInfo("video.0", kind, "video/mp4", len(chunks)),),  # type: ignore[arg-type]  # kind is a test parameter
        chunks=tuple(c for c, _ in chunks),
        tree_root=root([c.hash for c, _ in chunks]),
    )
    signed = SignedManifest.sign(manifest, lambda msg: sample.device.sign(msg).signature)
    header = canonical_json({"format": "lucid.bundle", "version": 1, "session": manifest.session})
    write_tar(
        path,
        [
            ("lucid-bundle.json", header),
            ("manifest.json", signed.to_bytes()),
            ("proofs.json", build_proofs(manifest).to_bytes()),
            *((f"chunks/{c.hash_hex}", data) for c, data in chunks),
        ],
    )
    return path


def sealed_entry(
    sample: Sample, index: int, body: bytes, plain_size: int, compression: str
) -> tuple[ChunkEntry, bytes]:
    sealed = seal_chunk(sample.data_key, sample.manifest.session, "video.0", index, body)
    entry = ChunkEntry("video.0", index, leaf_hash(sealed), len(sealed), plain_size, compression)  # type: ignore[arg-type]  # a Compression literal
    return entry, sealed


def zstd_bomb(plain: int) -> bytes:
    """A zstd frame of `plain` zero bytes (content size in its header), a few KiB long."""
    out = io.BytesIO()
    with zstandard.ZstdCompressor(level=1).stream_writer(out, size=plain, closefd=False) as writer:
        block = bytes(MiB)
        for _ in range(plain // MiB):
            writer.write(block)
    return out.getvalue()


def peak_bytes(work: Callable[[], object], raises: type[Exception] | None = None) -> int:
    """Peak Python allocations while `work` runs; it must raise `raises` if given."""
    tracemalloc.start()
    try:
        if raises is None:
            work()
        else:
            with pytest.raises(raises):
                work()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def lucid(tmp_path: Path, *args: str) -> tuple[int, str, str, int]:
    """Run the real command; return (exit status, stdout, stderr, peak RSS in bytes)."""
    with open(tmp_path / "out.txt", "w+") as out, open(tmp_path / "err.txt", "w+") as err:
        proc = subprocess.Popen([*LUCID, *args], stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read(), usage.ru_maxrss * 1024


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


# --- the manifest ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "plain_size",
            4 * GiB,
            f"manifest.chunks[0].plain_size: {4 * GiB} bytes, more than the format's "
            f"{MAX_PLAIN_SIZE} per chunk",
        ),
        (
            "size",
            GiB,
            f"manifest.chunks[0].size: {GiB} bytes, more than the format's {MAX_CHUNK_SIZE}",
        ),
    ],
)
def test_manifest_refuses_chunk_sizes_above_the_limits(
    sample: Sample, field: str, value: int, message: str
) -> None:
    doc = sample.manifest.to_dict()
    doc["chunks"][0][field] = value
    with pytest.raises(FormatError) as err:
        Manifest.from_dict(doc)
    assert message in str(err.value)


def test_manifest_accepts_sizes_at_the_limits(sample: Sample) -> None:
    doc = sample.manifest.to_dict()
    doc["chunks"][0]["plain_size"] = MAX_PLAIN_SIZE  # a zstd chunk
    doc["chunks"][0]["size"] = MAX_CHUNK_SIZE
    assert Manifest.from_dict(doc).chunks[0].plain_size == MAX_PLAIN_SIZE


def test_stored_chunk_plain_size_must_match_its_size(sample: Sample) -> None:
    doc = sample.manifest.to_dict()
    stored = next(i for i, c in enumerate(doc["chunks"]) if c["compression"] == "none")
    doc["chunks"][stored]["plain_size"] += 1
    with pytest.raises(FormatError, match=rf"chunks\[{stored}\].plain_size: .* uncompressed"):
        Manifest.from_dict(doc)


@pytest.mark.parametrize(
    ("member", "limit"),
    [("chunks", MAX_CHUNKS), ("streams", MAX_STREAMS), ("recipients", MAX_RECIPIENTS)],
)
def test_manifest_refuses_counts_above_the_limits(sample: Sample, member: str, limit: int) -> None:
    doc = sample.manifest.to_dict()
    doc[member] = [doc[member][0]] * (limit + 1)
    with pytest.raises(FormatError) as err:
        Manifest.from_dict(doc)
    assert f"manifest.{member}: {limit + 1} entries, more than the format's {limit}" in str(
        err.value
    )


def test_a_manifest_of_tiny_values_is_refused_before_parsing() -> None:
    # 15 MiB of "{}," parses into ~5 million dicts (over 400 MiB) with a plain json.loads.
    count = 15 * MiB // 3
    data = b'{"manifest":[' + b"{}," * count + b'{}],"signature":{}}'
    with pytest.raises(FormatError, match=r"^manifest.json: \d+ JSON containers"):
        SignedManifest.from_bytes(data)
    peak = peak_bytes(lambda: SignedManifest.from_bytes(data), FormatError)
    assert peak < 4 * MiB, peak


def test_proofs_of_tiny_values_are_refused_before_parsing() -> None:
    count = (MAX_PROOFS_SIZE - 1024) // 3
    data = b'{"proofs":[' + b"{}," * count + b"{}]}"
    peak = peak_bytes(lambda: Proofs.from_bytes(data), FormatError)
    assert peak < 4 * MiB, peak
    with pytest.raises(FormatError, match=r"proofs.json: \d+ JSON containers"):
        Proofs.from_bytes(data)


def test_proofs_tree_size_above_the_limit() -> None:
    doc = {"format": "lucid.proofs", "version": 1, "tree_size": MAX_CHUNKS + 1}
    doc |= {"root": "00" * 32, "proofs": []}
    with pytest.raises(FormatError, match=rf"tree_size: {MAX_CHUNKS + 1} leaves, more than"):
        Proofs.from_bytes(canonical_json(doc))


# --- the archive ----------------------------------------------------------------------


def test_a_one_gib_chunk_member_is_refused_unread(sample: Sample, tmp_path: Path) -> None:
    digest = "ab" * 32
    members = [(n, d) for n, d in _fixed(sample)] + [(f"chunks/{digest}", GiB)]
    path = tmp_path / "huge.lucid"
    write_tar(path, members)
    assert path.stat().st_blocks * 512 < 16 * MiB  # the test itself stays cheap
    with pytest.raises(FormatError) as err:
        open_bundle(path)
    assert f"member 'chunks/{digest}' is {GiB} bytes, larger than the format's" in str(err.value)
    peak = peak_bytes(lambda: open_bundle(path), FormatError)
    assert peak < 4 * MiB, peak


def test_too_many_members_are_refused(sample: Sample, tmp_path: Path) -> None:
    extra = [(f"chunks/{i:064x}", b"") for i in range(MAX_MEMBERS)]
    path = tmp_path / "many.lucid"
    write_tar(path, [*_fixed(sample), *extra])
    with pytest.raises(FormatError, match=rf"more than {MAX_MEMBERS} members"):
        open_bundle(path)


def test_an_oversized_anchor_is_refused(sample: Sample, tmp_path: Path) -> None:
    path = tmp_path / "anchor.lucid"
    write_tar(path, [*_fixed(sample), ("anchor.json", 65 * 1024)])
    with pytest.raises(FormatError, match=r"member 'anchor.json' is 66560 bytes, larger"):
        open_bundle(path)


def _fixed(sample: Sample) -> list[Member]:
    with tarfile.open(sample.path) as tar:
        return [
            (info.name, tar.extractfile(info).read())  # type: ignore[union-attr]  # regular files
            for info in tar.getmembers()[:3]
        ]


# --- verify and decrypt within the limits: bounded memory -----------------------------


def test_verify_hashes_chunks_without_holding_them(tmp_path: Path) -> None:
    # A stored (uncompressed) audit chunk at the limit: 16 MiB + 40 sealed bytes.
    sample = make_sample(tmp_path, {"video.0": [1000], "audit": [MAX_PLAIN_SIZE]})
    sizes = [c.size for c in sample.manifest.chunks]
    assert MAX_CHUNK_SIZE in sizes
    peak = peak_bytes(lambda: verify_bundle(sample.path))
    assert peak < 4 * MiB, peak  # reading the chunk whole would take 16 MiB


def test_decrypt_holds_one_chunk_at_a_time(tmp_path: Path) -> None:
    sample = make_sample(tmp_path, {"video.0": [1000], "audit": [MAX_PLAIN_SIZE] * 4})
    with open_bundle(sample.path) as bundle:
        got = 0

        def drain() -> None:
            nonlocal got
            for piece in decrypt_stream(bundle, sample.recipient, "audit"):
                got += len(piece)

        peak = peak_bytes(drain)
    assert got == 4 * MAX_PLAIN_SIZE
    # sealed, its ciphertext slice and the plaintext (libsodium's own buffer is not
    # traced), once: not the stream (48 MiB here) nor the chunks before this one.
    assert peak < 3 * MAX_CHUNK_SIZE + 4 * MiB, peak


def test_a_zstd_bomb_within_the_plain_size_limit_is_cut_off(sample: Sample, tmp_path: Path) -> None:
    bomb = zstd_bomb(GiB)  # its frame says 1 GiB; the manifest says 16 MiB
    assert len(bomb) < 256 * 1024
    entry = sealed_entry(sample, 0, bomb, MAX_PLAIN_SIZE, "zstd")
    path = signed_bundle(sample, tmp_path / "bomb.lucid", [entry])
    with open_bundle(path) as bundle:

        def drain() -> None:
            for _ in decrypt_stream(bundle, sample.recipient, "video.0"):
                pass

        with pytest.raises(DecryptionError) as err:
            drain()
        peak = peak_bytes(drain, DecryptionError)
    assert err.value.item == "chunk video.0#0"
    assert f"decompresses to more than its {MAX_PLAIN_SIZE} plaintext bytes" in str(err.value)
    assert peak < MAX_PLAIN_SIZE + 4 * MiB, peak


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
    members = _fixed(sample)
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
    mp4 = tmp_path / "long.mp4"
    status, out, err, rss = lucid(tmp_path, "play", str(path), "--key", str(key), "-o", str(mp4))
    assert status == 0, err
    assert "16 frames from 1 part(s)" in out
    # Holding the stream whole (pieces, then joined) took over 128 MiB above the baseline.
    assert rss < baseline_rss + 4 * MAX_CHUNK_SIZE + 16 * MiB, (rss, baseline_rss)
    with av.open(str(mp4)) as container:
        got = [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]
    assert len(got) == 16 and sum(len(p) for p in got) == 16 * 4 * MiB
