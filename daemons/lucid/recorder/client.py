"""Typed proxy for io.lucid.Recorder1."""

from __future__ import annotations

from lucid.runtime.bus import ContractClient
from lucid.runtime.contracts import RECORDER


class RecorderClient(ContractClient):
    contract = RECORDER

    async def start_session(self, session: str, display: str, xauthority: str) -> None:
        await self.call("StartSession", session, display, xauthority)

    async def stop_session(self, session: str) -> None:
        await self.call("StopSession", session)

    async def add_audit_event(self, session: str, kind: str, fields: str) -> None:
        """Add an event (``fields``: a JSON object) to a recording session's audit stream."""
        await self.call("AddAuditEvent", session, kind, fields)

    async def get_session(self, session: str) -> dict[str, str]:
        return dict(await self.call("GetSession", session))

    async def list_sessions(self) -> list[dict[str, str]]:
        return [dict(s) for s in await self.call("ListSessions")]
