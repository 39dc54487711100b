"""verify_bundle: a good bundle passes; every kind of tampering is caught and named."""

from __future__ import annotations

import json
import os
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lucid.evidence import (
    FormatError,
    Manifest,
    SignedManifest,
    VerificationError,
    canonical_json,
    leaf_hash,
    verify_bundle,
)
from tests.evidence.helpers import Sample, read_members, write_members


def _fails(path: Path, item: str, **kwargs: Any) -> str:
    with pytest.raises(VerificationError) as err:
        verify_bundle(path, **kwargs)
    assert err.value.item == item, str(err.value)
    assert "\n" not in str(err.value)
    return str(err.value)


def _rebuild(tmp_path: Path, members: list[tuple[str, bytes]]) -> Path:
    out = tmp_path / "tampered.lucid"
    write_members(out, members)
    return out


def _replace(members: list[tuple[str, bytes]], name: str, data: bytes) -> list[tuple[str, bytes]]:
    return [(n, data if n == name else d) for n, d in members]


def test_good_bundle(sample: Sample) -> None:
    seen: list[int] = []
    report = verify_bundle(sample.path, seen.append)
    m = sample.manifest
    assert report.session == m.session
    assert report.chunk_count == 7
    assert report.total_bytes == m.total_size == seen[-1]
    assert report.tree_root == m.tree_root
    assert report.device_ed25519 == bytes(sample.device.verify_key)
    assert report.complete is True and report.unverified_members == ()
    assert verify_bundle(sample.path, device_key=bytes(sample.device.verify_key)) == report


def test_incomplete_and_empty_sessions_verify(sample_factory: Callable[..., Sample]) -> None:
    assert verify_bundle(sample_factory(complete=False).path).complete is False
    report = verify_bundle(sample_factory({"video.0": []}, name="empty").path)
    assert report.chunk_count == 0


def test_pinned_device_key(sample: Sample) -> None:
    _fails(sample.path, "manifest.device", device_key=b"\x01" * 32)


def test_flip_one_byte_in_every_chunk(sample: Sample, tmp_path: Path) -> None:
    raw = sample.path.read_bytes()
    with tarfile.open(sample.path) as tar:
        offsets = {m.name: (m.offset_data, m.size) for m in tar.getmembers()}
    bad = tmp_path / "flipped.lucid"
    for c in sample.manifest.chunks:
        start, size = offsets[f"chunks/{c.hash_hex}"]
        for where in (start, start + size // 2, start + size - 1):
            data = bytearray(raw)
            data[where] ^= 0x01
            bad.write_bytes(bytes(data))
            message = _fails(bad, c.item)
            assert "does not match its hash" in message


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m.update(complete=False),
        lambda m: m.update(ended_at="2026-11-22T03:57:30.123Z"),
        lambda m: m.update(policy=None),
        lambda m: m["encoder"]["settings"].update(crf="0"),
        lambda m: m["recipients"].pop(0),
        lambda m: m["streams"][2].update(media_type="text/plain"),
    ],
)
def test_changed_manifest_field_keeps_old_signature(
    sample: Sample, tmp_path: Path, edit: Callable[[dict[str, Any]], object]
) -> None:
    doc = sample.signed.to_dict()
    edit(doc["manifest"])
    members = _replace(read_members(sample.path), "manifest.json", canonical_json(doc))
    _fails(_rebuild(tmp_path, members), "manifest.signature")


def test_swapped_chunk_order_in_manifest(sample: Sample, tmp_path: Path) -> None:
    doc = sample.signed.to_dict()
    chunks = doc["manifest"]["chunks"]
    chunks[0]["hash"], chunks[1]["hash"] = chunks[1]["hash"], chunks[0]["hash"]
    bad = _rebuild(
        tmp_path, _replace(read_members(sample.path), "manifest.json", canonical_json(doc))
    )
    _fails(bad, "manifest.signature")


def test_removed_chunk(sample: Sample, tmp_path: Path) -> None:
    victim = sample.manifest.chunks[3]
    members = [m for m in read_members(sample.path) if m[0] != f"chunks/{victim.hash_hex}"]
    assert "is missing" in _fails(_rebuild(tmp_path, members), "chunk video.1#0")


