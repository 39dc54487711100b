"""Hostile bundles for the limit tests (``test_limits.py``, ``test_limits_cli.py``): valid tars,
where it matters with a manifest the sample's device key signs (the attacker owns a device
key), claiming or holding more than docs/evidence.md §9.1 allows.

Big members are holes in sparse files, so a bundle stays cheap however large the attack.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import zstandard

from lucid.evidence import (
    ChunkEntry,
    SignedManifest,
    StreamInfo,
    build_proofs,
    canonical_json,
    leaf_hash,
    root,
    seal_chunk,
)
from tests.evidence.helpers import Sample

MiB = 1024 * 1024
GiB = 1024 * MiB
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
    chunks: Sequence[tuple[ChunkEntry, bytes | int]],
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


def fixed_members(sample: Sample) -> list[Member]:
    """The sample bundle's first three members (header, manifest, proofs), read whole."""
    with tarfile.open(sample.path) as tar:
        return [
            (info.name, tar.extractfile(info).read())  # type: ignore[union-attr]  # regular files
            for info in tar.getmembers()[:3]
        ]
