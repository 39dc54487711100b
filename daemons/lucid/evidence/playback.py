"""Decrypt a session's streams from a bundle with a recipient key.

For one stream: find the recipient entry for the key, unwrap the data key, then
for each chunk of the stream in index order check its leaf hash, open it
(XChaCha20-Poly1305 bound to session / stream / index), zstd-decompress it if
marked so, and check its plain size. The output is the stream's bytes: for
``video.<n>`` a fragmented MP4, for ``audit`` JSON lines.

The manifest signature is checked before any key is used, because anyone can
seal a data key to a recipient's public key: without the signature a forged
bundle would decrypt. This module does not check the Merkle tree or proofs (run
`verify.verify_bundle` for that) and does not remux video (the CLI does, with PyAV).

Memory: one chunk at a time, however long the stream. A chunk is sealed in one piece
(XChaCha20-Poly1305 is one-shot), so while it is decrypted its sealed bytes, the
ciphertext slice, libsodium's output and PyNaCl's copy of it are alive together: at
most 4 x `MAX_CHUNK_SIZE` (64 MiB), for a moment. The sealed bytes are dropped before
decompression, which runs in `READ_BLOCK` steps and stops one byte past ``plain_size``
(never trusting a zstd frame's own content size) with a decoder window of at most
`MAX_PLAIN_SIZE`, so decompressing holds at most 3 x 16 MiB. Yielded pieces are at most
`READ_BLOCK`. A manifest cannot make this allocate more: ``plain_size`` above
`MAX_PLAIN_SIZE` and ``size`` above `MAX_CHUNK_SIZE` are refused when it is parsed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO

import zstandard

from lucid.evidence.bundle import Bundle
from lucid.evidence.crypto import fingerprint, open_chunk, unwrap_key
from lucid.evidence.errors import (
    DecryptionError,
    NotARecipientError,
    UnknownStreamError,
    VerificationError,
)
from lucid.evidence.keyfile import RecipientKey
from lucid.evidence.limits import MAX_PLAIN_SIZE, READ_BLOCK
from lucid.evidence.manifest import Manifest
from lucid.evidence.tree import leaf_hash

__all__ = ["data_key_for", "decrypt_stream", "open_plain", "write_stream"]


def data_key_for(manifest: Manifest, key: RecipientKey) -> bytes:
    """Unwrap the session's data key with a recipient key.

    Args:
        manifest: The session's manifest (its signature already checked).
        key: The recipient key pair.

    Raises:
        NotARecipientError: No recipient entry has this key's public key.
        DecryptionError: The entry exists but its sealed key does not open
            (item ``"recipients[<i>].sealed_key"``).

    Returns:
        The 32-byte data key.
    """
    for i, r in enumerate(manifest.recipients):
        if r.x25519 == key.public:
            try:
                return unwrap_key(r.sealed_key, key.secret, key.public)
            except DecryptionError:
                item = f"recipients[{i}].sealed_key"
                raise DecryptionError(item, f"{item}: does not open with this key") from None
    known = ", ".join(fingerprint(r.x25519) for r in manifest.recipients)
    raise NotARecipientError(
        f"this key ({key.fingerprint}) is not a recipient of session {manifest.session} "
        f"(recipients: {known})"
    )


def _plain(compression: str, plain_size: int, item: str, data: bytes) -> list[bytes]:
    """The chunk's plaintext in pieces (zstd: `READ_BLOCK` each), checked to be `plain_size`."""
    if plain_size > MAX_PLAIN_SIZE:  # the manifest parser refuses it; callers of open_plain
        raise DecryptionError(
            item, f"{item}: plain size {plain_size} is above the format's {MAX_PLAIN_SIZE}"
        )
    if compression != "zstd":
        if len(data) != plain_size:
            raise DecryptionError(
                item, f"{item}: {len(data)} plaintext bytes, expected {plain_size}"
            )
        return [data]
    pieces: list[bytes] = []
    got = 0
    try:
        dctx = zstandard.ZstdDecompressor(max_window_size=MAX_PLAIN_SIZE)
        reader = dctx.stream_reader(data, read_across_frames=True)
        # Read at most one byte past plain_size, in bounded steps: a frame's own
        # content size is never used to size anything.
        while piece := reader.read(min(READ_BLOCK, plain_size + 1 - got)):
            got += len(piece)
            if got > plain_size:
                raise DecryptionError(
                    item, f"{item}: decompresses to more than its {plain_size} plaintext bytes"
                )
            pieces.append(piece)
    except zstandard.ZstdError as err:
        raise DecryptionError(item, f"{item}: not valid zstd ({err})") from None
    if got != plain_size:
        raise DecryptionError(item, f"{item}: {got} plaintext bytes, expected {plain_size}")
    return pieces


