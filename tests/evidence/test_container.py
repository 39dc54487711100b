"""The bundle container is strict POSIX ustar (docs/evidence.md §9): every tar dialect
a lenient reader accepts is refused, naming the member and what is wrong with it.

Each attack starts from a genuine bundle (`make_sample`) and changes one thing; the
user's side (genuine bundles, every trailer Python's tarfile writes) still opens.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from lucid.evidence import FormatError, open_bundle, verify_bundle
from tests.evidence.helpers import Sample, read_members, write_members

LUCID = [sys.executable, "-m", "lucid.cli"]


def _header_offsets(path: Path) -> list[int]:
    with tarfile.open(path, "r:") as tar:
        return [m.offset for m in tar.getmembers()]


def _with_checksum(block: bytearray) -> bytearray:
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\x00 " % sum(block)
    return block


def _patch(sample: Sample, tmp_path: Path, member: int, at: int, value: bytes) -> Path:
    """The sample with bytes `at` of member `member`'s (0-based) header replaced."""
    raw = bytearray(sample.path.read_bytes())
    start = _header_offsets(sample.path)[member]
    block = bytearray(raw[start : start + 512])
    block[at : at + len(value)] = value
    raw[start : start + 512] = _with_checksum(block)
    out = tmp_path / "patched.lucid"
    out.write_bytes(bytes(raw))
    return out


def _refused(path: Path, *fragments: str) -> str:
    with pytest.raises(FormatError) as err:
        open_bundle(path)
    message = str(err.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_genuine_bundle_opens_and_verifies(sample: Sample) -> None:
    assert verify_bundle(sample.path).chunk_count == len(sample.manifest.chunks)


def test_gnu_format_refused(sample: Sample, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in read_members(sample.path):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    out = tmp_path / "gnu.lucid"
    out.write_bytes(buf.getvalue())
    with tarfile.open(out) as tar:  # a lenient reader takes it
        assert tar.getnames()[0] == "lucid-bundle.json"
    _refused(out, "is not a Lucid bundle (member 1: GNU tar header")


def test_gnu_long_name_record_refused(sample: Sample, tmp_path: Path) -> None:
    # A GNU 'L' record in an otherwise POSIX header: lenient readers rename the next member.
    members = read_members(sample.path)
    raw = sample.path.read_bytes()
    fourth = _header_offsets(sample.path)[3]
    long_name = b"chunks/" + members[3][0][7:].encode() + b"\x00"
    record = tarfile.TarInfo("././@LongLink")
    record.type = tarfile.GNUTYPE_LONGNAME
    record.size = len(long_name)
    inserted = record.tobuf(format=tarfile.USTAR_FORMAT) + long_name.ljust(512, b"\x00")
    out = tmp_path / "longname.lucid"
    out.write_bytes(raw[:fourth] + inserted + raw[fourth:])
    _refused(out, "member 4: type 'L' is a GNU long-name record")


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ("member", "member 1: type 'x' is a pax extended header"),
        ("global", "member 1: type 'g' is a pax global header"),
    ],
)
def test_pax_records_refused(sample: Sample, tmp_path: Path, headers: str, fragment: str) -> None:
    buf = io.BytesIO()
    glob = {"comment": "hello"} if headers == "global" else None
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, pax_headers=glob) as tar:
        for name, data in read_members(sample.path):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            if headers == "member":
                info.pax_headers = {"comment": "hello"}
            tar.addfile(info, io.BytesIO(data))
    out = tmp_path / "pax.lucid"
    out.write_bytes(buf.getvalue())
    _refused(out, fragment)


@pytest.mark.parametrize(
    ("member", "at", "value", "fragment"),
    [
        (0, 257, b"ustaR\x00", "member 1: magic b'ustaR\\x00', expected b'ustar\\x00'"),
        (1, 263, b"01", "member 2: ustar version b'01', expected b'00'"),
        (2, 263, b"\x00\x00", "member 3: ustar version b'\\x00\\x00'"),
        (1, 156, b"5", "member 2: type b'5' is not a regular file"),
        (1, 156, b"S", "member 2: type 'S' is a GNU sparse file"),
        (2, 345, b"x", "member 3: prefix field is used"),
        (1, 20, b"x", "member 2: name field has bytes after its terminating NUL"),
        (1, 0, b"manifest\xff", "member 2: name b'manifest\\xffjson' is not ASCII"),
        (1, 136, b"\x80", "member 2: mtime is base-256"),
        (3, 100, b"0000 64\x00", "member 4: mode b'0000 64\\x00' is not octal"),
        (2, 108, b"00000000", "member 3: uid b'00000000' is not octal digits ended by NUL"),
    ],
)
def test_header_field_violations(
    sample: Sample, tmp_path: Path, member: int, at: int, value: bytes, fragment: str
) -> None:
    _refused(_patch(sample, tmp_path, member, at, value), "is not a Lucid bundle", fragment)


