"""merkle as chain-client sees it: an honest stand-in exported on the real test bus.

It owns io.lucid.Merkle1 on its own connection, answers ListSessions / GetSession from a
dict, and emits SessionSealed exactly as the real merkle does. (The end-to-end test in
test_e2e.py runs the real merkle.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dbus_fast.aio import MessageBus

from lucid.runtime.bus import Caller, ContractService, connect
from lucid.runtime.contracts import MERKLE
from lucid.runtime.errors import NotFoundError
from lucid.runtime.principals import SHARED, Principals


class FakeMerkle(ContractService):
    contract = MERKLE

    def __init__(self, bus: MessageBus) -> None:
        super().__init__(bus)
        self.roots: dict[str, str] = {}

    def _info(self, session: str) -> dict[str, str]:
        return {
            "session": session,
            "state": "sealed",
            "root": self.roots[session],
            "chunks": "1",
            "bytes": "40",
            "complete": "true",
            "sealed_at": "0.000",
            "message": "",
            "manifest": "",
        }

    async def list_sessions(self, caller: Caller) -> list[dict[str, str]]:
        return [self._info(s) for s in self.roots]

    async def get_session(self, caller: Caller, session: str) -> dict[str, str]:
        if session not in self.roots:
            raise NotFoundError(f"session {session} is not sealed (yet)")
        return self._info(session)

    async def get_manifest(self, caller: Caller, session: str) -> bytes:
        raise NotFoundError("the fake merkle keeps no manifests")

    async def export_bundle(self, caller: Caller, session: str, fd: int) -> int:
        raise NotFoundError("the fake merkle exports nothing")

    def add(self, session: str, root: bytes) -> None:
        """A session sealed before chain-client looks (found by ListSessions)."""
        self.roots[session] = root.hex()

    def seal(self, session: str, root: bytes) -> None:
        """A session sealed now: SessionSealed as merkle sends it."""
        self.add(session, root)
        self.emit("SessionSealed", session, root.hex())


@asynccontextmanager
async def fake_merkle(bus_address: str) -> AsyncIterator[FakeMerkle]:
    conn = await connect(bus_address)
    service = FakeMerkle(conn)
    service.principals = Principals(conn, SHARED)
    service.export()
    await service.request_name()
    try:
        yield service
    finally:
        await service.drain()
        conn.disconnect()
