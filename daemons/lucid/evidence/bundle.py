"""The session bundle file ``<session>.lucid``: its layout, and opening it safely.

A bundle is an uncompressed POSIX ustar archive whose members are, in order::

    lucid-bundle.json        {"format": "lucid.bundle", "version": 1, "session": ...}
    manifest.json            the signed manifest (canonical JSON)
    proofs.json              one inclusion proof per chunk (canonical JSON)
    chunks/<leaf-hash-hex>   each sealed chunk, in manifest (leaf) order

Reserved for later versions, accepted after ``proofs.json`` and ignored by this
version's verifier: ``anchor.json`` and ``approvals/<name>``. Any other member is
an error. Headers are deterministic (mtime = the manifest's ``ended_at``,
uid/gid 0, mode 0644, empty user/group names), so equal content gives equal files.

The container is strict POSIX ustar (`_ustar`, docs/evidence.md §9): no GNU or pax
records, octal numbers, valid checksums, and only zero blocks up to the end of a
10240-byte record after the end-of-archive marker; a lenient tar reader is not used.

`open_bundle` checks the archive *structure* and parses the header and manifest;
it does not check signatures, hashes or proofs (see `verify`), never extracts
anything to disk, and does not write bundles (see `writer`).

Every member size and count is checked against the format's limits (`limits`,
docs/evidence.md §9.1) before anything is read, so an open bundle costs at most the
member headers (`MAX_MEMBERS`) plus the parsed manifest, and reading a chunk costs at
most `MAX_CHUNK_SIZE` (`chunk`) or `READ_BLOCK` (`chunk_leaf_hash`; one per hashing
thread for `chunk_leaf_hashes`).
"""

from __future__ import annotations

import os
import re
import threading
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from lucid.evidence import _fields as f
from lucid.evidence._ustar import Member, read_members
from lucid.evidence.canonical import parse_json
from lucid.evidence.errors import FormatError
from lucid.evidence.limits import (
    MAX_ANCHOR_SIZE,
    MAX_APPROVAL_MEMBERS,
    MAX_CHUNK_SIZE,
    MAX_HEADER_SIZE,
    MAX_MANIFEST_SIZE,
    MAX_MEMBERS,
    MAX_PROOFS_SIZE,
    MAX_RESERVED_SIZE,
    READ_BLOCK,
)
from lucid.evidence.manifest import Manifest
from lucid.evidence.proofs import Proofs
from lucid.evidence.signed import SignedManifest
from lucid.evidence.tree import leaf_hasher

HASH_WORKERS = max(1, min(4, len(os.sched_getaffinity(0))))
"""Threads `Bundle.chunk_leaf_hashes` hashes chunks with: the cores this process may use,
at most 4. Each reads and hashes whole chunks of its own (BLAKE3 and ``preadv`` let go of
the GIL), which scales with cores; BLAKE3's own threads within one 1 MiB block do not."""
_BATCH_MEMBERS = 256  # small chunks hashed by one thread task (see `_batches`)

__all__ = [
    "BUNDLE_SUFFIX",
    "MAX_MANIFEST_SIZE",
    "MAX_PROOFS_SIZE",
    "Bundle",
    "open_bundle",
]

BUNDLE_FORMAT = "lucid.bundle"
BUNDLE_SUFFIX = ".lucid"
HEADER_MEMBER = "lucid-bundle.json"
MANIFEST_MEMBER = "manifest.json"
PROOFS_MEMBER = "proofs.json"
ANCHOR_MEMBER = "anchor.json"
CHUNK_PREFIX = "chunks/"
APPROVALS_PREFIX = "approvals/"

_CHUNK_NAME = re.compile(r"chunks/([0-9a-f]{64})")
_APPROVAL_NAME = re.compile(r"approvals/[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")
_FIXED = (HEADER_MEMBER, MANIFEST_MEMBER, PROOFS_MEMBER)
_LIMITS = {
    HEADER_MEMBER: MAX_HEADER_SIZE,
    MANIFEST_MEMBER: MAX_MANIFEST_SIZE,
    PROOFS_MEMBER: MAX_PROOFS_SIZE,
    ANCHOR_MEMBER: MAX_ANCHOR_SIZE,
}


def _check_name(name: str, where: str) -> None:
    parts = name.split("/")
    if name.startswith("/") or "\\" in name or ".." in parts or "" in parts or "." in parts:
        raise FormatError(f"{where}: unsafe member name {name!r}")
    known = name in _FIXED or name == ANCHOR_MEMBER
    if not (known or _CHUNK_NAME.fullmatch(name) or _APPROVAL_NAME.fullmatch(name)):
        raise FormatError(f"{where}: unexpected member {name!r}")


