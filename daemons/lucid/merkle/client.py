"""Typed proxy for io.lucid.Merkle1, and the shape of its session info (`SealInfo`)."""

from __future__ import annotations

from typing import TypedDict, cast

from lucid.runtime.bus import ContractClient
from lucid.runtime.contracts import MERKLE


class SealInfo(TypedDict):
    """One session as ``GetSession`` / ``ListSessions`` give it (``a{ss}``; every value a string).

    ``state`` is ``sealed`` or ``failed`` (a newer merkle may add states); a failed session
    has only ``session``, ``state``, ``sealed_at`` and ``message`` set, the rest at defaults.
    """

    session: str
    state: str
    root: str  # the BLAKE3 Merkle root (hex), "" when failed
    chunks: str  # sealed chunks in the manifest
    bytes: str  # their stored (compressed and encrypted) size
    complete: str  # "true" | "false" (false: the recording ended abnormally)
    sealed_at: str  # unix seconds with 3 decimals, when sealed or failed
    message: str  # why sealing failed, else ""
    manifest: str  # path of manifest.json in merkle's state (meaningless off the device)


class MerkleClient(ContractClient):
    contract = MERKLE

    async def list_sessions(self) -> list[SealInfo]:
        return [cast(SealInfo, dict(s)) for s in await self.call("ListSessions")]

    async def get_session(self, session: str) -> SealInfo:
        return cast(SealInfo, dict(await self.call("GetSession", session)))

    async def get_manifest(self, session: str) -> bytes:
        return bytes(await self.call("GetManifest", session))

    async def export_bundle(self, session: str, fd: int) -> int:
        return int(await self.call("ExportBundle", session, fd, fds=[fd]))
