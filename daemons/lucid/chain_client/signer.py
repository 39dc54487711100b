"""walletd as chain-client's `Signer`: the EVM account, its binding, and signing.

Translates walletd's bus errors into chain-client's: ``LimitExceeded`` (a spending limit)
into `SignerRefusedError`, anything else (walletd down, not authorized yet) into
`SignerUnavailableError`.
"""

from __future__ import annotations

from lucid.chain_client.anchorer import DeviceAccount
from lucid.chain_client.errors import SignerRefusedError, SignerUnavailableError
from lucid.evidence.canonical import canonical_json
from lucid.runtime.errors import BusError, LimitExceededError
from lucid.walletd.client import WalletdClient


class WalletdSigner:
    def __init__(self, walletd: WalletdClient) -> None:
        self._walletd = walletd

    async def account(self) -> DeviceAccount:
        try:
            accounts = await self._walletd.get_accounts()
            identity = await self._walletd.get_identity()
        except BusError as err:
            raise SignerUnavailableError(f"walletd: cannot read the EVM account: {err}") from err
        try:
            return DeviceAccount(
                address=accounts["evm"].lower(),
                identity_key=bytes.fromhex(identity["ed25519"]),
                binding=bytes.fromhex(accounts["evm_binding"].removeprefix("0x")),
            )
        except (KeyError, ValueError) as err:
            raise SignerUnavailableError(f"walletd: unexpected GetAccounts reply ({err})") from err

    async def sign(self, tx: dict[str, int | str]) -> tuple[bytes, str]:
        try:
            return await self._walletd.sign_evm_transaction(canonical_json(tx).decode())
        except LimitExceededError as err:
            raise SignerRefusedError(f"walletd refused to sign: {err}") from err
        except BusError as err:
            raise SignerUnavailableError(f"walletd did not sign: {err}") from err