class Bundle:
    """An open bundle: header and manifest parsed, chunks read on demand.

    Obtain one with `open_bundle`; use it as a context manager, or call `close`.

    Attributes:
        path: The bundle file.
        session: The session named by ``lucid-bundle.json`` (equal to the manifest's).
        signed_manifest: The parsed signed manifest (signature not yet checked).
    """

    def __init__(
        self,
        path: Path,
        fh: IO[bytes],
        members: dict[str, Member],
    ) -> None:
        self.path = path
        self._fh = fh
        self._members = members
        self.session = _parse_header(self._read(members[HEADER_MEMBER]))
        self.signed_manifest = SignedManifest.from_bytes(
            self._read(members[MANIFEST_MEMBER]), MANIFEST_MEMBER
        )
        if self.manifest.session != self.session:
            raise FormatError(
                f"{HEADER_MEMBER}: session {self.session!r} differs from the manifest's "
                f"{self.manifest.session!r}"
            )

    @property
    def manifest(self) -> Manifest:
        """The (structurally valid, not yet verified) manifest."""
        return self.signed_manifest.manifest

    @property
    def chunk_hashes(self) -> frozenset[str]:
        """Hex leaf hashes of all ``chunks/`` members present."""
        n = len(CHUNK_PREFIX)
        return frozenset(k[n:] for k in self._members if k.startswith(CHUNK_PREFIX))

    @property
    def reserved_members(self) -> tuple[str, ...]:
        """Names of ``anchor.json`` / ``approvals/...`` members (not verified by this version)."""
        return tuple(
            k for k in self._members if k == ANCHOR_MEMBER or k.startswith(APPROVALS_PREFIX)
        )

    def has_chunk(self, hash_hex: str) -> bool:
        """Whether the member ``chunks/<hash_hex>`` is present."""
        return CHUNK_PREFIX + hash_hex in self._members

    def chunk_size(self, hash_hex: str) -> int:
        """Size in bytes of member ``chunks/<hash_hex>`` (KeyError if absent)."""
        return self._members[CHUNK_PREFIX + hash_hex].size

    def chunk(self, hash_hex: str) -> bytes:
        """Read one sealed chunk (unverified bytes, at most `MAX_CHUNK_SIZE`).

        Raises:
            KeyError: No such member; ask `has_chunk` first.
            FormatError: The member is cut short.
        """
        return self._read(self._members[CHUNK_PREFIX + hash_hex])

    def chunk_leaf_hash(self, hash_hex: str) -> bytes:
        """The leaf hash of member ``chunks/<hash_hex>``, read `READ_BLOCK` bytes at a time.

        Never holds more than one block of the member: for checking a chunk without
        keeping it (`verify`).

        Raises:
            KeyError: No such member; ask `has_chunk` first.
            FormatError: The member is cut short.
        """
        info = self._members[CHUNK_PREFIX + hash_hex]
        return self._leaf_hash(info, bytearray(min(READ_BLOCK, max(info.size, 1))))

    def chunk_leaf_hashes(
        self, hash_hexes: Sequence[str], workers: int = HASH_WORKERS
    ) -> Generator[bytes, None, None]:
        """The leaf hash of each member ``chunks/<h>`` for `h` in `hash_hexes`, in order.

        Equal to ``chunk_leaf_hash(h)`` for each, but computed ahead of the caller by
        `workers` threads that each hash a chunk of their own (at most ``2 * workers``
        chunks ahead), each holding one `READ_BLOCK` buffer: so the memory is bounded
        by the thread count, never by the chunks. An error (`FormatError` for a member
        cut short, `OSError`) is raised when its chunk's turn comes, after every earlier
        hash was yielded. Call ``close()`` on the generator to stop early: that waits
        for the threads, so none reads the file once it returns.

        Raises:
            KeyError: No such member (before anything is hashed); ask `has_chunk` first.
            FormatError: A member is cut short.
        """
        members = [self._members[CHUNK_PREFIX + h] for h in hash_hexes]
        return self._leaf_hashes(members, workers)

    def _leaf_hashes(self, members: list[Member], workers: int) -> Generator[bytes, None, None]:
        buffers = threading.local()

        def work(batch: list[Member]) -> tuple[list[bytes], Exception | None]:
            buffer: bytearray | None = getattr(buffers, "buffer", None)
            if buffer is None:
                buffer = buffers.buffer = bytearray(READ_BLOCK)
            digests: list[bytes] = []
            try:
                for info in batch:
                    digests.append(self._leaf_hash(info, buffer))
            except Exception as err:  # raised at its member's turn, after the digests before it
                return digests, err
            return digests, None

        # Read ahead in the order the caller will ask (a no-op where unsupported).
        if members and hasattr(os, "posix_fadvise"):
            os.posix_fadvise(self._fh.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        batches = _batches(members)
        pending: deque[Future[tuple[list[bytes], Exception | None]]] = deque()
        with ThreadPoolExecutor(workers, thread_name_prefix="leaf-hash") as pool:
            try:
                for batch in batches:
                    pending.append(pool.submit(work, batch))
                    if len(pending) >= 2 * workers:
                        break
                while pending:
                    digests, err = pending.popleft().result()
                    following = next(batches, None)
                    if following is not None:
                        pending.append(pool.submit(work, following))
                    yield from digests
                    if err is not None:
                        raise err
            finally:
                for future in pending:
                    future.cancel()

    def _leaf_hash(self, info: Member, buffer: bytearray) -> bytes:
        # pread into the caller's buffer: no file position shared between threads, and
        # no fresh allocation (and its page faults) per block.
        view = memoryview(buffer)
        fd = self._fh.fileno()
        hasher = leaf_hasher()
        offset, end = info.offset_data, info.offset_data + info.size
        while offset < end:
            n = os.preadv(fd, [view[: min(len(view), end - offset)]], offset)
            if not n:
                raise FormatError(f"{self.path}: member {info.name!r} is truncated")
            hasher.update(view[:n])
            offset += n
        return hasher.digest()

    def read_proofs(self) -> Proofs:
        """Parse ``proofs.json``.

        Raises:
            FormatError: Not valid proofs JSON.
        """
        return Proofs.from_bytes(self._read(self._members[PROOFS_MEMBER]), PROOFS_MEMBER)

    def read_anchor(self) -> bytes | None:
        """The raw ``anchor.json`` member, or None if the bundle has none (unparsed)."""
        info = self._members.get(ANCHOR_MEMBER)
        return None if info is None else self._read(info)

    def _read(self, info: Member) -> bytes:
        # Straight from the file, in one allocation of the member's (bounded) size.
        self._fh.seek(info.offset_data)
        data = self._fh.read(info.size)
        if len(data) != info.size:
            raise FormatError(f"{self.path}: member {info.name!r} is truncated")
        return data

    def close(self) -> None:
        """Close the underlying file."""
        self._fh.close()

    def __enter__(self) -> Bundle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _batches(members: list[Member]) -> Iterator[list[Member]]:
    """Consecutive members in groups of at least `READ_BLOCK` bytes (or `_BATCH_MEMBERS`
    members): one task per big chunk, many small ones per task (a task costs ~20 µs)."""
    batch: list[Member] = []
    size = 0
    for info in members:
        batch.append(info)
        size += info.size
        if size >= READ_BLOCK or len(batch) >= _BATCH_MEMBERS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _parse_header(data: bytes) -> str:
    """Check ``lucid-bundle.json`` and return the session it names."""
    header: Any = parse_json(data, HEADER_MEMBER, require_canonical=True)
    try:
        h = f.get_obj(header, "", frozenset({"format", "version", "session"}))
        f.get_str(h["format"], "format", choices=frozenset({BUNDLE_FORMAT}))
        if f.get_int(h["version"], "version") != 1:
            raise FormatError(f"version: unsupported bundle version {h['version']}")
        return f.check_name(h["session"], "session")
    except FormatError as err:
        raise FormatError(f"{HEADER_MEMBER}: {err}") from None


def _scan(members: list[Member], where: str) -> dict[str, Member]:
    """Check every member's name, size and place; return them by name."""
    found: dict[str, Member] = {}
    approvals = 0
    for info in members:
        name = info.name
        _check_name(name, where)
        if name in found:
            raise FormatError(f"{where}: duplicate member {name!r}")
        if name.startswith(CHUNK_PREFIX):
            limit = MAX_CHUNK_SIZE
        else:
            limit = _LIMITS.get(name, MAX_RESERVED_SIZE)
        if info.size > limit:
            raise FormatError(
                f"{where}: member {name!r} is {info.size} bytes, larger than the format's {limit}"
            )
        if name.startswith(APPROVALS_PREFIX):
            approvals += 1
            if approvals > MAX_APPROVAL_MEMBERS:
                raise FormatError(f"{where}: more than {MAX_APPROVAL_MEMBERS} approvals/ members")
        found[name] = info
    for i, expected in enumerate(_FIXED):
        if len(members) <= i or members[i].name != expected:
            raise FormatError(f"{where}: member {i + 1} must be {expected!r}")
    return found


def open_bundle(path: str | os.PathLike[str]) -> Bundle:
    """Open a bundle and check its structure.

    Checks: a complete, strict POSIX ustar archive (`_ustar`: checksums, magic and
    version, octal numbers, no GNU or pax records, the end-of-archive rule); only
    regular files; no absolute, ``..`` or
    unknown member names; no duplicates; ``lucid-bundle.json``, ``manifest.json``,
    ``proofs.json`` first; every member's size and the number of members within the
    format's limits (`limits`); header and manifest parse and name the same session.

    Args:
        path: The ``.lucid`` file.

    Raises:
        FormatError: Not a strict ustar archive, truncated, or any structural violation
            (the message names the member and what is wrong with it).
        OSError: The file cannot be opened or read.

    Returns:
        The open bundle (close it).
    """
    p = Path(path)
    fh = open(p, "rb")  # noqa: SIM115 - owned by the returned Bundle
    try:
        members = read_members(fh, str(p), MAX_MEMBERS)
        bundle = Bundle(p, fh, _scan(members, str(p)))
    except BaseException:
        fh.close()
        raise
    return bundle
