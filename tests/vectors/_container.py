"""The container vectors (docs/evidence.md §9): the genuine bundle's bytes as another tar
writer might have written them, or edited below the member level. A lenient tar reader
reads the same members from most of them; a bundle is strict POSIX ustar, so each is a
format error (exit 2), except the few marked OK that §9 allows."""

from __future__ import annotations

import tarfile

from lucid.evidence import canonical_json
from lucid.evidence.bundle import HEADER_MEMBER, MANIFEST_MEMBER
from tests.vectors import _forge as fg
from tests.vectors import _tar
from tests.vectors._build import NOT_ANCHORED, Builder, by_passkey, unpinned

GOOD_LINES = [unpinned(), by_passkey("alice", "unknown"), NOT_ANCHORED]


def headers(b: Builder) -> None:
    """Header fields: magic, version, type, numbers, checksum, name."""
    good = b.good_bytes
    gnu = fg.pack(b.members(), fg.mtime_of(b.good.manifest), fmt=tarfile.GNU_FORMAT)
    b.raw("tar-gnu-format.lucid", gnu)
    b.refused(
        "tar-gnu-format",
        "tar-gnu-format.lucid",
        "the same members written by tarfile in GNU format (magic 'ustar  \\0')",
        "GNU tar header",
    )
    template = good[: _tar.BLOCK]
    chunk_name = b.members()[3][0].encode()
    longname = _tar.record(b"././@LongLink", b"L", chunk_name + b"\x00", template)
    b.raw("tar-gnu-longname.lucid", _tar.insert_before(good, 3, longname))
    b.refused(
        "tar-gnu-longname",
        "tar-gnu-longname.lucid",
        "a GNU long-name record ('L', POSIX magic) naming the first chunk, before it",
        "member 4: type 'L' is a GNU long-name record",
    )
    pax = _tar.record(b"PaxHeader/lucid-bundle.json", b"x", b"18 path=notes.txt\n", template)
    b.raw("tar-pax-header.lucid", _tar.insert_before(good, 0, pax))
    b.refused(
        "tar-pax-header",
        "tar-pax-header.lucid",
        "a pax extended header ('x') renaming the first member",
        "member 1: type 'x' is a pax extended header",
    )
    v7 = _tar.patch_header(good, 0, (_tar.MAGIC[0], 8), bytes(8))
    b.raw("tar-magic-v7.lucid", v7)
    b.refused(
        "tar-magic-v7",
        "tar-magic-v7.lucid",
        "member 1 with a pre-POSIX (V7) header: magic and version all NUL",
        "member 1: magic",
    )
    version = _tar.patch_header(good, 0, _tar.VERSION, b" \x00")
    b.raw("tar-version.lucid", version)
    b.refused(
        "tar-version",
        "tar-version.lucid",
        "member 1 with magic 'ustar\\0' and version ' \\0' (not '00')",
        "member 1: ustar version",
    )
    size = len(dict(b.members())[HEADER_MEMBER])
    b.raw("tar-base256-size.lucid", _tar.patch_header(good, 0, _tar.SIZE, _tar.base256(size)))
    b.refused(
        "tar-base256-size",
        "tar-base256-size.lucid",
        "member 1's size in GNU base-256 form (the right value)",
        "base-256",
    )
    at = _tar.headers(good)[0] + _tar.UNAME[0]
    b.raw("tar-checksum.lucid", good[:at] + b"x" + good[at + 1 :])
    b.refused(
        "tar-checksum",
        "tar-checksum.lucid",
        "member 1's uname changed, checksum not updated",
        "header checksum is wrong",
    )
    high = b"\xff" * 8
    b.raw(
        "tar-signed-checksum.lucid",
        _tar.patch_header(good, 0, _tar.UNAME, high, signed_checksum=True),
    )
    b.refused(
        "tar-signed-checksum",
        "tar-signed-checksum.lucid",
        "member 1's uname has bytes >= 0x80 and the checksum sums them as signed chars",
        "header checksum is wrong",
    )
    b.raw("tar-uname-high-bytes.lucid", _tar.patch_header(good, 0, _tar.UNAME, high))
    b.ok(
        "tar-uname-high-bytes",
        "tar-uname-high-bytes.lucid",
        "the same uname with the checksum summed unsigned: uname is not read, so OK",
        GOOD_LINES,
    )
    b.raw("tar-prefix.lucid", _tar.patch_header(good, 0, _tar.PREFIX, b"x"))
    b.refused(
        "tar-prefix",
        "tar-prefix.lucid",
        "member 1 with the ustar prefix field set (its name would be x/lucid-bundle.json)",
        "member 1: prefix field is used",
    )
    directory = _tar.record(b"chunks/", b"5", b"", template)
    b.raw("tar-directory.lucid", _tar.insert_before(good, 3, directory))
    b.refused(
        "tar-directory",
        "tar-directory.lucid",
        "a directory member 'chunks/' before the first chunk",
        "member 4: type b'5' is not a regular file",
    )


