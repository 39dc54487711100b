"""Throughput and peak memory of ``lucid verify`` on a 1 GiB bundle, against ``b3sum``.

Figures (all from one run, on the same file, read from the page cache):

* ``verify_gb_s``: bundle bytes / wall seconds of ``python -m lucid.cli verify -q FILE``
  (the real command in a process of its own: interpreter start and imports count),
  best of `ROUNDS` (GB = 10^9 bytes).
* ``verify_rss_mb``: that process's peak RSS (``wait4``'s ``ru_maxrss``), MB = 10^6 bytes,
  the largest over the rounds.
* ``verify_vs_<peer>``: our throughput / the peer's, hashing the same file in the same
  round: ``b3sum --no-names FILE`` (Debian's BLAKE3 CLI: memory-mapped, one thread per
  core) when it is installed, else ``sha256sum FILE``. A reading, not a goal: the peer
  only hashes, while verify also parses the archive, checks the signature, the leaf
  hash of every chunk, the tree and every proof.
* ``<peer>_gb_s``: the peer's absolute figure.

The bundle is built once with the real writer (`lucid.evidence`): `CHUNKS` chunks of
16 MiB random (incompressible) plaintext, stored uncompressed, sealed with
XChaCha20-Poly1305 under a fresh data key wrapped for one recipient, the manifest signed
with a fresh Ed25519 key, proofs and ``write_bundle`` as the merkle daemon does. It is
cached under ``<workdir>/`` with a name keyed by its parameters and the source of the
modules that write the format, so a format change builds a new one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nacl.signing

import lucid.evidence
from lucid.evidence import (
    ChunkEntry,
    DeviceKeys,
    Encoder,
    Recipient,
    RecipientKey,
    SignedManifest,
    StreamInfo,
    build_manifest,
    build_proofs,
    leaf_hash,
    new_data_key,
    seal_chunk,
    wrap_key,
    write_bundle,
)
from lucid.runtime.store import ChunkStore

CHUNK_PLAIN = 16 * 1024 * 1024  # bytes: a full video chunk (limits.MAX_PLAIN_SIZE)
CHUNKS = 64  # 64 x 16 MiB = 1 GiB of sealed chunks
ROUNDS = 3  # best of
SESSION = "bench-verify"
STREAM = "video.0"
# The modules whose code decides the bytes of a bundle: a change to any of them
# builds a fresh one (reader-side modules such as bundle.py and verify.py do not).
_WRITER_SOURCES = (
    "build.py",
    "canonical.py",
    "crypto.py",
    "manifest.py",
    "proofs.py",
    "signed.py",
    "writer.py",
)

Figure = tuple[str, float, str]


def _cache_key() -> str:
    digest = hashlib.sha256(f"{CHUNKS}x{CHUNK_PLAIN}:{SESSION}:{STREAM}".encode())
    package = Path(lucid.evidence.__file__).parent
    for name in _WRITER_SOURCES:
        digest.update((package / name).read_bytes())
    return digest.hexdigest()[:12]


def build_bundle(path: Path, chunks: int = CHUNKS, chunk_plain: int = CHUNK_PLAIN) -> None:
    """Write a genuine bundle of one video stream to `path` (atomically, via ``.part``).

    Args:
        path: Destination ``.lucid`` file.
        chunks: How many chunks.
        chunk_plain: Plaintext bytes per chunk (random, stored uncompressed).
    """
    device = nacl.signing.SigningKey.generate()
    device_x = RecipientKey.generate()
    auditor = RecipientKey.generate()
    data_key = new_data_key()
    started = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".verify-store-") as scratch:
        store = ChunkStore(Path(scratch), fsync=False)  # scratch: durability is not the point
        entries = []
        for index in range(chunks):
            sealed = seal_chunk(data_key, SESSION, STREAM, index, os.urandom(chunk_plain))
            digest = leaf_hash(sealed)
            store.put(digest.hex(), sealed)
            entries.append(ChunkEntry(STREAM, index, digest, len(sealed), chunk_plain, "none"))
        manifest = build_manifest(
            session=SESSION,
            device=DeviceKeys(ed25519=bytes(device.verify_key), x25519=device_x.public),
            started_at=started,
            ended_at=started + timedelta(minutes=10),
            encoder=Encoder(name="libx264", settings={"preset": "superfast", "crf": "23"}),
            streams=[StreamInfo(STREAM, "video", "video/mp4", chunks)],
            chunks=entries,
            recipients=[
                Recipient(x25519=auditor.public, sealed_key=wrap_key(data_key, auditor.public))
            ],
        )
        signed = SignedManifest.sign(manifest, lambda msg: device.sign(msg).signature)
        write_bundle(path, signed, build_proofs(manifest), store.read)


def ensure_bundle(workdir: Path) -> Path:
    """Return the cached bundle for the current writer code, building it if missing."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"verify-{CHUNKS}x16MiB-{_cache_key()}.lucid"
    if not path.exists():
        for old in workdir.glob("verify-*.lucid"):
            old.unlink()  # an older format's bundle: 1 GiB not worth keeping
        print(f"bench: building a {CHUNKS * CHUNK_PLAIN / 2**30:.0f} GiB bundle into {path} "
              "(once)", file=sys.stderr)  # fmt: skip
        # In a process of its own: the peak RSS of a child we start later would otherwise
        # include the pages this one touched while building (measured: 107 MB, not 64).
        _timed([sys.executable, __file__, str(path)])
    return path


