"""Byte-level edits of a tar archive, for the container vectors (docs/evidence.md §9): patch
a header field and fix its checksum, insert extension records, re-pad the trailer.

A lenient tar reader (Python's `tarfile`, GNU tar) still reads every archive made here as
the same members; only a reader that enforces §9 refuses them. This module does not parse
member data and does not know the bundle layout.
"""

from __future__ import annotations

BLOCK = 512
RECORD = 20 * BLOCK

# Offsets and widths of the ustar header fields used here.
NAME = (0, 100)
SIZE = (124, 12)
CHECKSUM = (148, 8)
TYPEFLAG = (156, 1)
MAGIC = (257, 6)
VERSION = (263, 2)
UNAME = (265, 32)
PREFIX = (345, 155)


def _number(field: bytes) -> int:
    if field[0] & 0x80:  # base-256: the rest is big-endian
        return int.from_bytes(field[1:], "big")
    return int(field.rstrip(b"\x00 ") or b"0", 8)


def headers(data: bytes) -> list[int]:
    """The offsets of every header block, up to the end-of-archive marker (any record type
    counts as a header; its size field says how much data follows)."""
    out: list[int] = []
    offset = 0
    while data[offset : offset + BLOCK] != bytes(BLOCK):
        out.append(offset)
        size = _number(data[offset + SIZE[0] : offset + SIZE[0] + SIZE[1]])
        offset += BLOCK + -(-size // BLOCK) * BLOCK
    return out


def end_of_members(data: bytes) -> int:
    """Where the end-of-archive marker starts."""
    last = headers(data)[-1]
    size = _number(data[last + SIZE[0] : last + SIZE[0] + SIZE[1]])
    return last + BLOCK + -(-size // BLOCK) * BLOCK


def checksum_field(block: bytes, *, signed: bool = False) -> bytes:
    """The checksum field for `block`: the byte sum with the field as spaces, as tarfile
    writes it (6 octal digits, NUL, space). `signed` sums the bytes as signed chars, as
    some old tar implementations did."""
    body = block[: CHECKSUM[0]] + b" " * CHECKSUM[1] + block[CHECKSUM[0] + CHECKSUM[1] :]
    total = sum(b - 256 if signed and b >= 0x80 else b for b in body)
    return b"%06o\x00 " % (total & 0o777777)


def set_field(
    block: bytes, field: tuple[int, int], value: bytes, *, signed_checksum: bool = False
) -> bytes:
    """`block` with `field` set to `value` (NUL-padded to its width), checksum fixed."""
    at, width = field
    if len(value) > width:
        raise ValueError(f"{value!r} does not fit a field of {width} bytes")
    out = block[:at] + value.ljust(width, b"\x00") + block[at + width :]
    return set_checksum(out, signed=signed_checksum)


def set_checksum(block: bytes, *, signed: bool = False) -> bytes:
    at, width = CHECKSUM
    return block[:at] + checksum_field(block, signed=signed) + block[at + width :]


def patch_header(
    data: bytes, member: int, field: tuple[int, int], value: bytes, *, signed_checksum: bool = False
) -> bytes:
    """`data` with `field` of member `member`'s header (0-based) set, checksum fixed."""
    at = headers(data)[member]
    block = set_field(data[at : at + BLOCK], field, value, signed_checksum=signed_checksum)
    return data[:at] + block + data[at + BLOCK :]


def record(name: bytes, typeflag: bytes, payload: bytes, template: bytes) -> bytes:
    """An extension record (header + data blocks) shaped like `template` (a real member
    header): same magic, mode, owner and mtime; `name`, `typeflag` and the size of
    `payload` set."""
    block = set_field(template, NAME, name)
    block = set_field(block, SIZE, b"%011o" % len(payload))
    block = set_field(block, TYPEFLAG, typeflag)
    padded = payload + bytes(-len(payload) % BLOCK)
    return block + padded


def insert_before(data: bytes, member: int, blob: bytes) -> bytes:
    """`data` with `blob` inserted before member `member`'s header, trailer re-padded."""
    at = headers(data)[member]
    return repad(data[:at] + blob + data[at:])


def repad(data: bytes) -> bytes:
    """The archive ended as `tarfile` ends it: the two-block marker, zeros to the record."""
    end = end_of_members(data) + 2 * BLOCK
    return data[:end] + bytes(-end % RECORD)


def trimmed(data: bytes) -> bytes:
    """The archive cut right after its end-of-archive marker (no record padding)."""
    return data[: end_of_members(data) + 2 * BLOCK]


def base256(value: int, width: int = SIZE[1]) -> bytes:
    """`value` in GNU's base-256 numeric form (first byte 0x80, then big-endian)."""
    return b"\x80" + value.to_bytes(width - 1, "big")
