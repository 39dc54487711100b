"""docs/evidence.md's worked examples are what the code computes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nacl.bindings
import nacl.signing

from lucid.evidence import (
    SignedManifest,
    build_proofs,
    canonical_json,
    chunk_ad,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "evidence.md"


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


def test_three_leaf_example() -> None:
    text = _text()
    l0, l1, l2 = (leaf_hash(x) for x in (b"a", b"b", b"c"))
    n01 = node_hash(l0, l1)
    top = root([l0, l1, l2])
    for value in (l0, l1, l2, n01, top):
        assert value.hex() in text
    assert top == node_hash(n01, l2)
    assert inclusion_proof(2, [l0, l1, l2]) == [n01]


def test_chunk_ad_example() -> None:
    spaced = "6c756369642e6368756e6b2e763100 733100 766964656f2e3000 0000000000000003"
    assert spaced in _text()
    assert chunk_ad("s1", "video.0", 3).hex() == spaced.replace(" ", "")


def test_signed_manifest_example() -> None:
    text = _text()
    block = text.split("<!-- example: signed-manifest")[1].split("```json\n")[1].split("```")[0]
    signed = SignedManifest.from_bytes(canonical_json(json.loads(block)))
    signed.verify_signature()
    device = nacl.signing.SigningKey(b"\x01" * 32)
    assert signed.public_key == bytes(device.verify_key)
    recipient = signed.manifest.recipients[0]
    assert recipient.x25519 == nacl.bindings.crypto_scalarmult_base(b"\x02" * 32)
    assert nacl.bindings.crypto_box_seal_open(recipient.sealed_key, recipient.x25519, b"\x02" * 32)
    proofs = re.search(r'\{"format":"lucid\.proofs".*\}', text)
    assert proofs is not None
    assert proofs.group(0).encode() == build_proofs(signed.manifest).to_bytes()