PEAK_RSS = Path(__file__).resolve().parents[1] / "scripts" / "peak_rss.py"


def _timed(argv: list[str]) -> tuple[float, int, bytes]:
    """Run `argv` (through scripts/peak_rss.py, so the peak RSS is its own, not this
    harness's); return (wall seconds, peak RSS in bytes, stdout). Raises on failure."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r") as figures,
    ):
        proc = subprocess.run(
            [sys.executable, str(PEAK_RSS), figures.name, *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            check=False,
        )
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            lines = (err.read() or out.read()).decode(errors="replace").strip().splitlines()
            last = lines[-1] if lines else "no output"
            raise RuntimeError(f"{' '.join(argv[:4])} exited {proc.returncode}: {last}")
        seconds, rss = figures.read().split()
        return float(seconds), int(rss), out.read()


def _peer() -> tuple[str, list[str]]:
    if shutil.which("b3sum"):
        return "b3sum", ["b3sum", "--no-names"]
    return "sha256sum", ["sha256sum"]


def _warm(path: Path) -> None:
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(CHUNK_PLAIN)
        while f.readinto(buf):
            pass


def bench_verify(workdir: Path) -> list[Figure]:
    """Measure the verify figures (see the module docstring)."""
    path = ensure_bundle(workdir)
    size = path.stat().st_size
    ours = [sys.executable, "-m", "lucid.cli", "verify", "-q", str(path)]
    peer, peer_argv = _peer()
    _warm(path)
    _timed(ours)  # once untimed: imports from a cold cache, and a check that it verifies
    best = {"ours": float("inf"), peer: float("inf")}
    rss = 0
    for _ in range(ROUNDS):
        seconds, peak, _ = _timed(ours)
        best["ours"] = min(best["ours"], seconds)
        rss = max(rss, peak)
        seconds, _, _ = _timed([*peer_argv, str(path)])
        best[peer] = min(best[peer], seconds)
    gb_s = {name: size / seconds / 1e9 for name, seconds in best.items()}
    return [
        ("verify_gb_s", gb_s["ours"], "≥ 2.0"),
        ("verify_rss_mb", rss / 1e6, "≤ 300"),
        (f"verify_vs_{peer}", gb_s["ours"] / gb_s[peer], ""),
        (f"{peer}_gb_s", gb_s[peer], ""),
        ("verify_bundle_gb", size / 1e9, ""),
    ]


def main(argv: list[str]) -> int:
    """``python bench/verify.py OUT.lucid``: build the benchmark bundle into OUT.lucid."""
    if len(argv) != 1:
        print("usage: verify.py OUT.lucid", file=sys.stderr)
        return 2
    build_bundle(Path(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
