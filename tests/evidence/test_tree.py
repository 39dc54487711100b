"""The BLAKE3 Merkle tree against hand-built trees and a literal reading of RFC 9162."""

from __future__ import annotations

import blake3
import pytest

from lucid.evidence.tree import (
    all_proofs,
    empty_root,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_inclusion,
)


def H(data: bytes) -> bytes:
    return blake3.blake3(data).digest()


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"leaf {i}".encode()) for i in range(n)]


def ref_mth(hs: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, written with list slices exactly as the RFC does."""
    n = len(hs)
    if n == 0:
        return H(b"")
    if n == 1:
        return hs[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return H(b"\x01" + ref_mth(hs[:k]) + ref_mth(hs[k:]))


def ref_path(m: int, hs: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n])."""
    n = len(hs)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*ref_path(m, hs[:k]), ref_mth(hs[k:])]
    return [*ref_path(m - k, hs[k:]), ref_mth(hs[:k])]


def test_hash_prefixes() -> None:
    assert leaf_hash(b"abc") == H(b"\x00abc")
    a, b = H(b"a"), H(b"b")
    assert node_hash(a, b) == H(b"\x01" + a + b)
    assert node_hash(a, b) != node_hash(b, a)


def test_empty_tree_is_hash_of_nothing() -> None:
    assert root([]) == empty_root() == H(b"")
    assert root([]).hex() == "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    assert all_proofs([]) == (H(b""), [])


def test_small_trees_by_hand() -> None:
    l0, l1, l2, l3, l4, l5, l6 = leaves(7)
    n = node_hash
    assert root([l0]) == l0
    assert root([l0, l1]) == n(l0, l1)
    assert root([l0, l1, l2]) == n(n(l0, l1), l2)
    four = n(n(l0, l1), n(l2, l3))
    assert root([l0, l1, l2, l3]) == four
    assert root([l0, l1, l2, l3, l4]) == n(four, l4)
    assert root([l0, l1, l2, l3, l4, l5]) == n(four, n(l4, l5))
    assert root([l0, l1, l2, l3, l4, l5, l6]) == n(four, n(n(l4, l5), l6))


def test_rfc9162_shapes_of_proofs() -> None:
    l0, l1, l2, l3, l4 = leaves(5)
    n = node_hash
    # size 3: leaf 2 sits alone on the right of a 2-leaf subtree
    assert inclusion_proof(2, [l0, l1, l2]) == [n(l0, l1)]
    assert inclusion_proof(0, [l0, l1, l2]) == [l1, l2]
    assert inclusion_proof(1, [l0, l1, l2]) == [l0, l2]
    # size 5: left subtree of 4, then the lone leaf 4
    hs = [l0, l1, l2, l3, l4]
    assert inclusion_proof(4, hs) == [n(n(l0, l1), n(l2, l3))]
    assert inclusion_proof(0, hs) == [l1, n(l2, l3), l4]
    assert inclusion_proof(3, hs) == [l2, n(l0, l1), l4]
    assert inclusion_proof(0, [l0]) == []


@pytest.mark.parametrize("size", range(18))
def test_against_reference_every_index(size: int) -> None:
    hs = leaves(size)
    assert root(hs) == ref_mth(hs)
    proof_root, proofs = all_proofs(hs)
    assert proof_root == root(hs)
    for i in range(size):
        path = inclusion_proof(i, hs)
        assert path == ref_path(i, hs) == proofs[i]
        assert verify_inclusion(hs[i], i, size, path, root(hs))


@pytest.mark.parametrize("size", range(1, 18))
def test_tampered_proofs_fail(size: int) -> None:
    hs = leaves(size)
    top = root(hs)
    for i in range(size):
        path = inclusion_proof(i, hs)
        assert not verify_inclusion(hs[i], i, size, path, leaf_hash(b"other root"))
        assert not verify_inclusion(leaf_hash(b"intruder"), i, size, path, top)
        assert not verify_inclusion(hs[i], size, size, path, top)
        assert not verify_inclusion(hs[i], -1, size, path, top)
        for j in range(size):
            if j != i:
                assert not verify_inclusion(hs[i], j, size, path, top)
        for k in range(len(path)):
            bad = list(path)
            bad[k] = bytes([bad[k][0] ^ 1]) + bad[k][1:]
            assert not verify_inclusion(hs[i], i, size, bad, top)
            assert not verify_inclusion(hs[i], i, size, path[:k], top)
        assert not verify_inclusion(hs[i], i, size, [*path, hs[0]], top)
        if path:
            assert not verify_inclusion(hs[i], i, size, [p[:31] for p in path], top)


def test_inclusion_proof_rejects_bad_index() -> None:
    with pytest.raises(ValueError):
        inclusion_proof(3, leaves(3))
    with pytest.raises(ValueError):
        inclusion_proof(0, [])
    assert not verify_inclusion(leaf_hash(b""), 0, 0, [], empty_root())


def test_large_tree_proofs_match() -> None:
    hs = leaves(1000)
    top, proofs = all_proofs(hs)
    assert top == ref_mth(hs)
    for i in (0, 1, 511, 512, 767, 998, 999):
        assert proofs[i] == inclusion_proof(i, hs)
        assert verify_inclusion(hs[i], i, 1000, proofs[i], top)
