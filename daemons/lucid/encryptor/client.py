"""Typed proxy for io.lucid.Encryptor1, and the shape of a session's producer facts
(`ProducerInfo`)."""

from __future__ import annotations

from typing import TypedDict, cast

from lucid.runtime.bus import ContractClient
from lucid.runtime.contracts import ENCRYPTOR


class ProducerInfo(TypedDict, total=False):
    """What ``GetSessionInfo`` gives (``a{ss}``): the producer's ``session.json``, kept by the
    encryptor when the session completed. Its keys are `lucid.runtime.spool.SESSION_INFO_KEYS`;
    a producer may leave any of them out (merkle refuses to seal without the two times).
    """

    producer: str  # the daemon that recorded it: "recorder", "gatekeeper"
    started_at: str  # RFC 3339 UTC
    ended_at: str  # RFC 3339 UTC
    encoder: str  # the video encoder, "none" for audit-only producers
    encoder_settings: str  # JSON object of the encoder's facts
    complete: str  # "true" | "false" (false: the recording ended abnormally)
    grant: str  # who approved the recording: "gatekeeper", or "none" (ungated producers)


class EncryptorClient(ContractClient):
    contract = ENCRYPTOR

    async def list_chunks(self, session: str) -> list[tuple[str, int, str, int, int, str]]:
        return [tuple(c) for c in await self.call("ListChunks", session)]

    async def list_sessions(self) -> list[tuple[str, str]]:
        return [(s, st) for s, st in await self.call("ListSessions")]

    async def get_session_info(self, session: str) -> ProducerInfo:
        return cast(ProducerInfo, dict(await self.call("GetSessionInfo", session)))

    async def open_stream(self, session: str, stream: str, fd: int) -> int:
        return int(await self.call("OpenStream", session, stream, fd, fds=[fd]))
