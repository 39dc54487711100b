"""The .lucid bundle: deterministic writing, and safe, strict opening."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from lucid.evidence import (
    FormatError,
    VerificationError,
    build_proofs,
    canonical_json,
    open_bundle,
    verify_bundle,
    write_bundle,
    write_bundle_stream,
)
from lucid.evidence.bundle import MAX_MANIFEST_SIZE
from tests.evidence.helpers import Sample, read_members, write_members

FIXED = ["lucid-bundle.json", "manifest.json", "proofs.json"]


def test_layout_and_determinism(sample: Sample, tmp_path: Path) -> None:
    names = [n for n, _ in read_members(sample.path)]
    assert names == FIXED + [f"chunks/{c.hash_hex}" for c in sample.manifest.chunks]
    raw = sample.path.read_bytes()
    assert raw[257:263] == b"ustar\x00"  # POSIX ustar magic, not GNU
    assert len(raw) % 10240 == 0
    with tarfile.open(sample.path) as tar:
        for info in tar.getmembers():
            assert (info.uid, info.gid, info.uname, info.gname) == (0, 0, "", "")
            assert info.mode == 0o644 and info.type == tarfile.REGTYPE
            assert info.mtime == 1795316250  # ended_at 2026-11-22T02:57:30.123Z
    header = dict(read_members(sample.path))["lucid-bundle.json"]
    assert header == canonical_json(
        {"format": "lucid.bundle", "version": 1, "session": sample.manifest.session}
    )
    again = tmp_path / "again.lucid"
    write_bundle(again, sample.signed, sample.proofs, sample.store.__getitem__)
    assert again.read_bytes() == raw
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.lucid", sample.path.name]


def test_progress_is_cumulative(sample: Sample) -> None:
    sizes = [c.size for c in sample.manifest.chunks]
    assert sample.progress == [sum(sizes[: i + 1]) for i in range(len(sizes))]
    assert sample.progress[-1] == sample.manifest.total_size


def test_open_reads_lazily(sample: Sample) -> None:
    with open_bundle(sample.path) as b:
        assert b.session == sample.manifest.session
        assert b.signed_manifest == sample.signed
        assert b.read_proofs() == sample.proofs
        assert b.chunk_hashes == set(sample.store)
        for h, data in sample.store.items():
            assert b.has_chunk(h) and b.chunk_size(h) == len(data) and b.chunk(h) == data
        assert not b.has_chunk("00" * 32)
        with pytest.raises(KeyError):
            b.chunk("00" * 32)
        assert b.reserved_members == ()


def test_write_refuses_wrong_chunk_and_leaves_nothing(sample: Sample, tmp_path: Path) -> None:
    out = tmp_path / "out" / "x.lucid"
    out.parent.mkdir()
    victim = sample.manifest.chunks[4]

    def read_chunk(h: str) -> bytes:
        return b"\x00" * victim.size if h == victim.hash_hex else sample.store[h]

    with pytest.raises(VerificationError) as err:
        write_bundle(out, sample.signed, sample.proofs, read_chunk)
    assert err.value.item == "chunk video.1#1"
    assert list(out.parent.iterdir()) == []


def test_write_refuses_foreign_proofs(
    sample: Sample, sample_factory: Callable[..., Sample]
) -> None:
    other = sample_factory({"audit": [10]}, name="other")
    with pytest.raises(ValueError):
        write_bundle(
            sample.path, sample.signed, build_proofs(other.manifest), sample.store.__getitem__
        )


def _not_a_bundle(path: Path, fragment: str = "is not a Lucid bundle") -> str:
    with pytest.raises(FormatError) as err:
        open_bundle(path)
    message = str(err.value)
    assert fragment in message, message
    assert "\n" not in message
    return message


def test_empty_random_and_compressed_files(sample: Sample, tmp_path: Path) -> None:
    empty = tmp_path / "empty.lucid"
    empty.write_bytes(b"")
    assert "(empty file)" in _not_a_bundle(empty)
    noise = tmp_path / "noise.lucid"
    noise.write_bytes(os.urandom(40000))
    _not_a_bundle(noise)
    gz = tmp_path / "gz.lucid"
    gz.write_bytes(gzip.compress(sample.path.read_bytes()))
    _not_a_bundle(gz)
    short = tmp_path / "short.lucid"
    short.write_bytes(b"\x00" * 100)
    _not_a_bundle(short)


def test_truncated_everywhere(sample: Sample, tmp_path: Path) -> None:
    raw = sample.path.read_bytes()
    with tarfile.open(sample.path) as tar:
        infos = tar.getmembers()
    cuts = {1, 511, 512, 700}
    for info in infos:
        cuts |= {info.offset, info.offset_data, info.offset_data + info.size // 2}
    end = infos[-1].offset_data + ((infos[-1].size + 511) // 512) * 512
    cuts |= {end, end + 512, end + 1023}
    cut_file = tmp_path / "cut.lucid"
    for cut in sorted(cuts):
        cut_file.write_bytes(raw[:cut])
        with pytest.raises(FormatError):
            open_bundle(cut_file)
    cut_file.write_bytes(raw[: end + 1024])  # end-of-archive marker but no record padding
    open_bundle(cut_file).close()


def test_trailing_garbage(sample: Sample, tmp_path: Path) -> None:
    bad = tmp_path / "bad.lucid"
    bad.write_bytes(sample.path.read_bytes() + b"hidden")
    _not_a_bundle(bad, "after the end-of-archive marker")


def _rebuild(sample: Sample, tmp_path: Path, members: list[tuple[str, bytes]]) -> Path:
    out = tmp_path / "rebuilt.lucid"
    write_members(out, members)
    return out


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("notes.txt", "unexpected member 'notes.txt'"),
        ("../x", "unsafe member name '../x'"),
        ("chunks/../../etc/passwd", "unsafe member name"),
        ("/etc/passwd", "unsafe member name '/etc/passwd'"),
        ("chunks/ABCD", "unexpected member 'chunks/ABCD'"),
        ("approvals/.hidden", "unexpected member"),
        ("anchor.json/x", "unexpected member"),
    ],
)
def test_foreign_members(sample: Sample, tmp_path: Path, name: str, fragment: str) -> None:
    members = [*read_members(sample.path), (name, b"{}")]
    message = _not_a_bundle(_rebuild(sample, tmp_path, members), fragment)
    assert message.startswith(str(tmp_path))


def test_duplicate_and_misordered_members(sample: Sample, tmp_path: Path) -> None:
    members = read_members(sample.path)
    _not_a_bundle(_rebuild(sample, tmp_path, [*members, members[4]]), "duplicate member")
    swapped = [members[1], members[0], *members[2:]]
    _not_a_bundle(_rebuild(sample, tmp_path, swapped), "member 1 must be 'lucid-bundle.json'")
    no_proofs = [m for m in members if m[0] != "proofs.json"]
    _not_a_bundle(_rebuild(sample, tmp_path, no_proofs), "member 3 must be 'proofs.json'")


@pytest.mark.parametrize("kind", [tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_non_regular_members(sample: Sample, tmp_path: Path, kind: bytes) -> None:
    out = tmp_path / "links.lucid"
    write_members(out, [*read_members(sample.path), ("anchor.json", b"")], kind=kind)
    _not_a_bundle(out, "is not a regular file")


def test_pax_headers_rejected(sample: Sample, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in read_members(sample.path):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.pax_headers = {"comment": "hello"}
            tar.addfile(info, io.BytesIO(data))
    out = tmp_path / "pax.lucid"
    out.write_bytes(buf.getvalue())
    _not_a_bundle(out, "member 1: type 'x' is a pax extended header")


def test_header_checks(sample: Sample, tmp_path: Path) -> None:
    members = read_members(sample.path)

    def with_header(doc: object) -> Path:
        return _rebuild(
            sample, tmp_path, [("lucid-bundle.json", canonical_json(doc)), *members[1:]]
        )

    good = {"format": "lucid.bundle", "version": 1, "session": sample.manifest.session}
    _not_a_bundle(with_header(good | {"session": "other"}), "differs from the manifest's")
    _not_a_bundle(with_header(good | {"format": "zip"}), "lucid-bundle.json: format: 'zip'")
    _not_a_bundle(with_header(good | {"version": 9}), "unsupported bundle version 9")
    _not_a_bundle(with_header(good | {"x": 1}), "lucid-bundle.json: x: unknown field")
    pretty = [("lucid-bundle.json", b'{ "format": "lucid.bundle" }'), *members[1:]]
    _not_a_bundle(_rebuild(sample, tmp_path, pretty), "lucid-bundle.json: not in canonical")
    broken = [members[0], ("manifest.json", b"{"), *members[2:]]
    _not_a_bundle(_rebuild(sample, tmp_path, broken), "manifest.json: not JSON")


def test_oversized_manifest(sample: Sample, tmp_path: Path) -> None:
    members = read_members(sample.path)
    huge = [members[0], ("manifest.json", b" " * (MAX_MANIFEST_SIZE + 1)), *members[2:]]
    _not_a_bundle(
        _rebuild(sample, tmp_path, huge),
        "'manifest.json' is 16777217 bytes, larger than the format's 16777216",
    )


def test_reserved_members_accepted_but_not_verified(sample: Sample, tmp_path: Path) -> None:
    members = read_members(sample.path)
    extra = [("approvals/alice.json", b"{}")]
    out = _rebuild(sample, tmp_path, members[:3] + extra + members[3:])
    report = verify_bundle(out)
    assert report.unverified_members == ("approvals/alice.json",)
    # anchor.json is checked since docs/evidence.md §15 (tests/evidence/test_anchor.py).
    bad_anchor = [("anchor.json", b"{}")]
    with pytest.raises(FormatError, match=r"anchor\.json: batch_root: missing"):
        verify_bundle(_rebuild(sample, tmp_path, members[:3] + bad_anchor + members[3:]))


def test_write_bundle_stream_matches_file(sample: Sample) -> None:
    buf = io.BytesIO()
    write_bundle_stream(buf, sample.signed, sample.proofs, sample.store.__getitem__)
    assert buf.getvalue() == sample.path.read_bytes()
