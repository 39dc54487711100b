"""``lucid verify`` and ``lucid play``: offline, need only the bundle (and a key to play)."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from lucid.cli.playback import remux_to_mp4
from lucid.cli.progress import byte_bar
from lucid.evidence.anchor import http_rpc, verify_online
from lucid.evidence.bundle import open_bundle
from lucid.evidence.errors import FormatError, VerificationError
from lucid.evidence.keyfile import RecipientKey
from lucid.evidence.playback import decrypt_stream
from lucid.evidence.verify import verify_bundle


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file") from None
    except OSError as err:
        raise FormatError(f"{path}: cannot read ({err.strerror})") from err


def verify(path: Path, quiet: bool = False, rpc: str | None = None) -> int:
    total = _size(path)
    with byte_bar(total, "verify", quiet) as bar:
        try:
            report = verify_bundle(path, progress=lambda done: bar.update(done - bar.n))
        except VerificationError as err:
            bar.close()
            print(f"FAILED {path}: {err.item}: {err}", file=sys.stderr)
            return 1
    anchor = report.anchor
    anchored = ""
    if anchor is not None:
        anchored = (
            f", anchored on chain {anchor.chain_id} in block {anchor.block_number} "
            f"(tx {anchor.tx_hash})"
        )
    if rpc is not None:
        if anchor is None:
            print(f"FAILED {path}: anchor: the bundle has no anchor.json to check", file=sys.stderr)
            return 1
        try:
            chain = verify_online(anchor, http_rpc(rpc), identity_key=report.device_ed25519)
        except VerificationError as err:
            print(f"FAILED {path}: {err.item}: {err}", file=sys.stderr)
            return 1
        anchored += f", confirmed by {rpc} ({chain.confirmations} confirmations)"
    approvals = (
        f"{report.approvals} approval(s) verified"
        if report.approvals
        else "no approval record (recorded without gatekeeper)"
    )
    print(
        f"OK {path}: session {report.session}, {report.chunk_count} chunks, "
        f"{report.total_bytes} bytes, root {report.tree_root.hex()}, "
        f"device {report.device_ed25519.hex()}, {approvals}{anchored}"
        + ("" if report.complete else " (recording ended abnormally)")
    )
    return 0


def play(path: Path, key_path: Path, output: Path) -> int:
    _size(path)
    if not output.parent.is_dir():  # fail before the long decrypt, not after
        raise FileNotFoundError(errno.ENOENT, "no such output directory", str(output.parent))
    key = RecipientKey.load(key_path)
    with open_bundle(path) as bundle:
        manifest = bundle.manifest
        videos = [s.name for s in manifest.streams if s.kind == "video"]
        if not videos:
            raise FormatError(f"{path}: session {manifest.session} has no video stream")
        total = sum(c.plain_size for c in manifest.chunks if c.stream in videos)
        # decrypt_stream checks the signature and unwraps the key now; chunks are read,
        # checked and decrypted one at a time as the remuxer pulls them (bounded memory).
        streams = [decrypt_stream(bundle, key, name) for name in videos]
        tmp = output.with_name(output.name + ".part")
        with byte_bar(total, "decrypt") as bar:
            parts = [_counted(pieces, bar.update) for pieces in streams]
            try:
                frames = remux_to_mp4(parts, tmp)
                os.replace(tmp, output)
            finally:
                tmp.unlink(missing_ok=True)
    print(f"wrote {output} ({frames} frames from {len(parts)} part(s))")
    return 0


def _counted(pieces: Iterator[bytes], update: Callable[[int], object]) -> Iterator[bytes]:
    for piece in pieces:
        update(len(piece))
        yield piece
