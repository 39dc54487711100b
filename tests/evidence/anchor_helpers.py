"""Build a session's anchor proof as chain-client would, for the offline tests."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import nacl.signing

from lucid.evidence.anchor import AnchorProof, anchor_leaf, batch_path, batch_root, binding_message
from lucid.evidence.writer import write_bundle
from tests.evidence.helpers import Sample

DEVICE = "0x" + "5a" * 20
CONTRACT = "0x" + "c0" * 20


def anchor_for(sample: Sample, *, index: int = 2, size: int = 5) -> AnchorProof:
    """The proof of `sample` as leaf `index` of a batch of `size` sessions."""
    manifest = sample.manifest
    members = [(f"other-{i}", bytes([i]) * 32) for i in range(size)]
    members[index] = (manifest.session, manifest.tree_root)
    leaves = [anchor_leaf(s, r) for s, r in members]
    return AnchorProof(
        session=manifest.session,
        session_root=manifest.tree_root,
        leaf_index=index,
        batch_size=size,
        path=tuple(batch_path(index, leaves)),
        batch_root=batch_root(leaves),
        chain_id=31337,
        contract=CONTRACT,
        device=DEVICE,
        binding=sign_binding(sample.device, DEVICE),
        tx_hash="0x" + "7e" * 32,
        block_number=42,
        block_hash="0x" + "b1" * 32,
    )


def sign_binding(key: nacl.signing.SigningKey, device: str) -> bytes:
    return key.sign(binding_message(device)).signature


def bundle_with(sample: Sample, path: Path, anchor: AnchorProof | bytes) -> Path:
    data = anchor if isinstance(anchor, bytes) else anchor.to_bytes()
    write_bundle(path, sample.signed, sample.proofs, sample.store.__getitem__, anchor=data)
    return path


__all__ = ["CONTRACT", "DEVICE", "anchor_for", "bundle_with", "replace", "sign_binding"]
