"""Typed proxy for io.lucid.RdpGate1."""

from __future__ import annotations

from lucid.runtime.bus import ContractClient
from lucid.runtime.contracts import RDP_GATE


class RdpGateClient(ContractClient):
    contract = RDP_GATE

    async def wait(self) -> tuple[str, str]:
        """(session, state) of the caller's own xrdp session."""
        session, state = await self.call("Wait")
        return str(session), str(state)

    async def end(self) -> None:
        await self.call("End")

    async def list_sessions(self) -> list[dict[str, str]]:
        return [dict(s) for s in await self.call("ListSessions")]

    async def get_connection_info(self) -> dict[str, str]:
        return dict(await self.call("GetConnectionInfo"))
