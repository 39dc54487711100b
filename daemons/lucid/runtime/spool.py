"""The RAM spool: the on-disk contract between recorder, chunker and encryptor.

Layout (see docs/architecture.md)::

    <spool>/<session>/session.json                producer: session facts (times, encoder, complete)
    <spool>/<session>/session.end                 producer: recording over, every stream ended
    <spool>/<session>/<stream>/seg-NNNNNNNN.part  recorder: segment being written
    <spool>/<session>/<stream>/seg-NNNNNNNN.seg   recorder: finished segment (atomic rename)
    <spool>/<session>/<stream>/END                recorder: last segment number of the stream
    <spool>/<session>/<stream>/chunk-NNNNNNNN.zc  chunker: compressed chunk, header + payload
    <spool>/<session>/<stream>/chunks.end         chunker: number of chunks of the stream

Every file appears by atomic rename, so a reader never sees half of one. Only plaintext
lives here (tmpfs on the device). This module does not decide when anything is written.
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from lucid.runtime.errors import StorageFullError

SESSION_END = "session.end"
SESSION_INFO = "session.json"
#: What a producer tells merkle about a finished session (all values are strings).
SESSION_INFO_KEYS = (
    "producer",
    "started_at",
    "ended_at",
    "encoder",
    "encoder_settings",
    "complete",
    "grant",  # who approved the recording: "gatekeeper", or "none" (ungated producers)
)
STREAM_END = "END"
CHUNKS_END = "chunks.end"
SEGMENT_RE = re.compile(r"^seg-(\d{8})\.seg$")
CHUNK_RE = re.compile(r"^chunk-(\d{8})\.zc$")
NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# Chunk file header: magic, compression code, plain size.
_HEADER = struct.Struct(">4sBQ")
_MAGIC = b"LCK1"
_COMPRESSIONS = {0: "none", 1: "zstd"}
_CODES = {v: k for k, v in _COMPRESSIONS.items()}


def segment_name(seq: int) -> str:
    return f"seg-{seq:08d}.seg"


def chunk_name(index: int) -> str:
    return f"chunk-{index:08d}.zc"


def _numbered(stream_dir: Path, pattern: re.Pattern[str]) -> dict[int, Path]:
    out: dict[int, Path] = {}
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(stream_dir):
            m = pattern.match(entry.name)
            if m:
                out[int(m.group(1))] = Path(entry.path)
    return out


def list_segments(stream_dir: Path) -> dict[int, Path]:
    """Finished segments of a stream by sequence number."""
    return _numbered(stream_dir, SEGMENT_RE)


def list_chunks(stream_dir: Path) -> dict[int, Path]:
    """Chunks waiting for the encryptor, by index."""
    return _numbered(stream_dir, CHUNK_RE)


def sessions(spool: Path) -> list[Path]:
    with contextlib.suppress(FileNotFoundError):
        return sorted(
            Path(e.path) for e in os.scandir(spool) if e.is_dir() and NAME_RE.match(e.name)
        )
    return []


def streams(session_dir: Path) -> list[Path]:
    with contextlib.suppress(FileNotFoundError):
        return sorted(
            Path(e.path) for e in os.scandir(session_dir) if e.is_dir() and NAME_RE.match(e.name)
        )
    return []


RAM_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})


def filesystem_type(path: Path) -> str:
    """The type of the file system holding ``path`` (from /proc/self/mounts)."""
    target = os.path.realpath(path)
    best, fstype = "", "unknown"
    with contextlib.suppress(OSError), open("/proc/self/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            fields = line.split()
            if len(fields) < 3:
                continue
            mount_point = fields[1].replace("\\040", " ")
            inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
            if inside and len(mount_point) >= len(best):
                best, fstype = mount_point, fields[2]
    return fstype


def atomic_write(path: Path, data: bytes, fsync: bool = False) -> None:
    """Write ``data`` to ``path`` via a temporary file and rename.

    Raises:
        StorageFullError: the file system is full (nothing is left behind).
    """
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if err.errno in (28, 122):  # ENOSPC, EDQUOT
            raise StorageFullError(f"no space left writing {path}") from err
        raise


def read_int(path: Path) -> int | None:
    """The integer in a marker file, or None if the marker is absent."""
    try:
        return int(path.read_text().strip())
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class ChunkHeader:
    compression: str
    plain_size: int


def pack_chunk(compression: str, plain_size: int, payload: bytes) -> bytes:
    return _HEADER.pack(_MAGIC, _CODES[compression], plain_size) + payload


def unpack_chunk(data: bytes) -> tuple[ChunkHeader, bytes]:
    """Split a spool chunk file into header and payload (ValueError if not one)."""
    if len(data) < _HEADER.size:
        raise ValueError("spool chunk shorter than its header")
    magic, code, plain = _HEADER.unpack_from(data)
    if magic != _MAGIC or code not in _COMPRESSIONS:
        raise ValueError("not a spool chunk")
    return ChunkHeader(_COMPRESSIONS[code], plain), data[_HEADER.size :]


def write_session_info(session_dir: Path, info: dict[str, str]) -> None:
    """End a producer's session: write ``session.json`` then ``session.end`` (in this order).

    Raises:
        StorageFullError: no space (retry later; nothing half-written is left).
    """
    import json

    unknown = set(info) - set(SESSION_INFO_KEYS)
    if unknown:
        raise ValueError(f"unknown session info keys: {sorted(unknown)}")
    atomic_write(session_dir / SESSION_INFO, json.dumps(info, sort_keys=True).encode())
    atomic_write(session_dir / SESSION_END, b"ended\n")


def read_session_info(session_dir: Path) -> dict[str, str]:
    """The producer's ``session.json`` ({} if absent or unreadable: merkle then says so)."""
    import json

    try:
        data = json.loads((session_dir / SESSION_INFO).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items() if k in SESSION_INFO_KEYS}
