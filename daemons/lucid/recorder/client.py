"""Typed proxy for io.lucid.Recorder1, and the shape of its session info (`RecordingInfo`)."""

from __future__ import annotations

from typing import TypedDict, cast

from lucid.runtime.bus import ContractClient
from lucid.runtime.contracts import RECORDER


class RecordingInfo(TypedDict):
    """One session as ``GetSession`` / ``ListSessions`` give it (``a{ss}``; every value a string).

    ``state`` moves ``recording`` -> ``ended`` | ``failed``; a newer recorder may add states.
    """

    session: str
    display: str
    state: str
    started_at: str  # RFC 3339 UTC with milliseconds
    ended_at: str  # "" while recording
    encoder: str  # "" before the first part captures
    encoder_settings: str  # JSON object of the encoder's facts
    parts: str  # recorder runs of the session (a restart after a crash starts the next)
    streams: str  # comma-separated: video.0..video.N, audit.0..audit.N
    complete: str  # "true" | "false" (false: the recording ended abnormally)
    error: str  # an io.lucid.Error.* name when failed, else ""
    message: str  # why it failed, else ""
    spool: str  # the session's spool directory


class RecorderClient(ContractClient):
    contract = RECORDER

    async def start_session(self, session: str, display: str, xauthority: str) -> None:
        await self.call("StartSession", session, display, xauthority)

    async def stop_session(self, session: str) -> None:
        await self.call("StopSession", session)

    async def add_audit_event(self, session: str, kind: str, fields: str) -> None:
        """Add an event (``fields``: a JSON object) to a recording session's audit stream."""
        await self.call("AddAuditEvent", session, kind, fields)

    async def get_session(self, session: str) -> RecordingInfo:
        return cast(RecordingInfo, dict(await self.call("GetSession", session)))

    async def list_sessions(self) -> list[RecordingInfo]:
        return [cast(RecordingInfo, dict(s)) for s in await self.call("ListSessions")]
