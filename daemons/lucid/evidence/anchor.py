"""The anchor proof of a session (``anchor.json``, format ``lucid.anchor`` version 1).

chain-client anchors many session roots in one transaction: it builds a *batch tree*
over the sessions' roots and calls ``LucidAnchors.anchor(batch_root, count, meta)`` on an
EVM chain. A session's anchor proof says where its root sits in that tree and which
transaction and block carry the tree's root (docs/evidence.md §15, docs/anchoring.md)::

    {"format": "lucid.anchor", "version": 1, "session": name, "session_root": hex32,
     "leaf_index": m, "batch_size": n, "path": [hex32, ...], "batch_root": hex32,
     "chain_id": int, "contract": addr, "device": addr, "binding": hex64,
     "tx_hash": h, "block_number": int, "block_hash": h}

``addr`` is ``0x`` and 40 lowercase hex digits, ``h`` is ``0x`` and 64 lowercase hex digits.

Batch tree: the RFC 9162 shape and node hash of `tree` over the leaves
``anchor_leaf(session, root) = HASH("lucid.anchor.v1" || 0x00 || session || 0x00 || root)``
(the prefix keeps a batch leaf from ever equalling a chunk leaf or an interior node).

Two checks: `AnchorProof.check` is offline and pure (the path recomputes the batch root,
the proof belongs to the manifest, the device's EVM address is bound to the manifest's
signing key); `verify_online` asks an Ethereum JSON-RPC endpoint whether the chain agrees
(receipt, status, contract, sender, block, the ``Anchored`` event, the registered identity).
The JSON-RPC client is a plain stdlib HTTP POST (`http_rpc`), swappable for tests.
The online half lives in `lucid.evidence._anchor_chain` and is re-exported here.

This module does not send transactions, does not know the D-Bus daemons, and does not
decide how many confirmations are enough (it reports them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import blake3

from lucid.evidence import _fields as f
from lucid.evidence._anchor_chain import (
    ANCHORED_TOPIC,
    IDENTITY_OF_SELECTOR,
    ChainReport,
    Rpc,
    RpcError,
    http_rpc,
    verify_online,
)
from lucid.evidence.canonical import canonical_json, parse_json
from lucid.evidence.ed25519 import Ed25519Rejected, verify_ed25519
from lucid.evidence.errors import FormatError, VerificationError
from lucid.evidence.manifest import Manifest
from lucid.evidence.tree import inclusion_proof, root, verify_inclusion

__all__ = [
    "ANCHORED_TOPIC",
    "ANCHOR_FORMAT",
    "ANCHOR_META",
    "IDENTITY_OF_SELECTOR",
    "AnchorProof",
    "ChainReport",
    "Rpc",
    "RpcError",
    "anchor_leaf",
    "batch_path",
    "batch_root",
    "binding_message",
    "http_rpc",
    "verify_online",
]

ANCHOR_FORMAT = "lucid.anchor"
ANCHOR_MEMBER = "anchor.json"
LEAF_DOMAIN = b"lucid.anchor.v1\x00"
BINDING_DOMAIN = b"lucid.bind.v1\x00evm:"
ANCHOR_META = b"lucid.anchor.v1"
"""The ``meta`` bytes chain-client passes to ``anchor()``: names the batch-tree format."""
MAX_PATH = 64

_KEYS = frozenset(
    {
        "format",
        "version",
        "session",
        "session_root",
        "leaf_index",
        "batch_size",
        "path",
        "batch_root",
        "chain_id",
        "contract",
        "device",
        "binding",
        "tx_hash",
        "block_number",
        "block_hash",
    }
)
_ADDRESS = re.compile(r"0x[0-9a-f]{40}")
_HASH = re.compile(r"0x[0-9a-f]{64}")


def anchor_leaf(session: str, session_root: bytes) -> bytes:
    """The batch-tree leaf of one session: ``HASH("lucid.anchor.v1" 0x00 session 0x00 root)``."""
    if len(session_root) != 32:
        raise ValueError("a session root is 32 bytes")
    return blake3.blake3(LEAF_DOMAIN + session.encode() + b"\x00" + session_root).digest()


def batch_root(leaves: Sequence[bytes]) -> bytes:
    """Root of the batch tree over `anchor_leaf` values (RFC 9162 shape, non-empty)."""
    if not leaves:
        raise ValueError("a batch has at least one session")
    return root(leaves)


def batch_path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The inclusion path (bottom-up) of leaf `index` in the batch tree."""
    return inclusion_proof(index, leaves)


def binding_message(device: str) -> bytes:
    """What the device identity key signs to bind its EVM address (walletd's evm_binding)."""
    return BINDING_DOMAIN + device.removeprefix("0x").lower().encode()


