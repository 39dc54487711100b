"""The session manifest (format ``lucid.manifest`` version 1): model and strict parsing.

A `Manifest` lists a session's streams and, in leaf order, every sealed chunk
with its BLAKE3 leaf hash, plus the recipients' wrapped data keys and the
Merkle root over the chunk hashes. `Manifest.from_dict` accepts exactly the v1
schema (docs/evidence.md) and raises `FormatError` naming the field path;
`to_dict` is its inverse.

This module does not sign or verify (see `signed`), does not check that the
tree root matches the chunk hashes (that is a verification step, see `verify`),
does not read chunks, and does not assemble manifests (see `build`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from lucid.evidence import _fields as f
from lucid.evidence.crypto import SEALED_KEY_SIZE, SEALED_OVERHEAD
from lucid.evidence.errors import FormatError
from lucid.evidence.limits import (
    MAX_CHUNK_SIZE,
    MAX_CHUNKS,
    MAX_PLAIN_SIZE,
    MAX_RECIPIENTS,
    MAX_STREAMS,
)
from lucid.evidence.timestamps import parse_timestamp

__all__ = [
    "CIPHER",
    "ChunkEntry",
    "Compression",
    "DeviceKeys",
    "Encoder",
    "Manifest",
    "Recipient",
    "StreamInfo",
    "StreamKind",
]

MANIFEST_FORMAT = "lucid.manifest"
CIPHER = "xchacha20poly1305-ietf"
TREE_HASH = "blake3"
StreamKind = Literal["video", "audit"]
Compression = Literal["zstd", "none"]
_KINDS = frozenset({"video", "audit"})
_COMPRESSIONS = frozenset({"zstd", "none"})

_TOP_KEYS = frozenset(
    [
        "format",
        "version",
        "session",
        "device",
        "started_at",
        "ended_at",
        "encoder",
        "streams",
        "chunks",
        "cipher",
        "recipients",
        "tree",
        "policy",
        "complete",
    ]
)
_CHUNK_KEYS = frozenset({"stream", "index", "hash", "size", "plain_size", "compression"})


@dataclass(frozen=True)
class DeviceKeys:
    """The recording device's public keys (32 bytes each)."""

    ed25519: bytes
    x25519: bytes


@dataclass(frozen=True)
class Encoder:
    """How the video was encoded, for the record (settings are free-form strings)."""

    name: str
    settings: Mapping[str, str]


@dataclass(frozen=True)
class StreamInfo:
    """One byte stream of the session and how many chunks it has."""

    name: str
    kind: StreamKind
    media_type: str
    chunks: int


@dataclass(frozen=True)
class ChunkEntry:
    """One sealed chunk: its place, leaf hash (= content address) and sizes."""

    stream: str
    index: int
    hash: bytes
    size: int
    plain_size: int
    compression: Compression

    @property
    def hash_hex(self) -> str:
        """The leaf hash as 64 lowercase hex digits (the chunk's content address)."""
        return self.hash.hex()

    @property
    def item(self) -> str:
        """How errors name this chunk: ``"chunk <stream>#<index>"``."""
        return f"chunk {self.stream}#{self.index}"


@dataclass(frozen=True)
class Recipient:
    """A recipient's X25519 public key and the data key sealed to it (80 bytes)."""

    x25519: bytes
    sealed_key: bytes


