"""Typed proxy for io.lucid.Encryptor1."""

from __future__ import annotations

from lucid.runtime.bus import ContractClient
from lucid.runtime.contracts import ENCRYPTOR


class EncryptorClient(ContractClient):
    contract = ENCRYPTOR

    async def list_chunks(self, session: str) -> list[tuple[str, int, str, int, int, str]]:
        return [tuple(c) for c in await self.call("ListChunks", session)]

    async def list_sessions(self) -> list[tuple[str, str]]:
        return [(s, st) for s, st in await self.call("ListSessions")]

    async def get_session_info(self, session: str) -> dict[str, str]:
        return dict(await self.call("GetSessionInfo", session))

    async def open_stream(self, session: str, stream: str, fd: int) -> int:
        return int(await self.call("OpenStream", session, stream, fd, fds=[fd]))
