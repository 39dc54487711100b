"""Hashing chunks straight from a bundle (`Bundle.chunk_leaf_hash`, `chunk_leaf_hashes`):
the same leaf hashes as the plain definition, chunk failures reported in leaf order
however far the threads have hashed ahead, and memory bounded by the threads, not the
chunks."""

from __future__ import annotations

import dataclasses
import os
import random
import threading
import tracemalloc
from pathlib import Path

import blake3
import pytest

from lucid.evidence import ChunkEntry, FormatError, VerificationError, verify_bundle
from lucid.evidence.bundle import HASH_WORKERS, open_bundle
from lucid.evidence.limits import READ_BLOCK
from tests.evidence.helpers import Sample, data_offsets
from tests.evidence.limits_helpers import MiB, fixed_members, sealed_entry, signed_bundle, write_tar

# Sizes around the read block (1 MiB) and tar block (512) boundaries, then enough small
# members to fill more than one batch of a hashing task (256 members).
_EDGES = [0, 1, 511, 512, 513, READ_BLOCK - 1, READ_BLOCK, READ_BLOCK + 1]
_EDGES += [2 * READ_BLOCK - 1, 2 * READ_BLOCK + 1, 3 * READ_BLOCK]
_SIZES = _EDGES + [2 + i for i in range(300)]


def _definition(data: bytes) -> bytes:
    """docs/evidence.md: leaf_hash(d) = BLAKE3(0x00 || d), without the library's helpers."""
    return blake3.blake3(b"\x00" + data).digest()


def _bundle_of(sample: Sample, path: Path, blobs: list[bytes]) -> list[str]:
    """A bundle holding each blob as a ``chunks/<its leaf hash>`` member; their names."""
    names = [_definition(blob).hex() for blob in blobs]
    assert len(set(names)) == len(names)
    write_tar(
        path, [*fixed_members(sample), *zip((f"chunks/{n}" for n in names), blobs, strict=True)]
    )
    return names


@pytest.fixture
def blobs() -> list[bytes]:
    rng = random.Random(9)
    return [rng.randbytes(size) for size in _SIZES]


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_leaf_hashes_equal_the_definition_around_block_boundaries(
    sample: Sample, tmp_path: Path, blobs: list[bytes], workers: int
) -> None:
    names = _bundle_of(sample, tmp_path / "edges.lucid", blobs)
    expected = [_definition(blob) for blob in blobs]
    with open_bundle(tmp_path / "edges.lucid") as bundle:
        assert list(bundle.chunk_leaf_hashes(names, workers)) == expected
        assert list(bundle.chunk_leaf_hashes(names[::-1], workers)) == expected[::-1]
        assert [bundle.chunk_leaf_hash(n) for n in names] == expected


