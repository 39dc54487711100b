"""``lucid verify`` and ``lucid play``: offline, need only the bundle (and a key to play)."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from lucid.cli.progress import byte_bar
from lucid.evidence.anchor import RpcError, http_rpc
from lucid.evidence.bundle import open_bundle
from lucid.evidence.errors import FormatError, VerificationError
from lucid.evidence.keyfile import RecipientKey
from lucid.evidence.playback import decrypt_stream
from lucid.evidence.trust import TrustRoots
from lucid.evidence.verdict import failure_message, judge


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file") from None
    except OSError as err:
        raise FormatError(f"{path}: cannot read ({err.strerror})") from err


def verify(
    path: Path,
    quiet: bool = False,
    rpc: str | None = None,
    roots: TrustRoots | None = None,
) -> int:
    """``lucid verify``: exit 0 verified (and rooted in what was pinned), 1 a check failed
    (FAILED line naming the item), 2 not a bundle / bad input, 3 the chain could not be
    asked (docs/evidence.md §10.1)."""
    roots = roots or TrustRoots()
    total = _size(path)
    with byte_bar(total, "verify", quiet) as bar:
        try:
            verdict = judge(
                path,
                roots,
                progress=lambda done: bar.update(done - bar.n),
                rpc=None if rpc is None else http_rpc(rpc),
            )
        except VerificationError as err:
            bar.close()
            return _failed(path, err)
        except RpcError as err:
            bar.close()
            print(f"lucid: anchor not checked: {err}", file=sys.stderr)
            return 3
    print(f"OK {path}: {verdict.summary}")
    for line in verdict.lines:
        print(f"  {line}")
    return 0


def _failed(path: Path, err: VerificationError) -> int:
    print(f"FAILED {path}: {err.item}: {failure_message(err)}", file=sys.stderr)
    return 1


def play(path: Path, key_path: Path, output: Path) -> int:
    from lucid.cli.playback import remux_to_mp4  # PyAV: loaded for playback, not for verify

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