@dataclass(frozen=True)
class Manifest:
    """A parsed, structurally valid v1 manifest. Chunks are in leaf order."""

    session: str
    device: DeviceKeys
    started_at: str
    ended_at: str
    encoder: Encoder
    streams: tuple[StreamInfo, ...]
    chunks: tuple[ChunkEntry, ...]
    recipients: tuple[Recipient, ...]
    tree_root: bytes
    policy: Mapping[str, Any] | None
    complete: bool

    @property
    def tree_size(self) -> int:
        """Number of leaves: one per chunk."""
        return len(self.chunks)

    @property
    def total_size(self) -> int:
        """Sum of the sealed chunk sizes in bytes."""
        return sum(c.size for c in self.chunks)

    def stream(self, name: str) -> StreamInfo | None:
        """The stream called `name`, or None."""
        return next((s for s in self.streams if s.name == name), None)

    def chunks_of(self, stream: str) -> list[ChunkEntry]:
        """The chunks of one stream, in index order."""
        return [c for c in self.chunks if c.stream == stream]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the object that is canonicalised and signed)."""
        return {
            "format": MANIFEST_FORMAT,
            "version": 1,
            "session": self.session,
            "device": {"ed25519": self.device.ed25519.hex(), "x25519": self.device.x25519.hex()},
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "encoder": {"name": self.encoder.name, "settings": dict(self.encoder.settings)},
            "streams": [
                {"name": s.name, "kind": s.kind, "media_type": s.media_type, "chunks": s.chunks}
                for s in self.streams
            ],
            "chunks": [
                {
                    "stream": c.stream,
                    "index": c.index,
                    "hash": c.hash.hex(),
                    "size": c.size,
                    "plain_size": c.plain_size,
                    "compression": c.compression,
                }
                for c in self.chunks
            ],
            "cipher": CIPHER,
            "recipients": [
                {"x25519": r.x25519.hex(), "sealed_key": r.sealed_key.hex()}
                for r in self.recipients
            ],
            "tree": {"hash": TREE_HASH, "size": self.tree_size, "root": self.tree_root.hex()},
            "policy": None if self.policy is None else dict(self.policy),
            "complete": self.complete,
        }

    @classmethod
    def from_dict(cls, value: Any, path: str = "manifest") -> Manifest:
        """Validate and convert the JSON form.

        Args:
            value: Parsed JSON (untrusted).
            path: Name of `value` in error messages.

        Raises:
            FormatError: Any field missing, unknown, of the wrong type or out of
                range (sizes and counts above the format's limits, see `limits`), or
                chunks out of leaf order; the message names the field path.

        Returns:
            The manifest.
        """
        d = f.get_obj(value, path, _TOP_KEYS)
        f.get_str(d["format"], f"{path}.format", choices=frozenset({MANIFEST_FORMAT}))
        if f.get_int(d["version"], f"{path}.version") != 1:
            raise FormatError(f"{path}.version: unsupported version {d['version']}")
        dev = f.get_obj(d["device"], f"{path}.device", frozenset({"ed25519", "x25519"}))
        enc = f.get_obj(d["encoder"], f"{path}.encoder", frozenset({"name", "settings"}))
        f.get_str(d["cipher"], f"{path}.cipher", choices=frozenset({CIPHER}))
        tree = f.get_obj(d["tree"], f"{path}.tree", frozenset({"hash", "size", "root"}))
        f.get_str(tree["hash"], f"{path}.tree.hash", choices=frozenset({TREE_HASH}))
        parse_timestamp(d["started_at"], f"{path}.started_at")
        parse_timestamp(d["ended_at"], f"{path}.ended_at")
        policy = d["policy"]
        if policy is not None and not isinstance(policy, dict):
            raise FormatError(f"{path}.policy: expected an object or null")
        streams = tuple(
            _stream(s, f"{path}.streams[{i}]")
            for i, s in enumerate(_limited(d["streams"], f"{path}.streams", MAX_STREAMS))
        )
        chunks = tuple(
            _chunk(c, f"{path}.chunks[{i}]")
            for i, c in enumerate(_limited(d["chunks"], f"{path}.chunks", MAX_CHUNKS))
        )
        recipients = tuple(
            _recipient(r, f"{path}.recipients[{i}]")
            for i, r in enumerate(_limited(d["recipients"], f"{path}.recipients", MAX_RECIPIENTS))
        )
        manifest = cls(
            session=f.check_name(d["session"], f"{path}.session"),
            device=DeviceKeys(
                ed25519=f.get_hex(dev["ed25519"], f"{path}.device.ed25519", 32),
                x25519=f.get_hex(dev["x25519"], f"{path}.device.x25519", 32),
            ),
            started_at=d["started_at"],
            ended_at=d["ended_at"],
            encoder=Encoder(
                name=f.get_str(enc["name"], f"{path}.encoder.name"),
                settings=_settings(enc["settings"], f"{path}.encoder.settings"),
            ),
            streams=streams,
            chunks=chunks,
            recipients=recipients,
            tree_root=f.get_hex(tree["root"], f"{path}.tree.root", 32),
            policy=policy,
            complete=f.get_bool(d["complete"], f"{path}.complete"),
        )
        if f.get_int(tree["size"], f"{path}.tree.size") != len(chunks):
            raise FormatError(
                f"{path}.tree.size: {tree['size']} but there are {len(chunks)} chunks"
            )
        _check_layout(manifest, path)
        return manifest


def _limited(value: Any, path: str, limit: int) -> list[Any]:
    items = f.get_list(value, path)
    if len(items) > limit:
        raise FormatError(f"{path}: {len(items)} entries, more than the format's {limit}")
    return items


def _at_most(value: int, path: str, limit: int, what: str) -> int:
    if value > limit:
        raise FormatError(f"{path}: {value} bytes, more than the format's {limit} per {what}")
    return value


def _settings(value: Any, path: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise FormatError(f"{path}: expected an object")
    for key, item in value.items():
        if not isinstance(item, str):
            raise FormatError(f"{path}.{key}: expected a string")
    return dict(value)


def _stream(value: Any, path: str) -> StreamInfo:
    s = f.get_obj(value, path, frozenset({"name", "kind", "media_type", "chunks"}))
    return StreamInfo(
        name=f.check_name(s["name"], f"{path}.name"),
        kind=cast(StreamKind, f.get_str(s["kind"], f"{path}.kind", choices=_KINDS)),
        media_type=f.get_str(s["media_type"], f"{path}.media_type"),
        chunks=f.get_int(s["chunks"], f"{path}.chunks"),
    )


def _chunk(value: Any, path: str) -> ChunkEntry:
    c = f.get_obj(value, path, _CHUNK_KEYS)
    size = f.get_int(c["size"], f"{path}.size", minimum=SEALED_OVERHEAD)
    plain_size = f.get_int(c["plain_size"], f"{path}.plain_size")
    compression = f.get_str(c["compression"], f"{path}.compression", choices=_COMPRESSIONS)
    if compression == "none" and plain_size != size - SEALED_OVERHEAD:
        raise FormatError(
            f"{path}.plain_size: {plain_size}, but an uncompressed chunk of {size} sealed "
            f"bytes holds {size - SEALED_OVERHEAD}"
        )
    return ChunkEntry(
        stream=f.check_name(c["stream"], f"{path}.stream"),
        index=f.get_int(c["index"], f"{path}.index"),
        hash=f.get_hex(c["hash"], f"{path}.hash", 32),
        size=_at_most(size, f"{path}.size", MAX_CHUNK_SIZE, "sealed chunk"),
        plain_size=_at_most(plain_size, f"{path}.plain_size", MAX_PLAIN_SIZE, "chunk"),
        compression=cast(Compression, compression),
    )


def _recipient(value: Any, path: str) -> Recipient:
    r = f.get_obj(value, path, frozenset({"x25519", "sealed_key"}))
    return Recipient(
        x25519=f.get_hex(r["x25519"], f"{path}.x25519", 32),
        sealed_key=f.get_hex(r["sealed_key"], f"{path}.sealed_key", SEALED_KEY_SIZE),
    )


def _check_layout(m: Manifest, path: str) -> None:
    """Streams unique; chunks in leaf order, contiguous, counted; hashes and recipients unique."""
    names = [s.name for s in m.streams]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise FormatError(f"{path}.streams[{i}].name: duplicate stream {name!r}")
    declared = sum(s.chunks for s in m.streams)
    if declared != len(m.chunks):
        raise FormatError(f"{path}.chunks: {len(m.chunks)} entries but streams declare {declared}")
    pos = 0
    for s in m.streams:
        for index in range(s.chunks):
            c = m.chunks[pos]
            if c.stream != s.name or c.index != index:
                raise FormatError(
                    f"{path}.chunks[{pos}]: expected {s.name}#{index} here, got "
                    f"{c.stream}#{c.index} (leaf order is stream order, then index)"
                )
            pos += 1
    seen: set[bytes] = set()
    for i, c in enumerate(m.chunks):
        if c.hash in seen:
            raise FormatError(f"{path}.chunks[{i}].hash: duplicate chunk hash")
        seen.add(c.hash)
    if not m.recipients:
        raise FormatError(f"{path}.recipients: at least one recipient is required")
    keys = [r.x25519 for r in m.recipients]
    for i, key in enumerate(keys):
        if key in keys[:i]:
            raise FormatError(f"{path}.recipients[{i}].x25519: duplicate recipient")