@pytest.mark.parametrize("victim", [_SIZES.index(2 * READ_BLOCK + 1), len(_EDGES) + 150])
def test_a_member_cut_short_fails_at_its_turn(
    sample: Sample, tmp_path: Path, blobs: list[bytes], victim: int
) -> None:
    # The file shrinks under an open bundle: every hash before the cut member is yielded
    # (also those hashed by the same task, for small members), then the cut one raises
    # the same error as the one-chunk read.
    path = tmp_path / "cut.lucid"
    names = _bundle_of(sample, path, blobs)
    offset, size = data_offsets(path)[f"chunks/{names[victim]}"]
    with open_bundle(path) as bundle:
        os.truncate(path, offset + min(size // 2, READ_BLOCK + 7))
        hashes = bundle.chunk_leaf_hashes(names, workers=2)
        got = [next(hashes) for _ in range(victim)]
        assert got == [_definition(blob) for blob in blobs[:victim]]
        with pytest.raises(FormatError, match=rf"member 'chunks/{names[victim]}' is truncated"):
            next(hashes)
        with pytest.raises(FormatError, match="is truncated"):
            bundle.chunk_leaf_hash(names[victim])


def test_closing_early_stops_the_threads(
    sample: Sample, tmp_path: Path, blobs: list[bytes]
) -> None:
    names = _bundle_of(sample, tmp_path / "edges.lucid", blobs)
    with open_bundle(tmp_path / "edges.lucid") as bundle:
        hashes = bundle.chunk_leaf_hashes(names, workers=2)
        assert next(hashes) == _definition(blobs[0])
        assert any(t.name.startswith("leaf-hash") for t in threading.enumerate())
        hashes.close()
        assert not any(t.name.startswith("leaf-hash") for t in threading.enumerate())


def test_an_unknown_member_fails_before_any_hashing(sample: Sample) -> None:
    with open_bundle(sample.path) as bundle, pytest.raises(KeyError):
        bundle.chunk_leaf_hashes([sample.manifest.chunks[0].hash_hex, "ab" * 32])


# --- verify_bundle: the first failing chunk in leaf order is the one reported ----------


def _chunks(sample: Sample, count: int, size: int) -> list[tuple[ChunkEntry, bytes]]:
    return [sealed_entry(sample, i, os.urandom(size), size, "none") for i in range(count)]


def _fails(path: Path, item: str, fragment: str) -> None:
    with pytest.raises(VerificationError) as err:
        verify_bundle(path)
    assert err.value.item == item and fragment in str(err.value), str(err.value)


def test_an_altered_chunk_is_reported_before_a_later_missing_one(
    sample: Sample, tmp_path: Path
) -> None:
    entries = _chunks(sample, 8, 4096)
    bad = list(entries)
    bad[2] = (entries[2][0], os.urandom(len(entries[2][1])))  # altered: same size, other bytes
    path = signed_bundle(sample, tmp_path / "b.lucid", bad)
    _fails(path, "chunk video.0#2", "does not match its hash")
    # The same with chunk 5 also missing: chunk 2 still fails first (and chunk 5 is not
    # hashed ahead, as there is nothing to hash).
    members = [(f"chunks/{c.hash_hex}", d) for i, (c, d) in enumerate(bad) if i != 5]
    write_tar(tmp_path / "c.lucid", [*fixed_members(_resigned(sample, path)), *members])
    _fails(tmp_path / "c.lucid", "chunk video.0#2", "does not match its hash")


def test_a_missing_chunk_is_reported_before_a_later_altered_one(
    sample: Sample, tmp_path: Path
) -> None:
    entries = _chunks(sample, 8, 4096)
    path = signed_bundle(sample, tmp_path / "b.lucid", entries)
    altered = [(c, os.urandom(len(d)) if i == 6 else d) for i, (c, d) in enumerate(entries)]
    members = [(f"chunks/{c.hash_hex}", d) for i, (c, d) in enumerate(altered) if i != 3]
    write_tar(tmp_path / "c.lucid", [*fixed_members(_resigned(sample, path)), *members])
    _fails(tmp_path / "c.lucid", "chunk video.0#3", "is missing")
    wrong_size = [(c, d + b"x" if i == 4 else d) for i, (c, d) in enumerate(altered)]
    members = [(f"chunks/{c.hash_hex}", d) for c, d in wrong_size]
    c4 = entries[4][0]
    write_tar(tmp_path / "d.lucid", [*fixed_members(_resigned(sample, path)), *members])
    _fails(
        tmp_path / "d.lucid",
        "chunk video.0#4",
        f"{c4.size + 1} bytes in the bundle, manifest says {c4.size}",
    )


def _resigned(sample: Sample, path: Path) -> Sample:
    """The sample, pointing at `path` (whose fixed members `fixed_members` reads)."""
    return dataclasses.replace(sample, path=path)


def test_verify_memory_is_bounded_by_the_threads_not_the_chunks(
    sample: Sample, tmp_path: Path
) -> None:
    # 6 chunks of 8 MiB: holding one chunk whole would cost more than the bound, which is
    # one READ_BLOCK buffer per hashing thread plus room for the parsed members.
    chunk = 8 * MiB
    path = signed_bundle(sample, tmp_path / "big.lucid", _chunks(sample, 6, chunk))
    bound = (HASH_WORKERS + 2) * READ_BLOCK
    assert bound < chunk
    tracemalloc.start()
    try:
        report = verify_bundle(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.chunk_count == 6
    assert peak < bound, (peak, bound)