def _evm(value: Any, path: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise FormatError(f"{path}: expected {what} (0x and lowercase hex)")
    return value


@dataclass(frozen=True)
class AnchorProof:
    """One session's anchor proof. Parse untrusted bytes with `from_bytes`."""

    session: str
    session_root: bytes
    leaf_index: int
    batch_size: int
    path: tuple[bytes, ...]
    batch_root: bytes
    chain_id: int
    contract: str
    device: str
    binding: bytes
    tx_hash: str
    block_number: int
    block_hash: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "format": ANCHOR_FORMAT,
            "version": 1,
            "session": self.session,
            "session_root": self.session_root.hex(),
            "leaf_index": self.leaf_index,
            "batch_size": self.batch_size,
            "path": [p.hex() for p in self.path],
            "batch_root": self.batch_root.hex(),
            "chain_id": self.chain_id,
            "contract": self.contract,
            "device": self.device,
            "binding": self.binding.hex(),
            "tx_hash": self.tx_hash,
            "block_number": self.block_number,
            "block_hash": self.block_hash,
        }

    def to_bytes(self) -> bytes:
        """Canonical JSON (what a bundle stores as ``anchor.json``)."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_bytes(cls, data: bytes, what: str = ANCHOR_MEMBER) -> AnchorProof:
        """Parse strictly: canonical JSON, exactly the schema above.

        Raises:
            FormatError: Anything else; the message names `what` and the field.
        """
        doc = parse_json(data, what, require_canonical=True)
        try:
            return cls._from_dict(doc)
        except FormatError as err:
            raise FormatError(f"{what}: {err}") from None

    @classmethod
    def _from_dict(cls, doc: Any) -> AnchorProof:
        d = f.get_obj(doc, "", _KEYS)
        f.get_str(d["format"], "format", choices=frozenset({ANCHOR_FORMAT}))
        if f.get_int(d["version"], "version") != 1:
            raise FormatError(f"version: unsupported version {d['version']}")
        size = f.get_int(d["batch_size"], "batch_size", minimum=1)
        index = f.get_int(d["leaf_index"], "leaf_index")
        if index >= size:
            raise FormatError(f"leaf_index: {index} is not a leaf of a batch of {size}")
        path = f.get_list(d["path"], "path")
        if len(path) > MAX_PATH:
            raise FormatError(f"path: longer than {MAX_PATH}")
        return cls(
            session=f.check_name(d["session"], "session"),
            session_root=f.get_hex(d["session_root"], "session_root", 32),
            leaf_index=index,
            batch_size=size,
            path=tuple(f.get_hex(h, f"path[{i}]", 32) for i, h in enumerate(path)),
            batch_root=f.get_hex(d["batch_root"], "batch_root", 32),
            chain_id=f.get_int(d["chain_id"], "chain_id", minimum=1),
            contract=_evm(d["contract"], "contract", _ADDRESS, "a 20-byte address"),
            device=_evm(d["device"], "device", _ADDRESS, "a 20-byte address"),
            binding=f.get_hex(d["binding"], "binding", 64),
            tx_hash=_evm(d["tx_hash"], "tx_hash", _HASH, "a 32-byte hash"),
            block_number=f.get_int(d["block_number"], "block_number"),
            block_hash=_evm(d["block_hash"], "block_hash", _HASH, "a 32-byte hash"),
        )

    def check(self, manifest: Manifest) -> None:
        """The offline checks, in order (docs/evidence.md §15.3).

        Raises:
            VerificationError: item ``anchor.session``, ``anchor.session_root``,
                ``anchor.path`` or ``anchor.binding``.
        """
        if self.session != manifest.session:
            raise VerificationError(
                "anchor.session",
                f"anchor.session: proof is for {self.session!r}, "
                f"the manifest for {manifest.session!r}",
            )
        if self.session_root != manifest.tree_root:
            raise VerificationError(
                "anchor.session_root",
                f"anchor.session_root: {self.session_root.hex()} differs from the manifest's "
                f"tree.root {manifest.tree_root.hex()}",
            )
        leaf = anchor_leaf(self.session, self.session_root)
        if not verify_inclusion(leaf, self.leaf_index, self.batch_size, self.path, self.batch_root):
            raise VerificationError(
                "anchor.path",
                f"anchor.path: does not lead from the session root (leaf {self.leaf_index} "
                f"of {self.batch_size}) to batch_root {self.batch_root.hex()}",
            )
        try:
            verify_ed25519(manifest.device.ed25519, binding_message(self.device), self.binding)
        except Ed25519Rejected as err:
            raise VerificationError(
                "anchor.binding",
                f"anchor.binding: device {self.device} is not bound to the manifest's signing "
                f"key ({err})",
            ) from None