def test_base256_size_refused(sample: Sample, tmp_path: Path) -> None:
    size = dict(read_members(sample.path))["manifest.json"]
    out = _patch(sample, tmp_path, 1, 124, b"\x80" + size.__len__().to_bytes(11, "big"))
    with tarfile.open(out) as tar:  # a lenient reader takes the GNU number
        assert tar.getmember("manifest.json").size == len(size)
    _refused(out, "member 2: 'manifest.json': size is base-256 (a GNU extension)")


def test_bad_checksum_refused(sample: Sample, tmp_path: Path) -> None:
    raw = bytearray(sample.path.read_bytes())
    third = _header_offsets(sample.path)[2]
    raw[third + 140] ^= 0x01  # one mtime digit, checksum left as it was
    out = tmp_path / "checksum.lucid"
    out.write_bytes(bytes(raw))
    _refused(out, "member 3: header checksum is wrong")
    # A checksum stored as the *signed* byte sum (tarfile accepts both) is wrong too.
    raw[third + 140] ^= 0x01
    block = bytearray(raw[third : third + 512])
    block[0:1] = b"\xe1"  # a byte >= 128 makes signed and unsigned sums differ
    block[148:156] = b" " * 8
    signed = sum(b - 256 if b > 127 else b for b in block)
    block[148:156] = b"%06o\x00 " % signed
    raw[third : third + 512] = block
    out.write_bytes(bytes(raw))
    _refused(out, "member 3: header checksum is wrong")


def test_typeflag_nul_is_a_regular_file(sample: Sample, tmp_path: Path) -> None:
    out = _patch(sample, tmp_path, 3, 156, b"\x00")
    assert verify_bundle(out).chunk_count == len(sample.manifest.chunks)


def _end(path: Path) -> int:
    with tarfile.open(path) as tar:
        last = tar.getmembers()[-1]
    return last.offset_data + -(-last.size // 512) * 512


def test_trailer_rule(sample: Sample, tmp_path: Path) -> None:
    raw = sample.path.read_bytes()
    end = _end(sample.path)
    record_end = -(-(end + 1024) // 10240) * 10240
    assert len(raw) == record_end  # what the writer produces
    out = tmp_path / "trailer.lucid"
    for length in range(end + 1024, record_end + 1, 512):  # every allowed length opens
        out.write_bytes(raw[:length])
        open_bundle(out).close()
    out.write_bytes(raw + bytes(512))  # one zero block past the record
    _refused(out, f"only zero blocks up to byte {record_end}")
    out.write_bytes(raw + bytes(10240))  # a whole extra zero record (was accepted: <= 1 MiB)
    _refused(out, "after the end-of-archive marker")
    out.write_bytes(raw[: end + 1024] + bytes(100))  # a partial block
    _refused(out, "after the end-of-archive marker")
    hidden = bytearray(raw)
    hidden[end + 1100] = 0x41  # inside the padding, length unchanged
    out.write_bytes(bytes(hidden))
    _refused(out, f"non-zero data after the end-of-archive marker at byte {end}")
    hidden = bytearray(raw)
    hidden[end + 600] = 0x41  # inside the second end-of-archive block
    out.write_bytes(bytes(hidden))
    _refused(out, "non-zero data after the end-of-archive marker")


def test_every_record_alignment_the_writer_makes_opens(sample: Sample, tmp_path: Path) -> None:
    # tarfile pads to 10240 after the marker: 2 to 21 zero blocks, all within the rule.
    members = read_members(sample.path)
    out = tmp_path / "aligned.lucid"
    trailers = set()
    for blocks in range(20):
        padded = [*members[:3], ("approvals/pad", bytes(512 * blocks)), *members[3:]]
        write_members(out, padded)
        trailers.add(out.stat().st_size - _end(out))
        with open_bundle(out) as bundle:
            assert bundle.reserved_members == ("approvals/pad",)
    assert min(trailers) == 1024 and max(trailers) == 1024 + 19 * 512


def test_cli_exit_code_2_names_the_member(sample: Sample, tmp_path: Path) -> None:
    out = _patch(sample, tmp_path, 1, 263, b" \x00")
    run = subprocess.run([*LUCID, "verify", str(out)], capture_output=True, text=True)
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1
    assert "member 2: ustar version b' \\x00', expected b'00'" in run.stderr


def test_gnu_tar_ustar_output_opens(sample: Sample, tmp_path: Path) -> None:
    # The rule is POSIX ustar, not "what Python writes": GNU tar's ustar output verifies.
    tree = tmp_path / "tree"
    with tarfile.open(sample.path) as tar:
        names = tar.getnames()
        tar.extractall(tree, filter="data")
    out = tmp_path / "gnutar.lucid"
    subprocess.run(
        ["tar", "--format=ustar", "-cf", str(out), "-C", str(tree), "--no-recursion", *names],
        check=True,
    )
    assert out.read_bytes()[257:265] == b"ustar\x0000"
    assert verify_bundle(out).chunk_count == len(sample.manifest.chunks)
