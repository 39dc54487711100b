"""Test helpers for lucid.evidence: build a real sample session (sealed chunks, signed
manifest, proofs, bundle on disk) and take bundles apart and put them back together.

Everything here uses the real crypto; nothing is mocked.
"""

from __future__ import annotations

import copy
import io
import tarfile
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import nacl.signing
import zstandard

from lucid.evidence import (
    ChunkEntry,
    DeviceKeys,
    Encoder,
    Manifest,
    Proofs,
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
from lucid.evidence.manifest import Compression, StreamKind
from tests.evidence.approval_helpers import DEVICE_SEED, session_policy

SESSION = "s-2026-11-22.0215"
STARTED = datetime(2026, 11, 22, 2, 15, 30, 123000, tzinfo=UTC)


@dataclass
class Sample:
    """A complete recorded session, as the daemons would produce it."""

    manifest: Manifest
    signed: SignedManifest
    proofs: Proofs
    store: dict[str, bytes]
    plaintexts: dict[str, bytes]
    recipient: RecipientKey
    other_recipient: RecipientKey
    device: nacl.signing.SigningKey
    data_key: bytes
    path: Path
    progress: list[int] = field(default_factory=list)


def payload(stream: str, index: int, size: int) -> bytes:
    """Deterministic, mildly compressible plaintext."""
    seed = f"{stream}#{index}".encode()
    out = bytearray()
    while len(out) < size:
        out += seed + zlib.crc32(seed + bytes(len(out) % 251)).to_bytes(4, "big")
    return bytes(out[:size])


def make_sample(
    tmp_path: Path,
    layout: dict[str, list[int]] | None = None,
    *,
    complete: bool = True,
    name: str = SESSION,
    policy: dict[str, Any] | Literal["approved"] | None = "approved",
) -> Sample:
    """Record, seal, sign and bundle a session with chunks of the given plaintext sizes.

    The audit stream is stored uncompressed; all others with zstd. By default the
    manifest carries a valid session policy (one passkey approval by "alice").
    """
    if layout is None:
        layout = {"video.0": [5000, 3000, 4000], "video.1": [2500, 100], "audit": [300, 0]}
    device = nacl.signing.SigningKey(DEVICE_SEED)  # the device the approvals name
    device_x = RecipientKey.generate()
    recipient = RecipientKey.generate()
    other = RecipientKey.generate()
    data_key = new_data_key()
    store: dict[str, bytes] = {}
    plaintexts: dict[str, bytes] = {}
    entries: list[ChunkEntry] = []
    streams: list[StreamInfo] = []
    for stream, sizes in layout.items():
        kind: StreamKind = "audit" if stream == "audit" else "video"
        media = "application/jsonl" if kind == "audit" else "video/mp4"
        streams.append(StreamInfo(name=stream, kind=kind, media_type=media, chunks=len(sizes)))
        plaintexts[stream] = b""
        for index, size in enumerate(sizes):
            plain = payload(stream, index, size)
            plaintexts[stream] += plain
            compression: Compression = "none" if kind == "audit" else "zstd"
            body = zstandard.ZstdCompressor().compress(plain) if compression == "zstd" else plain
            sealed = seal_chunk(data_key, name, stream, index, body)
            digest = leaf_hash(sealed)
            store[digest.hex()] = sealed
            entries.append(ChunkEntry(stream, index, digest, len(sealed), len(plain), compression))
    manifest = build_manifest(
        session=name,
        device=DeviceKeys(ed25519=bytes(device.verify_key), x25519=device_x.public),
        started_at=STARTED,
        ended_at=STARTED + timedelta(minutes=42),
        encoder=Encoder(name="libx264", settings={"preset": "veryfast", "crf": "28"}),
        streams=streams,
        chunks=reversed(entries),  # build_manifest must restore leaf order
        recipients=[
            Recipient(x25519=other.public, sealed_key=wrap_key(data_key, other.public)),
            Recipient(x25519=recipient.public, sealed_key=wrap_key(data_key, recipient.public)),
        ],
        policy=session_policy(name).to_dict() if policy == "approved" else policy,
        complete=complete,
    )
    signed = SignedManifest.sign(manifest, lambda msg: device.sign(msg).signature)
    proofs = build_proofs(manifest)
    sample = Sample(
        manifest,
        signed,
        proofs,
        store,
        plaintexts,
        recipient,
        other,
        device,
        data_key,
        tmp_path / f"{name}.lucid",
    )
    write_bundle(sample.path, signed, proofs, store.__getitem__, sample.progress.append)
    return sample


def read_members(path: Path) -> list[tuple[str, bytes]]:
    """All members of a tar, in order, as (name, bytes)."""
    with tarfile.open(path, "r:") as tar:
        out = []
        for info in tar.getmembers():
            fh = tar.extractfile(info)
            out.append((info.name, b"" if fh is None else fh.read()))
        return out


def write_members(
    path: Path, members: list[tuple[str, bytes]], *, kind: bytes = tarfile.REGTYPE
) -> None:
    """Write a plain ustar with the given members (the last one of type `kind`)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for i, (name, data) in enumerate(members):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            if i == len(members) - 1 and kind != tarfile.REGTYPE:
                info.type = kind
                info.size = 0
                info.linkname = (
                    "manifest.json" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
                )
                data = b""
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())


def data_offsets(path: Path) -> dict[str, tuple[int, int]]:
    """Member name -> (offset of its data in the file, size)."""
    with tarfile.open(path, "r:") as tar:
        return {m.name: (m.offset_data, m.size) for m in tar.getmembers()}


DELETE = object()
"""A `mutate` value: delete the key instead of setting it."""


def mutate(d: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """A deep copy of ``d`` with the item at ``path`` set to ``value`` (or deleted)."""
    out = copy.deepcopy(d)
    target: Any = out
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return out
