"""BLAKE3 Merkle tree with the shape and proof algorithms of RFC 9162 (CT v2).

Hashing (HASH = BLAKE3 with 32-byte output)::

    leaf_hash(d)    = HASH(0x00 || d)
    node_hash(l, r) = HASH(0x01 || l || r)
    MTH({})         = HASH("")
    MTH({d0})       = leaf_hash(d0)
    MTH(D[n])       = node_hash(MTH(D[0:k]), MTH(D[k:n]))   k = largest power of 2 < n

In Lucid the leaf data ``d`` is a sealed (encrypted) chunk, so `leaf_hash` of a
chunk is also its content address in the chunk store. Every function here takes
*leaf hashes*, never leaf data.

This module does not do consistency proofs (RFC 9162 §2.1.4), does not know the
manifest, and does no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

import blake3

__all__ = [
    "HASH_SIZE",
    "all_proofs",
    "empty_root",
    "inclusion_proof",
    "leaf_hash",
    "leaf_hasher",
    "node_hash",
    "root",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Bytes in every hash of the tree."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hasher() -> blake3.blake3:
    """A BLAKE3 hasher already fed the leaf prefix: ``update`` it with a leaf's data in
    pieces, and ``digest()`` equals `leaf_hash` of the whole (for data too large to hold)."""
    return blake3.blake3(_LEAF_PREFIX)


def leaf_hash(data: bytes) -> bytes:
    """Hash leaf data: ``BLAKE3(0x00 || data)``.

    Args:
        data: The leaf data (a sealed chunk).

    Returns:
        The 32-byte leaf hash.
    """
    hasher = blake3.blake3(_LEAF_PREFIX)
    hasher.update(data)
    return hasher.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash an interior node: ``BLAKE3(0x01 || left || right)``.

    Args:
        left: Hash of the left subtree.
        right: Hash of the right subtree.

    Returns:
        The 32-byte node hash.
    """
    return blake3.blake3(_NODE_PREFIX + left + right).digest()


def empty_root() -> bytes:
    """The root of the empty tree: ``BLAKE3("")``.

    Returns:
        32 bytes (af1349b9...).
    """
    return blake3.blake3(b"").digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than `n` (requires n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _subtree_root(hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    if hi - lo == 1:
        return hashes[lo]
    mid = lo + _split(hi - lo)
    return node_hash(_subtree_root(hashes, lo, mid), _subtree_root(hashes, mid, hi))


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Compute the Merkle tree head MTH over the given leaf hashes.

    Args:
        leaf_hashes: The leaf hashes, in leaf order.

    Returns:
        The 32-byte root; `empty_root()` for no leaves.
    """
    if not leaf_hashes:
        return empty_root()
    return _subtree_root(leaf_hashes, 0, len(leaf_hashes))


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Compute PATH(index, D[n]) of RFC 9162 §2.1.3.1, ordered from the leaf upwards.

    Args:
        index: The leaf whose inclusion to prove.
        leaf_hashes: All leaf hashes of the tree, in order.

    Raises:
        ValueError: `index` is not a leaf of the tree.

    Returns:
        The sibling hashes from the bottom of the tree to the top (empty for a
        one-leaf tree).
    """
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise ValueError(f"leaf {index} is not in a tree of size {n}")
    path: list[bytes] = []
    lo, hi = 0, n
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            path.append(_subtree_root(leaf_hashes, mid, hi))
            hi = mid
        else:
            path.append(_subtree_root(leaf_hashes, lo, mid))
            lo = mid
    path.reverse()
    return path


def _proofs(hashes: Sequence[bytes], lo: int, hi: int, out: list[list[bytes]]) -> bytes:
    """Fill out[lo:hi] with bottom-up paths within [lo, hi) and return its root."""
    if hi - lo == 1:
        return hashes[lo]
    mid = lo + _split(hi - lo)
    left = _proofs(hashes, lo, mid, out)
    right = _proofs(hashes, mid, hi, out)
    for i in range(lo, mid):
        out[i].append(right)
    for i in range(mid, hi):
        out[i].append(left)
    return node_hash(left, right)


def all_proofs(leaf_hashes: Sequence[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """Compute the root and every leaf's inclusion proof in O(n log n) total.

    Args:
        leaf_hashes: All leaf hashes of the tree, in order.

    Returns:
        ``(root, proofs)`` where ``proofs[i] == inclusion_proof(i, leaf_hashes)``.
    """
    if not leaf_hashes:
        return empty_root(), []
    out: list[list[bytes]] = [[] for _ in leaf_hashes]
    return _proofs(leaf_hashes, 0, len(leaf_hashes), out), out


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check an inclusion proof with the algorithm of RFC 9162 §2.1.3.2.

    Args:
        leaf: The leaf *hash* (``leaf_hash(data)``), not the data.
        index: The leaf's position, from 0.
        tree_size: Number of leaves in the tree.
        proof: The sibling hashes, bottom-up, as from `inclusion_proof`.
        root: The expected tree root.

    Returns:
        True if and only if the proof shows `leaf` at `index` in a tree of
        `tree_size` leaves whose root is `root`.
    """
    if not 0 <= index < tree_size:
        return False
    if any(len(p) != HASH_SIZE for p in proof):
        return False
    fn, sn = index, tree_size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root
