"""Inclusion proofs for every chunk of a session (format ``lucid.proofs`` version 1).

Wire form (``proofs.json`` in a bundle; RFC 8785 canonical bytes)::

    {"format": "lucid.proofs", "version": 1, "tree_size": n, "root": hex32,
     "proofs": [{"leaf": i, "hash": hex32, "path": [hex32, ...]}, ...]}

``proofs[i]`` proves ``manifest.chunks[i]`` (leaf i); ``path`` is RFC 9162 PATH,
bottom-up. The proofs let a chunk be checked against the signed root without
the other chunks (e.g. after the bundle has been split up).

This module does not check proofs against a manifest (see `verify`); parsing is
structural only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lucid.evidence import _fields as f
from lucid.evidence.canonical import canonical_json, parse_json
from lucid.evidence.errors import FormatError
from lucid.evidence.limits import MAX_CHUNKS, MAX_PROOFS_SIZE, MAX_PROOFS_TOKENS
from lucid.evidence.manifest import Manifest
from lucid.evidence.tree import all_proofs

__all__ = ["LeafProof", "Proofs", "build_proofs"]

PROOFS_FORMAT = "lucid.proofs"
MAX_PATH = 64
"""No tree this format can describe (< 2**53 leaves) has a longer path."""
_TOP_KEYS = frozenset({"format", "version", "tree_size", "root", "proofs"})
_PROOF_KEYS = frozenset({"leaf", "hash", "path"})


@dataclass(frozen=True)
class LeafProof:
    """The inclusion proof of one leaf."""

    leaf: int
    hash: bytes
    path: tuple[bytes, ...]


@dataclass(frozen=True)
class Proofs:
    """One inclusion proof per leaf, for the tree of `tree_size` leaves with `root`."""

    tree_size: int
    root: bytes
    proofs: tuple[LeafProof, ...]

    @classmethod
    def for_leaves(cls, leaf_hashes: Sequence[bytes]) -> Proofs:
        """Compute the root and all proofs for the given leaf hashes (O(n log n))."""
        root, paths = all_proofs(leaf_hashes)
        return cls(
            tree_size=len(leaf_hashes),
            root=root,
            proofs=tuple(
                LeafProof(leaf=i, hash=h, path=tuple(p))
                for i, (h, p) in enumerate(zip(leaf_hashes, paths, strict=True))
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "format": PROOFS_FORMAT,
            "version": 1,
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "proofs": [
                {"leaf": p.leaf, "hash": p.hash.hex(), "path": [h.hex() for h in p.path]}
                for p in self.proofs
            ],
        }

    def to_bytes(self) -> bytes:
        """The canonical JSON bytes (what a bundle stores as ``proofs.json``)."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_bytes(cls, data: bytes, what: str = "proofs.json") -> Proofs:
        """Parse strictly: canonical JSON, exact schema, ``proofs[i].leaf == i``.

        Args:
            data: The bytes.
            what: File or member name for error messages.

        Raises:
            FormatError: Not canonical JSON, not the schema, or above the format's
                limits (size, tokens, `MAX_CHUNKS` proofs); names `what` and the field.

        Returns:
            The proofs (not yet checked against anything).
        """
        if len(data) > MAX_PROOFS_SIZE:
            raise FormatError(
                f"{what}: {len(data)} bytes, more than the format's {MAX_PROOFS_SIZE}"
            )
        doc = parse_json(data, what, require_canonical=True, max_tokens=MAX_PROOFS_TOKENS)
        try:
            return cls._from_dict(doc)
        except FormatError as err:
            raise FormatError(f"{what}: {err}") from None

    @classmethod
    def _from_dict(cls, doc: Any) -> Proofs:
        d = f.get_obj(doc, "", _TOP_KEYS)
        f.get_str(d["format"], "format", choices=frozenset({PROOFS_FORMAT}))
        if f.get_int(d["version"], "version") != 1:
            raise FormatError(f"version: unsupported version {d['version']}")
        size = f.get_int(d["tree_size"], "tree_size")
        if size > MAX_CHUNKS:
            raise FormatError(f"tree_size: {size} leaves, more than the format's {MAX_CHUNKS}")
        items = f.get_list(d["proofs"], "proofs")
        if len(items) != size:
            raise FormatError(f"proofs: {len(items)} proofs for a tree of {size} leaves")
        proofs = []
        for i, item in enumerate(items):
            p = f.get_obj(item, f"proofs[{i}]", _PROOF_KEYS)
            if f.get_int(p["leaf"], f"proofs[{i}].leaf") != i:
                raise FormatError(f"proofs[{i}].leaf: expected {i}")
            path = f.get_list(p["path"], f"proofs[{i}].path")
            if len(path) > MAX_PATH:
                raise FormatError(f"proofs[{i}].path: longer than {MAX_PATH}")
            proofs.append(
                LeafProof(
                    leaf=i,
                    hash=f.get_hex(p["hash"], f"proofs[{i}].hash", 32),
                    path=tuple(
                        f.get_hex(h, f"proofs[{i}].path[{j}]", 32) for j, h in enumerate(path)
                    ),
                )
            )
        return cls(tree_size=size, root=f.get_hex(d["root"], "root", 32), proofs=tuple(proofs))


def build_proofs(manifest: Manifest) -> Proofs:
    """Compute the proofs for a manifest's chunks (leaf i = ``manifest.chunks[i]``).

    Args:
        manifest: The manifest.

    Returns:
        The proofs; ``.root`` equals ``manifest.tree_root`` if the manifest is sound.
    """
    return Proofs.for_leaves([c.hash for c in manifest.chunks])
