"""Typed proxy for io.lucid.Chunker1."""

from __future__ import annotations

from lucid.runtime.bus import ContractClient
from lucid.runtime.contracts import CHUNKER


class ChunkerClient(ContractClient):
    contract = CHUNKER

    async def get_status(self) -> dict[str, str]:
        return dict(await self.call("GetStatus"))
