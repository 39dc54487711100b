"""The strict POSIX ustar reader behind `bundle` (the container rules of docs/evidence.md §9).

A bundle is plain POSIX ustar and nothing else, so that every verifier written from the
spec reads the same members from the same file. `read_members` reads only the 512-byte
headers and refuses, naming the member, anything a lenient tar reader would accept:

* a header whose checksum (unsigned byte sum, the checksum field read as spaces) is wrong;
* a magic other than ``ustar\\0`` (GNU tar's ``ustar  \\0`` included) or a version other
  than ``00``;
* a type other than ``0`` or NUL (regular file): GNU long-name/long-link records (``L``,
  ``K``), pax headers (``x``, ``g``), sparse files, directories, links, devices;
* a numeric field (mode, uid, gid, size, mtime, checksum) that is not octal digits
  followed by at least one NUL or space (base-256 included);
* a name that is not ASCII, has bytes after its terminating NUL, or uses the ``prefix``
  field (every name a bundle may hold fits the 100-byte name field);
* more than `max_members` members;
* after the last member: anything but the two-zero-block end-of-archive marker followed
  by whole zero blocks up to at most the next multiple of `RECORD` bytes of the file.

It does not read member data, check names against the bundle's layout, or write tar.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import IO

from lucid.evidence.errors import FormatError

__all__ = ["BLOCK", "RECORD", "Member", "read_members"]

BLOCK = 512
"""A tar block, bytes."""
RECORD = 20 * BLOCK
"""A tar record (the default blocking factor, 20): the trailer may pad the file to one."""

_ZERO = bytes(BLOCK)
_MAGIC = b"ustar\x00"
_VERSION = b"00"
_GNU_MAGIC = b"ustar  \x00"
_REGULAR = (b"0", b"\x00")
_EXTENSIONS = {
    b"L": "a GNU long-name record",
    b"K": "a GNU long-link record",
    b"x": "a pax extended header",
    b"g": "a pax global header",
    b"S": "a GNU sparse file",
}
_NUMBERS = (("mode", 100, 8), ("uid", 108, 8), ("gid", 116, 8), ("mtime", 136, 12))
_TERMINATORS = b"\x00 "


@dataclass(frozen=True)
class Member:
    """One member header as read: its name, data size and where its data starts."""

    name: str
    size: int
    offset_data: int


def _octal(field: bytes, what: str) -> int:
    """A POSIX numeric field: octal digits, then at least one NUL or space, nothing else."""
    if field[:1] and field[0] & 0x80:
        raise FormatError(f"{what} is base-256 (a GNU extension); a bundle uses octal")
    digits = field.rstrip(_TERMINATORS)
    if not digits or len(digits) == len(field) or digits.strip(b"01234567"):
        raise FormatError(f"{what} {field!r} is not octal digits ended by NUL or space")
    return int(digits, 8)


def _name(block: bytes) -> str:
    raw, nul, rest = block[:100].partition(b"\x00")
    if not raw:
        raise FormatError("empty name")
    if nul and rest.strip(b"\x00"):
        raise FormatError("name field has bytes after its terminating NUL")
    if block[345:500].strip(b"\x00"):
        raise FormatError("prefix field is used (every bundle name fits the name field)")
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise FormatError(f"name {raw!r} is not ASCII") from None


def _header(block: bytes) -> tuple[str, int]:
    """Check one non-zero header block; return its (name, size)."""
    stored = _octal(block[148:156], "header checksum")
    if stored != sum(block[:148]) + 8 * 0x20 + sum(block[156:]):
        raise FormatError("header checksum is wrong")
    if block[257:265] == _GNU_MAGIC:
        raise FormatError("GNU tar header (magic 'ustar  '); a bundle is POSIX ustar")
    if block[257:263] != _MAGIC:
        raise FormatError(f"magic {block[257:263]!r}, expected b'ustar\\x00' (POSIX ustar)")
    if block[263:265] != _VERSION:
        raise FormatError(f"ustar version {block[263:265]!r}, expected b'00'")
    kind = block[156:157]
    if kind in _EXTENSIONS:
        raise FormatError(f"type {kind.decode()!r} is {_EXTENSIONS[kind]}; no extension headers")
    if kind not in _REGULAR:
        raise FormatError(f"type {kind!r} is not a regular file (type '0' or NUL)")
    name = _name(block)
    for what, at, width in _NUMBERS:
        _octal(block[at : at + width], what)
    try:
        return name, _octal(block[124:136], "size")
    except FormatError as err:
        raise FormatError(f"{name!r}: {err}") from None


def _check_trailer(fh: IO[bytes], offset: int, length: int, where: str) -> None:
    """At `offset`: two zero blocks, then whole zero blocks to at most the next record end."""
    marker_end = offset + 2 * BLOCK
    record_end = -(-marker_end // RECORD) * RECORD
    if length < marker_end:
        raise FormatError(f"{where} is not a Lucid bundle (truncated: no end-of-archive marker)")
    if length > record_end or length % BLOCK:
        raise FormatError(
            f"{where} is not a Lucid bundle ({length - marker_end} bytes after the "
            f"end-of-archive marker at byte {offset}; only zero blocks up to byte "
            f"{record_end}, the end of its {RECORD}-byte record, may follow)"
        )
    fh.seek(offset)
    if fh.read(length - offset).count(0) != length - offset:
        raise FormatError(
            f"{where} is not a Lucid bundle (non-zero data after the end-of-archive "
            f"marker at byte {offset})"
        )


def read_members(fh: IO[bytes], where: str, max_members: int) -> list[Member]:
    """Read and check every member header of the ustar archive in `fh`, and its end.

    Args:
        fh: The archive, open for binary reading (seekable).
        where: The file's name, for messages.
        max_members: Refuse more members than this, before keeping them all.

    Raises:
        FormatError: Any violation of the module's rules; the message says
            "<where> is not a Lucid bundle (member <n>: <what>)".

    Returns:
        The members in archive order (member data not read).
    """
    length = os.fstat(fh.fileno()).st_size
    if length == 0:
        raise FormatError(f"{where} is not a Lucid bundle (empty file)")
    members: list[Member] = []
    offset = 0
    while True:
        fh.seek(offset)
        block = fh.read(BLOCK)
        if len(block) < BLOCK:
            raise FormatError(
                f"{where} is not a Lucid bundle (truncated: no end-of-archive marker)"
            )
        if block == _ZERO:
            _check_trailer(fh, offset, length, where)
            return members
        n = len(members) + 1
        if n > max_members:
            raise FormatError(
                f"{where}: more than {max_members} members (the format's limit: "
                "3 fixed, anchor.json, approvals and chunks)"
            )
        try:
            name, size = _header(block)
        except FormatError as err:
            raise FormatError(f"{where} is not a Lucid bundle (member {n}: {err})") from None
        data = offset + BLOCK
        offset = data + -(-size // BLOCK) * BLOCK
        if offset > length:
            raise FormatError(f"{where}: member {name!r} is truncated")
        members.append(Member(name, size, data))
