"""io.lucid.Walletd1: thin bus adapter over the key backend, the data keys and the chain
accounts. Who may call each method is in the interface XML (io.lucid.Callers), enforced by
ContractService before a handler runs; the domain modules never see the bus."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from dbus_fast.aio import MessageBus

from lucid.evidence.signed import SIGNING_CONTEXT
from lucid.runtime.bus import Caller, ContractService
from lucid.runtime.contracts import ADMIN_UI, WALLETD
from lucid.runtime.errors import InvalidArgumentError
from lucid.walletd.datakeys import DataKeys, RecipientInfo
from lucid.walletd.keys import KeyBackend

if TYPE_CHECKING:
    from lucid.walletd.chain import ChainAccounts


class WalletdService(ContractService):
    contract = WALLETD

    def __init__(
        self,
        bus: MessageBus,
        backend: KeyBackend,
        data_keys: DataKeys,
        chain: Callable[[], Awaitable[ChainAccounts]],
        name: str = "",
    ) -> None:
        """``chain`` returns the chain accounts, loading them on first use; ``name`` is the
        device's name (``rdp_gate.device_name`` or the host name)."""
        super().__init__(bus)
        self._name = name
        self._backend = backend
        self._keys = data_keys
        self._chain = chain

    async def get_identity(self, caller: Caller) -> dict[str, str]:
        pub = self._backend.public_keys()
        return {
            "ed25519": pub.ed25519.hex(),
            "x25519": pub.x25519.hex(),
            "fingerprint": pub.fingerprint,
            "created_at": pub.created_at,
            "name": self._name,
            "backend": self._backend.name,
        }

    async def create_data_key(self, caller: Caller, session: str) -> bytes:
        return await self._keys.create(session)

    async def open_data_key(self, caller: Caller, session: str) -> bytes:
        return await self._keys.open(session)

    async def get_recipients(self, caller: Caller, session: str) -> list[list[str]]:
        return [[r.hex(), s.hex()] for r, s in await self._keys.recipients(session)]

    async def list_recipients(self, caller: Caller) -> list[dict[str, str]]:
        return [_fields(r) for r in await self._keys.list_recipients()]

    async def add_recipient(
        self, caller: Caller, x25519: str, label: str, added_by: str
    ) -> dict[str, str]:
        await caller.require(ADMIN_UI)
        try:
            key = bytes.fromhex(x25519.strip())
        except ValueError:
            raise InvalidArgumentError("x25519: expected 64 hex digits") from None
        return _fields(await self._keys.add_recipient(key, label, added_by))

    async def sign_manifest(self, caller: Caller, message: bytes) -> bytes:
        if not bytes(message).startswith(SIGNING_CONTEXT):
            raise InvalidArgumentError("walletd signs only manifest signing messages")
        return self._backend.sign(bytes(message))

    async def get_accounts(self, caller: Caller) -> dict[str, str]:
        return (await self._chain()).accounts()

    async def sign_evm_transaction(self, caller: Caller, tx: str) -> tuple[bytes, str]:
        return await (await self._chain()).sign_evm(tx)

    async def sign_tron_transaction(self, caller: Caller, raw_data: bytes) -> tuple[bytes, str]:
        return await (await self._chain()).sign_tron(bytes(raw_data))


def _fields(info: RecipientInfo) -> dict[str, str]:
    return {key: str(value) for key, value in info.items()}
