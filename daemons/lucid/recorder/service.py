"""io.lucid.Recorder1: thin adapter over the session manager."""

from __future__ import annotations

from dbus_fast.aio import MessageBus

from lucid.recorder.client import RecordingInfo
from lucid.recorder.sessions import Events, SessionManager
from lucid.runtime.bus import Caller, ContractService
from lucid.runtime.contracts import RDP_GATE, RECORDER


class RecorderService(ContractService):
    contract = RECORDER

    def __init__(self, bus: MessageBus) -> None:
        super().__init__(bus)
        self.manager: SessionManager | None = None

    def _sessions(self) -> SessionManager:
        if self.manager is None:
            raise RuntimeError("recorder service used before it was wired")
        return self.manager

    def events(self) -> Events:
        return Events(
            segment=lambda session, stream, seq: self.emit("SegmentReady", session, stream, seq),
            started=lambda session: self.emit("SessionStarted", session),
            ended=lambda session, complete: self.emit("SessionEnded", session, complete),
            failed=lambda session, name, message: self.emit(
                "SessionFailed", session, name, message
            ),
        )

    async def start_session(
        self, caller: Caller, session: str, display: str, xauthority: str
    ) -> None:
        await self._sessions().start(session, display, xauthority)

    async def stop_session(self, caller: Caller, session: str) -> None:
        await self._sessions().stop(session)

    async def add_audit_event(self, caller: Caller, session: str, kind: str, fields: str) -> None:
        await self._sessions().add_event(session, kind, fields, producer=RDP_GATE.daemon)

    async def get_session(self, caller: Caller, session: str) -> RecordingInfo:
        return await self._sessions().get(session)

    async def list_sessions(self, caller: Caller) -> list[RecordingInfo]:
        return await self._sessions().list()
