"""Build a session's anchor proof (``lucid.anchor``, see `lucid.evidence.anchor`) from the
queue's rows. Proofs exist only for confirmed batches; this module does no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lucid.evidence.anchor import AnchorProof, anchor_leaf, batch_path
from lucid.evidence.tree import verify_inclusion


def build_proof(row: dict[str, Any], members: Sequence[tuple[str, bytes]]) -> AnchorProof:
    """The proof of ``row`` (a `AnchorQueue.session` row of a confirmed batch).

    Raises:
        ValueError: the batch's members do not recompute its stored root (a corrupt db).
    """
    leaves = [anchor_leaf(s, r) for s, r in members]
    index = int(row["leaf_index"])
    proof = AnchorProof(
        session=str(row["session"]),
        session_root=bytes.fromhex(row["root"]),
        leaf_index=index,
        batch_size=len(leaves),
        path=tuple(batch_path(index, leaves)),
        batch_root=bytes.fromhex(row["batch_root"]),
        chain_id=int(row["chain_id"]),
        contract=str(row["contract"]).lower(),
        device=str(row["device"]).lower(),
        binding=bytes.fromhex(row["binding"]),
        tx_hash=str(row["tx_hash"]).lower(),
        block_number=int(row["block_number"]),
        block_hash=str(row["block_hash"]).lower(),
    )
    if len(leaves) != int(row["batch_size"]) or not verify_inclusion(
        leaves[index], index, len(leaves), proof.path, proof.batch_root
    ):
        raise ValueError(f"batch of {proof.session} does not recompute its root")
    return proof
