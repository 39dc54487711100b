"""Write a sealed session's bundle into a file descriptor handed over the bus."""

from __future__ import annotations

import os
from pathlib import Path

from lucid.evidence.proofs import Proofs
from lucid.evidence.signed import SignedManifest
from lucid.evidence.writer import write_bundle_stream
from lucid.runtime.store import ChunkStore


def export_bundle(
    session_dir: Path, store_dir: os.PathLike[str], fd: int, anchor: bytes | None = None
) -> int:
    """Write the bundle of the session kept in ``session_dir`` to ``fd``; return its size.

    The fd is truncated first; the caller owns it (and renames its file when done).
    ``anchor``: the session's anchor proof from chain-client, written as ``anchor.json``.

    Raises:
        OSError: the fd cannot be written (ENOSPC included).
        EvidenceError: the stored manifest, proofs or a chunk is damaged.
    """
    signed = SignedManifest.from_bytes((session_dir / "manifest.json").read_bytes())
    proofs = Proofs.from_bytes((session_dir / "proofs.json").read_bytes())
    store = ChunkStore(Path(store_dir))
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    with os.fdopen(os.dup(fd), "wb") as fh:
        write_bundle_stream(fh, signed, proofs, store.read, anchor=anchor)
        fh.flush()
        return fh.tell()
