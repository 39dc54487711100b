"""Typed proxy for io.lucid.RdpGate1, and the shape of a gated session (`GateSessionInfo`)."""

from __future__ import annotations

from typing import TypedDict, cast

from lucid.runtime.bus import ContractClient
from lucid.runtime.contracts import RDP_GATE


class GateSessionInfo(TypedDict):
    """One session as ``ListSessions`` gives it (``a{ss}``; every value a string).

    ``state`` is ``waiting`` | ``running`` | ``closing`` | ``ended`` (`lucid.rdp_gate.session`;
    a newer rdp_gate may add states).
    """

    session: str
    user: str  # the xrdp login's unix user
    source: str  # the client's "address:port"
    display: str  # the X display, e.g. ":10"
    state: str
    outcome: str  # "approved", or why it was refused or ended; "" while waiting
    message: str  # the refusal shown on the session's screen, else ""
    x_pid: str  # the session's X server
    created_at: str  # ISO 8601 UTC with milliseconds and a "Z"


class RdpGateClient(ContractClient):
    contract = RDP_GATE

    async def wait(self) -> tuple[str, str]:
        """(session, state) of the caller's own xrdp session."""
        session, state = await self.call("Wait")
        return str(session), str(state)

    async def end(self) -> None:
        await self.call("End")

    async def list_sessions(self) -> list[GateSessionInfo]:
        return [cast(GateSessionInfo, dict(s)) for s in await self.call("ListSessions")]

    async def get_connection_info(self) -> dict[str, str]:
        return dict(await self.call("GetConnectionInfo"))
