"""What walletd's TRON account may sign, and what each transaction spends.

``TronPolicy.spends`` takes a decoded ``Transaction.raw`` (``tronraw``) and either refuses it
or returns what it can spend, per asset: a TRX transfer, a call of ``transfer(address,
uint256)`` on the configured USDT contract, or a call of the configured payout function
(``payout(address,uint256)`` by default) on the configured payout router, each from
walletd's own account and not expired. The router's amount counts as USDT, and a
transaction's ``fee_limit`` (TRX it may burn) counts as TRX, as gas does on the EVM side.
This module neither signs nor keeps totals (``limits.py`` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import base58
from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.crypto import keccak

from lucid.runtime.errors import InvalidArgumentError
from lucid.walletd.tronraw import (
    ContractCall,
    TronRaw,
    TrxTransfer,
    encode_address,
    is_payout_function,
)

TRC20_TRANSFER = "transfer(address,uint256)"
MAX_LIFETIME_MS = 24 * 3600 * 1000  # a node refuses a later expiration anyway
ASSET_TRX = "trx"  # sun
ASSET_USDT = "usdt"  # the token's smallest unit (1e-6 USDT)
_CALL_SIZE = 4 + 32 + 32  # selector, address word, uint256 word


def tron_address(public_key: bytes) -> str:
    """The base58check TRON address of a 64-byte secp256k1 public key.

    0x41 and the last 20 bytes of keccak256(key), base58check-encoded (as tronpy's
    ``PublicKey.to_base58check_address``; a test holds the two equal). Computed here so
    walletd does not load tronpy's client stack (~15 MB) to name its own account.
    """
    if len(public_key) != 64:
        raise ValueError("a TRON public key is 64 bytes (uncompressed, without the 0x04 prefix)")
    return base58.b58encode_check(b"\x41" + keccak(public_key)[-20:]).decode()


def check_payout_function(signature: str) -> bytes:
    """The 4-byte selector of ``name(address,uint256)``.

    Raises:
        ValueError: another shape (walletd could not read the amount).
    """
    if not is_payout_function(signature):
        raise ValueError(f"{signature!r} is not name(address,uint256)")
    return bytes(function_signature_to_4byte_selector(signature))


@dataclass(frozen=True)
class TronPolicy:
    account: bytes  # walletd's TRON address (21 bytes)
    usdt_contract: bytes | None  # walletd.tron_usdt_contract
    payout_router: bytes | None  # walletd.tron_payout_router
    payout_function: str = "payout(address,uint256)"  # walletd.tron_payout_function

    def spends(self, tx: TronRaw, now_ms: int) -> dict[str, int]:
        """What ``tx`` can spend, per asset, if walletd may sign it at ``now_ms``.

        Raises:
            InvalidArgumentError: foreign owner, expired or far-off expiration, an amount
                that is not positive, a contract or function walletd does not call.
        """
        contract = tx.contract
        if contract.owner != self.account:
            raise InvalidArgumentError(
                f"owner_address {encode_address(contract.owner)} is not walletd's TRON "
                f"account {encode_address(self.account)}"
            )
        if tx.expiration_ms <= now_ms:
            raise InvalidArgumentError(
                f"transaction expired at {_iso(tx.expiration_ms)} (now {_iso(now_ms)})"
            )
        if tx.expiration_ms > now_ms + MAX_LIFETIME_MS:
            raise InvalidArgumentError(
                f"expiration {_iso(tx.expiration_ms)} is more than a day away (now {_iso(now_ms)})"
            )
        if isinstance(contract, TrxTransfer):
            return {ASSET_TRX: contract.amount + tx.fee_limit}
        return {ASSET_USDT: self._token_amount(contract), ASSET_TRX: tx.fee_limit}

    def _token_amount(self, call: ContractCall) -> int:
        if call.contract == self.usdt_contract:
            function = TRC20_TRANSFER
        elif call.contract == self.payout_router:
            function = self.payout_function
        else:
            raise InvalidArgumentError(
                f"contract {encode_address(call.contract)} is neither walletd.tron_usdt_contract "
                "nor walletd.tron_payout_router"
            )
        selector = check_payout_function(function)
        if call.data[:4] != selector or len(call.data) != _CALL_SIZE:
            raise InvalidArgumentError(
                f"walletd calls only {function} on {encode_address(call.contract)}"
            )
        try:
            _to, amount = abi_decode(["address", "uint256"], call.data[4:], strict=True)
        except DecodingError as err:
            raise InvalidArgumentError(f"arguments of {function}: {err}") from err
        if amount <= 0:
            raise InvalidArgumentError(f"{function}: the amount must be positive")
        return int(amount)


def _iso(ms: int) -> str:
    try:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):  # beyond the calendar: say it plainly
        return f"{ms} ms after the epoch"
