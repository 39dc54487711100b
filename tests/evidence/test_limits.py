"""Hostile bundles against the library: sizes and counts above the format's limits are
refused, cheaply.

Each attack is a bundle from ``limits_helpers`` claiming or holding more than
docs/evidence.md §9.1 allows; memory is measured with tracemalloc. The same attacks through
the real `lucid` command are in ``test_limits_cli.py``.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from lucid.evidence import (
    DecryptionError,
    FormatError,
    Manifest,
    Proofs,
    SignedManifest,
    canonical_json,
    decrypt_stream,
    open_bundle,
    verify_bundle,
)
from lucid.evidence.limits import (
    MAX_CHUNK_SIZE,
    MAX_CHUNKS,
    MAX_MEMBERS,
    MAX_PLAIN_SIZE,
    MAX_PROOFS_SIZE,
    MAX_RECIPIENTS,
    MAX_STREAMS,
)
from tests.evidence.helpers import Sample, make_sample
from tests.evidence.limits_helpers import (
    GiB,
    MiB,
    fixed_members,
    sealed_entry,
    signed_bundle,
    write_tar,
    zstd_bomb,
)


def peak_bytes(work: Callable[[], object], raises: type[Exception] | None = None) -> int:
    """Peak Python allocations while `work` runs; it must raise `raises` if given."""
    tracemalloc.start()
    try:
        if raises is None:
            work()
        else:
            with pytest.raises(raises):
                work()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


# --- the manifest ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "plain_size",
            4 * GiB,
            f"manifest.chunks[0].plain_size: {4 * GiB} bytes, more than the format's "
            f"{MAX_PLAIN_SIZE} per chunk",
        ),
        (
            "size",
            GiB,
            f"manifest.chunks[0].size: {GiB} bytes, more than the format's {MAX_CHUNK_SIZE}",
        ),
    ],
)
def test_manifest_refuses_chunk_sizes_above_the_limits(
    sample: Sample, field: str, value: int, message: str
) -> None:
    doc = sample.manifest.to_dict()
    doc["chunks"][0][field] = value
    with pytest.raises(FormatError) as err:
        Manifest.from_dict(doc)
    assert message in str(err.value)


def test_manifest_accepts_sizes_at_the_limits(sample: Sample) -> None:
    doc = sample.manifest.to_dict()
    doc["chunks"][0]["plain_size"] = MAX_PLAIN_SIZE  # a zstd chunk
    doc["chunks"][0]["size"] = MAX_CHUNK_SIZE
    assert Manifest.from_dict(doc).chunks[0].plain_size == MAX_PLAIN_SIZE


def test_stored_chunk_plain_size_must_match_its_size(sample: Sample) -> None:
    doc = sample.manifest.to_dict()
    stored = next(i for i, c in enumerate(doc["chunks"]) if c["compression"] == "none")
    doc["chunks"][stored]["plain_size"] += 1
    with pytest.raises(FormatError, match=rf"chunks\[{stored}\].plain_size: .* uncompressed"):
        Manifest.from_dict(doc)


@pytest.mark.parametrize(
    ("member", "limit"),
    [("chunks", MAX_CHUNKS), ("streams", MAX_STREAMS), ("recipients", MAX_RECIPIENTS)],
)
def test_manifest_refuses_counts_above_the_limits(sample: Sample, member: str, limit: int) -> None:
    doc = sample.manifest.to_dict()
    doc[member] = [doc[member][0]] * (limit + 1)
    with pytest.raises(FormatError) as err:
        Manifest.from_dict(doc)
    assert f"manifest.{member}: {limit + 1} entries, more than the format's {limit}" in str(
        err.value
    )


def test_a_manifest_of_tiny_values_is_refused_before_parsing() -> None:
    # 15 MiB of "{}," parses into ~5 million dicts (over 400 MiB) with a plain json.loads.
    count = 15 * MiB // 3
    data = b'{"manifest":[' + b"{}," * count + b'{}],"signature":{}}'
    with pytest.raises(FormatError, match=r"^manifest.json: \d+ JSON containers"):
        SignedManifest.from_bytes(data)
    peak = peak_bytes(lambda: SignedManifest.from_bytes(data), FormatError)
    assert peak < 4 * MiB, peak


def test_proofs_of_tiny_values_are_refused_before_parsing() -> None:
    count = (MAX_PROOFS_SIZE - 1024) // 3
    data = b'{"proofs":[' + b"{}," * count + b"{}]}"
    peak = peak_bytes(lambda: Proofs.from_bytes(data), FormatError)
    assert peak < 4 * MiB, peak
    with pytest.raises(FormatError, match=r"proofs.json: \d+ JSON containers"):
        Proofs.from_bytes(data)


def test_proofs_tree_size_above_the_limit() -> None:
    doc = {"format": "lucid.proofs", "version": 1, "tree_size": MAX_CHUNKS + 1}
    doc |= {"root": "00" * 32, "proofs": []}
    with pytest.raises(FormatError, match=rf"tree_size: {MAX_CHUNKS + 1} leaves, more than"):
        Proofs.from_bytes(canonical_json(doc))


# --- the archive ----------------------------------------------------------------------


def test_a_one_gib_chunk_member_is_refused_unread(sample: Sample, tmp_path: Path) -> None:
    digest = "ab" * 32
    members = [(n, d) for n, d in fixed_members(sample)] + [(f"chunks/{digest}", GiB)]
    path = tmp_path / "huge.lucid"
    write_tar(path, members)
    assert path.stat().st_blocks * 512 < 16 * MiB  # the test itself stays cheap
    with pytest.raises(FormatError) as err:
        open_bundle(path)
    assert f"member 'chunks/{digest}' is {GiB} bytes, larger than the format's" in str(err.value)
    peak = peak_bytes(lambda: open_bundle(path), FormatError)
    assert peak < 4 * MiB, peak


def test_too_many_members_are_refused(sample: Sample, tmp_path: Path) -> None:
    extra = [(f"chunks/{i:064x}", b"") for i in range(MAX_MEMBERS)]
    path = tmp_path / "many.lucid"
    write_tar(path, [*fixed_members(sample), *extra])
    with pytest.raises(FormatError, match=rf"more than {MAX_MEMBERS} members"):
        open_bundle(path)


def test_an_oversized_anchor_is_refused(sample: Sample, tmp_path: Path) -> None:
    path = tmp_path / "anchor.lucid"
    write_tar(path, [*fixed_members(sample), ("anchor.json", 65 * 1024)])
    with pytest.raises(FormatError, match=r"member 'anchor.json' is 66560 bytes, larger"):
        open_bundle(path)


# --- verify and decrypt within the limits: bounded memory -----------------------------


def test_verify_hashes_chunks_without_holding_them(tmp_path: Path) -> None:
    # A stored (uncompressed) audit chunk at the limit: 16 MiB + 40 sealed bytes.
    sample = make_sample(tmp_path, {"video.0": [1000], "audit": [MAX_PLAIN_SIZE]})
    sizes = [c.size for c in sample.manifest.chunks]
    assert MAX_CHUNK_SIZE in sizes
    peak = peak_bytes(lambda: verify_bundle(sample.path))
    assert peak < 4 * MiB, peak  # reading the chunk whole would take 16 MiB


def test_decrypt_holds_one_chunk_at_a_time(tmp_path: Path) -> None:
    sample = make_sample(tmp_path, {"video.0": [1000], "audit": [MAX_PLAIN_SIZE] * 4})
    with open_bundle(sample.path) as bundle:
        got = 0

        def drain() -> None:
            nonlocal got
            for piece in decrypt_stream(bundle, sample.recipient, "audit"):
                got += len(piece)

        peak = peak_bytes(drain)
    assert got == 4 * MAX_PLAIN_SIZE
    # sealed, its ciphertext slice and the plaintext (libsodium's own buffer is not
    # traced), once: not the stream (48 MiB here) nor the chunks before this one.
    assert peak < 3 * MAX_CHUNK_SIZE + 4 * MiB, peak


def test_a_zstd_bomb_within_the_plain_size_limit_is_cut_off(sample: Sample, tmp_path: Path) -> None:
    bomb = zstd_bomb(GiB)  # its frame says 1 GiB; the manifest says 16 MiB
    assert len(bomb) < 256 * 1024
    entry = sealed_entry(sample, 0, bomb, MAX_PLAIN_SIZE, "zstd")
    path = signed_bundle(sample, tmp_path / "bomb.lucid", [entry])
    with open_bundle(path) as bundle:

        def drain() -> None:
            for _ in decrypt_stream(bundle, sample.recipient, "video.0"):
                pass

        with pytest.raises(DecryptionError) as err:
            drain()
        peak = peak_bytes(drain, DecryptionError)
    assert err.value.item == "chunk video.0#0"
    assert f"decompresses to more than its {MAX_PLAIN_SIZE} plaintext bytes" in str(err.value)
    assert peak < MAX_PLAIN_SIZE + 4 * MiB, peak