def trailer(b: Builder) -> None:
    """What may follow the end-of-archive marker: zero blocks to the end of its record."""
    good = b.good_bytes
    b.raw("tar-trimmed.lucid", _tar.trimmed(good))
    b.ok(
        "tar-trimmed",
        "tar-trimmed.lucid",
        "the file ends right after the two-block end-of-archive marker (no record padding)",
        GOOD_LINES,
    )
    b.raw("tar-junk-after-end.lucid", good + b"junk\n")
    b.refused(
        "tar-junk-after-end",
        "tar-junk-after-end.lucid",
        "5 bytes appended after the padded record",
        "after the end-of-archive marker",
    )
    b.raw("tar-extra-zero-record.lucid", good + bytes(_tar.RECORD))
    b.refused(
        "tar-extra-zero-record",
        "tar-extra-zero-record.lucid",
        "a further 10240-byte record of zeros after the padded one",
        "after the end-of-archive marker",
    )
    nonzero = bytearray(good)
    nonzero[-1] = 0x01
    b.raw("tar-nonzero-padding.lucid", bytes(nonzero))
    b.refused(
        "tar-nonzero-padding",
        "tar-nonzero-padding.lucid",
        "the record padding's last byte is 0x01",
        "non-zero data after the end-of-archive",
    )
    end = _tar.end_of_members(good)
    b.raw("tar-truncated.lucid", good[: end - _tar.BLOCK])
    b.refused(
        "tar-truncated",
        "tar-truncated.lucid",
        "the file cut inside the last member's data",
        "truncated",
    )


def layout(b: Builder) -> None:
    """Member names, order and the bundle header (§9)."""
    items = b.members()
    b.packed("bundle-unknown-member.lucid", [*items, ("notes.txt", b"hello\n")], b.good)
    b.refused(
        "bundle-unknown-member",
        "bundle-unknown-member.lucid",
        "an extra member notes.txt",
        "notes.txt",
    )
    b.packed("bundle-approvals-member.lucid", [*items, ("approvals/extra", b"{}")], b.good)
    b.ok(
        "bundle-approvals-member",
        "bundle-approvals-member.lucid",
        "a reserved approvals/<name> member: accepted unchecked, and reported",
        [*GOOD_LINES, "  not checked: member approvals/extra (reserved for a later version)"],
    )
    b.packed("bundle-duplicate-member.lucid", [*items, items[3]], b.good)
    b.refused(
        "bundle-duplicate-member",
        "bundle-duplicate-member.lucid",
        "the first chunk's member twice",
        "duplicate member",
    )
    b.packed("bundle-order.lucid", [items[1], items[0], *items[2:]], b.good)
    b.refused(
        "bundle-order",
        "bundle-order.lucid",
        "manifest.json before lucid-bundle.json",
        "member 1 must be 'lucid-bundle.json'",
    )
    header = canonical_json({"format": "lucid.bundle", "version": 1, "session": "s-other"})
    b.packed("bundle-session-mismatch.lucid", [(HEADER_MEMBER, header), *items[1:]], b.good)
    b.refused(
        "bundle-session-mismatch",
        "bundle-session-mismatch.lucid",
        "lucid-bundle.json names another session",
        "differs from the manifest's",
    )
    manifest = dict(items)[MANIFEST_MEMBER]
    spaced = manifest.replace(b'{"manifest":', b'{"manifest": ', 1)
    b.packed(
        "manifest-not-canonical.lucid",
        [(n, spaced if n == MANIFEST_MEMBER else d) for n, d in items],
        b.good,
    )
    b.refused(
        "manifest-not-canonical",
        "manifest-not-canonical.lucid",
        "manifest.json with one space added (valid JSON, not canonical)",
        "canonical",
    )


ALL = (headers, trailer, layout)