def test_swapped_chunk_contents(sample: Sample, tmp_path: Path) -> None:
    a, b = sample.manifest.chunks[1], sample.manifest.chunks[5]
    members = read_members(sample.path)
    data = dict(members)
    swapped = [
        (n, data[f"chunks/{b.hash_hex}"] if n == f"chunks/{a.hash_hex}" else
            data[f"chunks/{a.hash_hex}"] if n == f"chunks/{b.hash_hex}" else d)
        for n, d in members
    ]  # fmt: skip
    _fails(_rebuild(tmp_path, swapped), "chunk video.0#1")


def test_member_order_does_not_matter_for_chunks(sample: Sample, tmp_path: Path) -> None:
    members = read_members(sample.path)
    verify_bundle(_rebuild(tmp_path, members[:3] + members[3:][::-1]))


def test_same_size_chunk_substituted(sample: Sample, tmp_path: Path) -> None:
    victim = sample.manifest.chunks[6]
    name = f"chunks/{victim.hash_hex}"
    members = _replace(read_members(sample.path), name, os.urandom(victim.size))
    _fails(_rebuild(tmp_path, members), "chunk audit#1")
    members = _replace(read_members(sample.path), name, sample.store[victim.hash_hex] + b"x")
    assert "manifest says" in _fails(_rebuild(tmp_path, members), "chunk audit#1")


def test_unlisted_chunk(sample: Sample, tmp_path: Path) -> None:
    stowaway = os.urandom(100)
    name = f"chunks/{leaf_hash(stowaway).hex()}"
    bad = _rebuild(tmp_path, [*read_members(sample.path), (name, stowaway)])
    _fails(bad, f"member {name}")


def _resign(sample: Sample, edit: Callable[[dict[str, Any]], None]) -> bytes:
    doc = sample.manifest.to_dict()
    edit(doc)
    manifest = Manifest.from_dict(doc)
    signed = SignedManifest.sign(manifest, lambda m: sample.device.sign(m).signature)
    return signed.to_bytes()


def test_wrong_tree_root_signed_by_device(sample: Sample, tmp_path: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["tree"]["root"] = "00" * 32

    members = _replace(read_members(sample.path), "manifest.json", _resign(sample, edit))
    _fails(_rebuild(tmp_path, members), "tree.root")


def test_proofs_tampered(sample: Sample, tmp_path: Path) -> None:
    members = read_members(sample.path)
    doc = json.loads(dict(members)["proofs.json"])
    path = doc["proofs"][4]["path"]
    path[0] = ("0" if path[0][0] != "0" else "1") + path[0][1:]
    bad = _rebuild(tmp_path, _replace(members, "proofs.json", canonical_json(doc)))
    _fails(bad, "proof video.1#1")

    doc = json.loads(dict(members)["proofs.json"])
    doc["proofs"][2]["hash"] = doc["proofs"][3]["hash"]
    bad = _rebuild(tmp_path, _replace(members, "proofs.json", canonical_json(doc)))
    _fails(bad, "proof video.0#2")

    doc = json.loads(dict(members)["proofs.json"])
    doc["root"] = "11" * 32
    bad = _rebuild(tmp_path, _replace(members, "proofs.json", canonical_json(doc)))
    _fails(bad, "proofs.root")

    bad = _rebuild(tmp_path, _replace(members, "proofs.json", b"[]"))
    with pytest.raises(FormatError, match=r"proofs.json: expected a JSON object"):
        verify_bundle(bad)


def test_checks_run_in_documented_order(sample: Sample, tmp_path: Path) -> None:
    # A bad signature is reported before a bad chunk, a bad chunk before bad proofs.
    members = read_members(sample.path)
    first = sample.manifest.chunks[0]
    members = _replace(members, f"chunks/{first.hash_hex}", b"\x00" * first.size)
    members = _replace(members, "proofs.json", canonical_json({"junk": 1}))
    _fails(_rebuild(tmp_path, members), "chunk video.0#0")
    doc = sample.signed.to_dict()
    doc["manifest"]["complete"] = False
    members = _replace(members, "manifest.json", canonical_json(doc))
    _fails(_rebuild(tmp_path, members), "manifest.signature")


def test_not_a_bundle(tmp_path: Path) -> None:
    path = tmp_path / "x.lucid"
    path.write_bytes(os.urandom(2048))
    with pytest.raises(FormatError, match=r"is not a Lucid bundle"):
        verify_bundle(path)
    with pytest.raises(FileNotFoundError):
        verify_bundle(tmp_path / "missing.lucid")
