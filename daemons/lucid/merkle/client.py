"""Typed proxy for io.lucid.Merkle1."""

from __future__ import annotations

from lucid.runtime.bus import ContractClient
from lucid.runtime.contracts import MERKLE


class MerkleClient(ContractClient):
    contract = MERKLE

    async def list_sessions(self) -> list[dict[str, str]]:
        return [dict(s) for s in await self.call("ListSessions")]

    async def get_session(self, session: str) -> dict[str, str]:
        return dict(await self.call("GetSession", session))

    async def get_manifest(self, session: str) -> bytes:
        return bytes(await self.call("GetManifest", session))

    async def export_bundle(self, session: str, fd: int) -> int:
        return int(await self.call("ExportBundle", session, fd, fds=[fd]))
