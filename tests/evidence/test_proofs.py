"""proofs.json: build, round trip, strict parsing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lucid.evidence import FormatError, Proofs, canonical_json, verify_inclusion
from tests.evidence.helpers import Sample


def test_build_and_round_trip(sample: Sample) -> None:
    p = sample.proofs
    assert p.tree_size == 7 and p.root == sample.manifest.tree_root
    for c, lp in zip(sample.manifest.chunks, p.proofs, strict=True):
        assert lp.hash == c.hash
        assert verify_inclusion(c.hash, lp.leaf, p.tree_size, lp.path, p.root)
    assert Proofs.from_bytes(p.to_bytes()) == p
    assert p.to_dict()["format"] == "lucid.proofs"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(tree_size=8), "proofs: 7 proofs for a tree of 8 leaves"),
        (lambda d: d["proofs"][2].update(leaf=3), r"proofs\[2\].leaf: expected 2"),
        (lambda d: d["proofs"][2]["path"].append("00"), r"proofs\[2\].path\[3\]: expected 64"),
        (lambda d: d["proofs"][2].update(path=["00" * 32] * 65), r"proofs\[2\].path: longer"),
        (lambda d: d.update(format="lucid.proof"), "format: 'lucid.proof' is not one of"),
        (lambda d: d.update(version=2), "version: unsupported version 2"),
        (lambda d: d.update(root="00"), "root: expected 64"),
        (lambda d: d.pop("proofs"), "proofs: missing"),
    ],
)
def test_strict_parsing(
    sample: Sample, edit: Callable[[dict[str, Any]], object], message: str
) -> None:
    doc = sample.proofs.to_dict()
    edit(doc)
    with pytest.raises(FormatError, match=rf"^proofs.json: {message}"):
        Proofs.from_bytes(canonical_json(doc))
