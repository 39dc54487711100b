"""io.lucid.Walletd1: thin bus adapter over the key backend and the data keys."""

from __future__ import annotations

from dbus_fast.aio import MessageBus

from lucid.evidence.signed import SIGNING_CONTEXT
from lucid.runtime.bus import Caller, ContractService
from lucid.runtime.contracts import ENCRYPTOR, MERKLE, WALLETD
from lucid.runtime.errors import InvalidArgumentError
from lucid.walletd.datakeys import DataKeys
from lucid.walletd.keys import KeyBackend


class WalletdService(ContractService):
    contract = WALLETD

    def __init__(self, bus: MessageBus, backend: KeyBackend, data_keys: DataKeys) -> None:
        super().__init__(bus)
        self._backend = backend
        self._keys = data_keys

    async def get_identity(self, caller: Caller) -> dict[str, str]:
        pub = self._backend.public_keys()
        return {
            "ed25519": pub.ed25519.hex(),
            "x25519": pub.x25519.hex(),
            "fingerprint": pub.fingerprint,
            "backend": self._backend.name,
        }

    async def create_data_key(self, caller: Caller, session: str) -> bytes:
        await caller.require(ENCRYPTOR)
        return await self._keys.create(session)

    async def open_data_key(self, caller: Caller, session: str) -> bytes:
        await caller.require(ENCRYPTOR)
        return await self._keys.open(session)

    async def get_recipients(self, caller: Caller, session: str) -> list[list[str]]:
        return [[r.hex(), s.hex()] for r, s in await self._keys.recipients(session)]

    async def sign_manifest(self, caller: Caller, message: bytes) -> bytes:
        await caller.require(MERKLE)
        if not bytes(message).startswith(SIGNING_CONTEXT):
            raise InvalidArgumentError("walletd signs only manifest signing messages")
        return self._backend.sign(bytes(message))
