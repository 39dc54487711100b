"""Typed proxy for io.lucid.ChainClient1 — the only chain_client module others import."""

from __future__ import annotations

from lucid.chain_client.health import anchoring
from lucid.runtime.bus import ContractClient
from lucid.runtime.contracts import CHAIN_CLIENT


class ChainClientClient(ContractClient):
    contract = CHAIN_CLIENT

    async def get_status(self) -> dict[str, str]:
        return dict(await self.call("GetStatus"))

    async def health(self) -> tuple[str, bool, bool]:
        """Whether it anchors, for `lucid.runtime.health` (lucid.chain_client.health)."""
        said = anchoring(await self.get_status())
        return said.text, said.degraded, said.settled

    async def get_session(self, session: str) -> dict[str, str]:
        return dict(await self.call("GetSession", session))

    async def get_proof(self, session: str) -> str:
        """The session's ``anchor.json`` (canonical JSON). Raises NotFoundError until confirmed."""
        return str(await self.call("GetProof", session))
