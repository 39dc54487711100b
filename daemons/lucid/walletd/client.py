"""Typed proxy for io.lucid.Walletd1 — the only walletd module other daemons import."""

from __future__ import annotations

from lucid.runtime.bus import ContractClient
from lucid.runtime.contracts import WALLETD


class WalletdClient(ContractClient):
    contract = WALLETD

    async def get_identity(self) -> dict[str, str]:
        return dict(await self.call("GetIdentity"))

    async def create_data_key(self, session: str) -> bytes:
        return bytes(await self.call("CreateDataKey", session))

    async def open_data_key(self, session: str) -> bytes:
        return bytes(await self.call("OpenDataKey", session))

    async def get_recipients(self, session: str) -> list[tuple[str, str]]:
        return [(r, s) for r, s in await self.call("GetRecipients", session)]

    async def list_recipients(self) -> list[dict[str, str]]:
        """The auditor recipients of new sessions (see the XML for the keys)."""
        return [dict(r) for r in await self.call("ListRecipients")]

    async def add_recipient(self, x25519: str, label: str, added_by: str) -> dict[str, str]:
        """Add an auditor recipient for sessions recorded from now on. admin-ui only."""
        return dict(await self.call("AddRecipient", x25519, label, added_by))

    async def sign_manifest(self, message: bytes) -> bytes:
        return bytes(await self.call("SignManifest", message))

    async def get_accounts(self) -> dict[str, str]:
        return dict(await self.call("GetAccounts"))

    async def sign_evm_transaction(self, tx: str) -> tuple[bytes, str]:
        """Returns (raw signed transaction, 0x hash). Only chain-client may call it."""
        raw, tx_hash = await self.call("SignEvmTransaction", tx)
        return bytes(raw), str(tx_hash)

    async def sign_tron_transaction(self, raw_data: bytes) -> tuple[bytes, str]:
        """Returns (65-byte signature, txid hex). Only tron-node may call it."""
        signature, txid = await self.call("SignTronTransaction", raw_data)
        return bytes(signature), str(txid)
