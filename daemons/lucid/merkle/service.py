"""io.lucid.Merkle1: sealed sessions, manifests and bundle export."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

from dbus_fast.aio import MessageBus

from lucid.merkle.client import SealInfo
from lucid.merkle.export import export_bundle
from lucid.merkle.sealer import ManifestSealer
from lucid.runtime.bus import Caller, ContractService
from lucid.runtime.contracts import MERKLE
from lucid.runtime.errors import InvalidArgumentError, NotFoundError, StorageFullError
from lucid.runtime.ids import check_session


def _info(row: dict[str, Any], manifest: str) -> SealInfo:
    return {
        "session": str(row["session"]),
        "state": str(row["state"]),
        "root": str(row["root"]),
        "chunks": str(row["chunks"]),
        "bytes": str(row["bytes"]),
        "complete": "true" if row["complete"] else "false",
        "sealed_at": f"{row['sealed_at']:.3f}",
        "message": str(row["message"]),
        "manifest": manifest,
    }


class MerkleService(ContractService):
    contract = MERKLE

    def __init__(
        self,
        bus: MessageBus,
        sealer: ManifestSealer,
        store_dir: os.PathLike[str],
        anchor_proof: Callable[[str], Awaitable[bytes | None]] | None = None,
    ) -> None:
        super().__init__(bus)
        self.sealer = sealer
        self._store = store_dir
        self._anchor_proof = anchor_proof  # chain-client's confirmed proof, if any

    async def list_sessions(self, caller: Caller) -> list[SealInfo]:
        return [
            _info(r, str(self.sealer.session_dir(r["session"]) / "manifest.json"))
            for r in await self.sealer.list()
        ]

    async def get_session(self, caller: Caller, session: str) -> SealInfo:
        row = await self.sealer.state(check_session(session))
        if row is None:
            raise NotFoundError(f"session {session} is not sealed (yet)")
        return _info(row, str(self.sealer.session_dir(session) / "manifest.json"))

    async def get_manifest(self, caller: Caller, session: str) -> bytes:
        path = self.sealer.session_dir(check_session(session)) / "manifest.json"
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"session {session} has no manifest") from None

    async def export_bundle(self, caller: Caller, session: str, fd: int) -> int:
        row = await self.sealer.state(check_session(session))
        if row is None or row["state"] != "sealed":
            raise NotFoundError(f"session {session} is not sealed (yet)")
        anchor = None if self._anchor_proof is None else await self._anchor_proof(session)
        out = os.dup(fd)  # the dispatcher closes the received fd; we own this copy
        try:
            return await asyncio.to_thread(
                export_bundle, self.sealer.session_dir(session), self._store, out, anchor
            )
        except OSError as err:
            if err.errno == 28:
                raise StorageFullError("no space left writing the bundle") from err
            raise InvalidArgumentError(f"cannot write the bundle: {err.strerror}") from err
        finally:
            os.close(out)

    def session_sealed(self, session: str, root: str) -> None:
        self.emit("SessionSealed", session, root)

    def seal_failed(self, session: str, error: str, message: str) -> None:
        self.emit("SealFailed", session, error, message)