def open_plain(
    data_key: bytes,
    session: str,
    chunk: tuple[str, int, int, str],
    sealed: bytes,
) -> bytes:
    """Open one sealed chunk with its session's data key and undo its compression.

    For holders of the data key itself (the device's encryptor streaming a sealed session
    to the web page); bundle readers use `decrypt_stream`, which checks the signature first.

    Args:
        data_key: The session's 32-byte data key.
        session: The session id (bound into the chunk's associated data).
        chunk: ``(stream, index, plain_size, compression)`` as recorded when it was sealed.
        sealed: The sealed chunk bytes.

    Raises:
        DecryptionError: The chunk does not open, decompress, or has the wrong size.

    Returns:
        The chunk's plaintext.
    """
    stream, index, plain_size, compression = chunk
    item = f"{stream}[{index}]"
    return b"".join(
        _plain(compression, plain_size, item, open_chunk(data_key, session, stream, index, sealed))
    )


def decrypt_stream(bundle: Bundle, key: RecipientKey, stream: str) -> Iterator[bytes]:
    """Yield the plaintext of one stream, chunk by chunk, in order.

    Checks the manifest signature and unwraps the data key before the first
    chunk is yielded; afterwards each chunk is checked as it is read.

    Args:
        bundle: The open bundle.
        key: A recipient key of the session.
        stream: A stream name from ``bundle.manifest.streams``.

    Raises:
        UnknownStreamError: The manifest has no such stream.
        VerificationError: Bad signature, or a chunk missing or not matching its hash.
        NotARecipientError: See `data_key_for`.
        DecryptionError: A chunk does not open, decompress, or has the wrong size.

    Returns:
        An iterator of plaintext byte strings (at most `READ_BLOCK` each, a chunk's
        pieces yielded only once the whole chunk checked out); their concatenation is
        the stream.
    """
    manifest = bundle.manifest
    if manifest.stream(stream) is None:
        names = ", ".join(s.name for s in manifest.streams)
        raise UnknownStreamError(
            f"session {manifest.session} has no stream {stream!r} (streams: {names})"
        )
    bundle.signed_manifest.verify_signature()
    data_key = data_key_for(manifest, key)
    return _chunks(bundle, manifest, data_key, stream)


def _chunks(bundle: Bundle, manifest: Manifest, data_key: bytes, stream: str) -> Iterator[bytes]:
    for c in manifest.chunks_of(stream):
        if not bundle.has_chunk(c.hash_hex):
            raise VerificationError(c.item, f"{c.item}: missing from the bundle")
        if bundle.chunk_size(c.hash_hex) != c.size:
            raise VerificationError(c.item, f"{c.item}: size differs from the manifest's")
        sealed = bundle.chunk(c.hash_hex)  # at most MAX_CHUNK_SIZE: the bundle refuses more
        if leaf_hash(sealed) != c.hash:
            raise VerificationError(c.item, f"{c.item}: content does not match its hash")
        stored = open_chunk(data_key, manifest.session, c.stream, c.index, sealed)
        del sealed  # hold sealed and decrypted bytes together only while decrypting
        # The whole chunk is checked before any of it is yielded.
        pieces = _plain(c.compression, c.plain_size, c.item, stored)
        del stored  # from here the pieces are all that is held of this chunk
        yield from _blocks(pieces)


def _blocks(pieces: list[bytes]) -> Iterator[bytes]:
    """Yield `pieces` in blocks of at most `READ_BLOCK`, letting go of each piece once
    yielded, so that the caller and this generator together hold one chunk at most."""
    while pieces:
        piece = pieces.pop(0)
        if len(piece) <= READ_BLOCK:
            yield piece
            continue
        view = memoryview(piece)
        del piece
        for start in range(0, len(view), READ_BLOCK):
            yield bytes(view[start : start + READ_BLOCK])


def write_stream(
    bundle: Bundle,
    key: RecipientKey,
    stream: str,
    out_file: BinaryIO,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Decrypt one stream into a file.

    Args:
        bundle: The open bundle.
        key: A recipient key of the session.
        stream: A stream name from ``bundle.manifest.streams``.
        out_file: Binary file to write the plaintext to (not closed).
        progress: Called after each chunk with the plaintext bytes written so far.

    Raises:
        See `decrypt_stream`. On error, `out_file` holds a prefix of the stream.

    Returns:
        Plaintext bytes written.
    """
    written = 0
    for part in decrypt_stream(bundle, key, stream):
        out_file.write(part)
        written += len(part)
        if progress is not None:
            progress(written)
    return written
