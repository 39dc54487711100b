"""io.lucid.Chunker1: status and the ChunkReady hint."""

from __future__ import annotations

from dbus_fast.aio import MessageBus

from lucid.chunker.cutter import Cutter
from lucid.runtime.bus import Caller, ContractService
from lucid.runtime.contracts import CHUNKER


class ChunkerService(ContractService):
    contract = CHUNKER

    def __init__(self, bus: MessageBus) -> None:
        super().__init__(bus)
        self.cutter: Cutter | None = None

    async def get_status(self, caller: Caller) -> dict[str, str]:
        stats = self.cutter.stats if self.cutter else {}
        return {k: str(v) for k, v in stats.items()}

    def chunk_ready(self, session: str, stream: str, index: int) -> None:
        self.emit("ChunkReady", session, stream, index)
