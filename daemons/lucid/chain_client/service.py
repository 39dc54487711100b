"""io.lucid.ChainClient1: the ledger's status, per-session anchoring state, anchor proofs."""

from __future__ import annotations

from typing import Any

from dbus_fast.aio import MessageBus

from lucid.chain_client.client import AnchorInfo
from lucid.chain_client.proofs import build_proof
from lucid.chain_client.queue import AnchorQueue
from lucid.chain_client.status import Status
from lucid.runtime.bus import Caller, ContractService
from lucid.runtime.config import ChainClientConfig
from lucid.runtime.contracts import CHAIN_CLIENT
from lucid.runtime.errors import NotFoundError
from lucid.runtime.ids import check_session


def _session_info(row: dict[str, Any]) -> AnchorInfo:
    state = (
        "queued"
        if row["batch"] is None
        else ("anchored" if row["batch_state"] == "confirmed" else "batched")
    )
    info: AnchorInfo = {
        "session": str(row["session"]),
        "root": str(row["root"]),
        "state": state,
        "queued_at": f"{row['queued_at']:.3f}",
    }
    if row["batch"] is not None:
        info["batch_root"] = str(row["batch_root"])
        info["batch_size"] = str(row["batch_size"])
        info["leaf_index"] = str(row["leaf_index"])
    if state == "anchored":
        info["tx"] = str(row["tx_hash"])
        info["block_number"] = str(row["block_number"])
        info["block_hash"] = str(row["block_hash"])
        info["chain_id"] = str(row["chain_id"])
        info["contract"] = str(row["contract"])
    return info


class ChainClientService(ContractService):
    contract = CHAIN_CLIENT

    def __init__(
        self, bus: MessageBus, queue: AnchorQueue, status: Status, config: ChainClientConfig
    ) -> None:
        super().__init__(bus)
        self.queue = queue
        self.status = status
        self._cfg = config

    async def get_status(self, caller: Caller) -> dict[str, str]:
        counts = await self.queue.counts()
        last = await self.queue.last_confirmed()
        out = self.status.fields() | {k: str(v) for k, v in counts.items()}
        out |= {
            "confirmations": str(self._cfg.confirmations),
            "batch_size": str(self._cfg.batch_size),
            "batch_window_s": f"{self._cfg.batch_window_s:g}",
            "last_tx": str(last["tx_hash"]) if last else "",
            "last_block": str(last["block_number"]) if last else "",
            "last_batch_size": str(last["size"]) if last else "",
            "last_gas_used": str(last["gas_used"]) if last else "",
            "gas_per_session": str(int(last["gas_used"]) // int(last["size"])) if last else "",
        }
        return out

    async def get_session(self, caller: Caller, session: str) -> AnchorInfo:
        row = await self.queue.session(check_session(session))
        if row is None:
            raise NotFoundError(f"session {session} is not queued for anchoring")
        return _session_info(row)

    async def get_proof(self, caller: Caller, session: str) -> str:
        row = await self.queue.session(check_session(session))
        if row is None or row["batch_state"] != "confirmed":
            raise NotFoundError(f"session {session} has no confirmed anchor (yet)")
        proof = build_proof(row, await self.queue.members(int(row["batch"])))
        return proof.to_bytes().decode()

    def anchored(self, session_count: int, tx: str, block: int) -> None:
        self.emit("Anchored", session_count, tx, block)
