"""io.lucid.Encryptor1: the sealed-chunk index and the sealing signals."""

from __future__ import annotations

from dbus_fast.aio import MessageBus

from lucid.encryptor.client import ProducerInfo
from lucid.encryptor.player import Player
from lucid.encryptor.sealer import Sealer
from lucid.runtime.bus import Caller, ContractService
from lucid.runtime.contracts import ENCRYPTOR
from lucid.runtime.errors import NotFoundError
from lucid.runtime.ids import check_session


class EncryptorService(ContractService):
    contract = ENCRYPTOR

    def __init__(self, bus: MessageBus) -> None:
        super().__init__(bus)
        self.sealer: Sealer | None = None
        self.player: Player | None = None

    def _sealer(self) -> Sealer:
        if self.sealer is None:
            raise RuntimeError("encryptor service used before it was wired")
        return self.sealer

    async def list_chunks(self, caller: Caller, session: str) -> list[list[object]]:
        check_session(session)
        return [
            [c.stream, c.index, c.hash, c.size, c.plain_size, c.compression]
            for c in await self._sealer().chunks(session)
        ]

    async def list_sessions(self, caller: Caller) -> list[list[str]]:
        return [[s, state] for s, state in await self._sealer().sessions()]

    async def get_session_info(self, caller: Caller, session: str) -> ProducerInfo:
        check_session(session)
        sealer = self._sealer()
        info = await sealer.info(session)
        if info is None or dict(await sealer.sessions()).get(session) != "complete":
            raise NotFoundError(f"session {session} is not complete")
        return info

    async def open_stream(self, caller: Caller, session: str, stream: str, fd: int) -> int:
        if self.player is None:
            raise RuntimeError("encryptor service used before it was wired")
        return await self.player.open(session, stream, fd)

    def chunk_sealed(self, session: str, stream: str, index: int, digest: str) -> None:
        self.emit("ChunkSealed", session, stream, index, digest)

    def session_complete(self, session: str) -> None:
        self.emit("SessionComplete", session)

    def seal_failed(self, session: str, error: str, message: str) -> None:
        self.emit("SealFailed", session, error, message)
