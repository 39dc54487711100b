"""Write a session bundle (``<session>.lucid``) atomically and deterministically.

See `bundle` for the layout. This module does not read bundles and does not
fetch chunks itself: the caller passes a `read_chunk` callable (the chunk store).
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from lucid.evidence.bundle import (
    ANCHOR_MEMBER,
    BUNDLE_FORMAT,
    CHUNK_PREFIX,
    HEADER_MEMBER,
    MANIFEST_MEMBER,
    PROOFS_MEMBER,
)
from lucid.evidence.canonical import canonical_json
from lucid.evidence.errors import VerificationError
from lucid.evidence.manifest import Manifest
from lucid.evidence.proofs import Proofs
from lucid.evidence.signed import SignedManifest
from lucid.evidence.timestamps import parse_timestamp
from lucid.evidence.tree import leaf_hash

__all__ = ["bundle_mtime", "write_bundle", "write_bundle_stream"]


def bundle_mtime(manifest: Manifest) -> int:
    """The mtime of every member: ``ended_at`` in whole seconds, clamped to ustar's range."""
    seconds = int(parse_timestamp(manifest.ended_at, "manifest.ended_at").timestamp())
    return min(max(seconds, 0), 8**11 - 1)


def _add(tar: tarfile.TarFile, name: str, data: bytes, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = mtime
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    tar.addfile(info, io.BytesIO(data))


def write_bundle(
    path: str | os.PathLike[str],
    signed_manifest: SignedManifest,
    proofs: Proofs,
    read_chunk: Callable[[str], bytes],
    progress: Callable[[int], None] | None = None,
    anchor: bytes | None = None,
) -> None:
    """Write ``<path>.part``, fsync it, then rename it to `path`.

    Args:
        path: Destination, conventionally ``<session>.lucid``.
        signed_manifest: The signed manifest (its signature is checked first).
        proofs: The proofs for its chunks (see `proofs.build_proofs`).
        read_chunk: Returns the sealed chunk bytes for a leaf-hash hex (the chunk store).
        progress: Called after each chunk with the chunk bytes written so far
            (out of ``manifest.total_size``).
        anchor: Optional ``anchor.json`` bytes (see `write_bundle_stream`).

    Raises:
        ValueError: `proofs` do not belong to the manifest.
        VerificationError: The signature does not verify, or `read_chunk` returned
            bytes whose size or leaf hash differs from the manifest (item names the chunk).
        OSError: The file cannot be written; no ``.part`` file is left behind.
    """
    dest = Path(path)
    part = dest.with_name(dest.name + ".part")
    try:
        with open(part, "wb") as fh:
            write_bundle_stream(fh, signed_manifest, proofs, read_chunk, progress, anchor)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(part, dest)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    dir_fd = os.open(dest.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_bundle_stream(
    fh: BinaryIO,
    signed_manifest: SignedManifest,
    proofs: Proofs,
    read_chunk: Callable[[str], bytes],
    progress: Callable[[int], None] | None = None,
    anchor: bytes | None = None,
) -> None:
    """Write the bundle into an open binary file ``fh`` (from its current position).

    Same checks and arguments as `write_bundle`; the caller owns ``fh`` (flush, fsync,
    rename). Used by merkle to write into a file descriptor handed over the bus.
    `anchor`, if given, is the session's ``anchor.json`` (canonical ``lucid.anchor``
    bytes, see `anchor`), written right after ``proofs.json``; it is not checked here.
    """
    manifest = signed_manifest.manifest
    signed_manifest.verify_signature()
    if (
        proofs.tree_size != manifest.tree_size
        or proofs.root != manifest.tree_root
        or any(p.hash != c.hash for p, c in zip(proofs.proofs, manifest.chunks, strict=True))
    ):
        raise ValueError("proofs do not belong to this manifest")
    mtime = bundle_mtime(manifest)
    header = canonical_json({"format": BUNDLE_FORMAT, "version": 1, "session": manifest.session})
    with tarfile.open(fileobj=fh, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        _add(tar, HEADER_MEMBER, header, mtime)
        _add(tar, MANIFEST_MEMBER, signed_manifest.to_bytes(), mtime)
        _add(tar, PROOFS_MEMBER, proofs.to_bytes(), mtime)
        if anchor is not None:
            _add(tar, ANCHOR_MEMBER, anchor, mtime)
        done = 0
        for c in manifest.chunks:
            data = read_chunk(c.hash_hex)
            if len(data) != c.size or leaf_hash(data) != c.hash:
                raise VerificationError(
                    c.item, f"{c.item}: chunk store returned bytes that do not match"
                )
            _add(tar, CHUNK_PREFIX + c.hash_hex, data, mtime)
            done += len(data)
            if progress is not None:
                progress(done)
