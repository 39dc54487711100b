"""The EVM JSON-RPC endpoint as chain-client needs it, with errors translated.

A thin async wrapper around web3.py's ``AsyncWeb3``: every call either returns plain
Python values or raises a `ChainError` (unreachable endpoint, a revert, no funds). It also
encodes the ``LucidAnchors`` calls from the contract's ABI. This module does not sign
anything (walletd does), does not retry (the anchorer decides) and keeps no state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
from eth_typing import HexStr
from eth_utils.address import to_checksum_address
from web3 import AsyncWeb3
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    TransactionNotFound,
    Web3Exception,
)

from lucid.chain_client.artifacts import Artifact
from lucid.chain_client.errors import (
    ChainError,
    InsufficientFundsError,
    RpcUnavailableError,
    TxRevertedError,
)

NOT_REGISTERED_SELECTOR = "0xbfc6c337"  # keccak256("NotRegistered(address)")[:4]
_KNOWN = ("already known", "already imported", "known transaction", "alreadyknown")
_UNDERPRICED = ("underpriced", "less than block base fee", "fee too low", "feetoolow")
SendResult = Literal["sent", "known", "nonce_too_low", "underpriced"]


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    status: int
    block_number: int
    block_hash: str
    gas_used: int
    sender: str
    to: str


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value)
    return text if text.startswith("0x") else "0x" + text


class ChainRpc:
    """One JSON-RPC endpoint and one LucidAnchors contract on it."""

    def __init__(self, url: str, anchors: Artifact, contract: str = "", timeout_s: float = 10.0):
        self.url = url
        self._w3 = AsyncWeb3(
            AsyncWeb3.AsyncHTTPProvider(
                url, request_kwargs={"timeout": aiohttp.ClientTimeout(total=timeout_s)}
            )
        )
        self._anchors = anchors
        self.contract = contract

    @property
    def w3(self) -> AsyncWeb3[Any]:
        """The underlying web3 object (for deployment helpers and tests)."""
        return self._w3

    async def close(self) -> None:
        await self._w3.provider.disconnect()

    async def _do(self, what: str, coro: Any) -> Any:
        try:
            return await coro
        except (aiohttp.ClientError, OSError, TimeoutError) as err:
            raise RpcUnavailableError(f"RPC {self.url} unreachable ({what}): {err}") from err
        except ContractCustomError as err:
            data = str(err.data or "")
            if data.startswith(NOT_REGISTERED_SELECTOR):
                raise TxRevertedError(
                    f"{what}: reverted NotRegistered (the device is not registered)",
                    not_registered=True,
                ) from err
            raise TxRevertedError(f"{what}: reverted with custom error {data[:10]}") from err
        except ContractLogicError as err:
            raise TxRevertedError(f"{what}: reverted: {err}") from err
        except TransactionNotFound:
            return None
        except Web3Exception as err:
            text = str(err)
            if "insufficient funds" in text.lower():
                raise InsufficientFundsError(f"{what}: {text}") from err
            raise ChainError(f"RPC {self.url} refused {what}: {text}") from err

    async def chain_id(self) -> int:
        return int(await self._do("eth_chainId", self._w3.eth.chain_id))

    async def block_number(self) -> int:
        return int(await self._do("eth_blockNumber", self._w3.eth.block_number))

    async def block_hash(self, number: int) -> str | None:
        block = await self._do("eth_getBlockByNumber", self._w3.eth.get_block(number))
        return None if block is None else _hex(block["hash"])

    async def code(self, address: str) -> bytes:
        return bytes(
            await self._do("eth_getCode", self._w3.eth.get_code(to_checksum_address(address)))
        )

    async def balance(self, address: str) -> int:
        return int(
            await self._do("eth_getBalance", self._w3.eth.get_balance(to_checksum_address(address)))
        )

    async def nonce(self, address: str, block: str = "pending") -> int:
        return int(
            await self._do(
                "eth_getTransactionCount",
                self._w3.eth.get_transaction_count(to_checksum_address(address), block),  # type: ignore[arg-type]  # "pending" is a valid block id
            )
        )

    async def fee_history(self, blocks: int, percentile: float) -> tuple[list[int], list[int]]:
        """(base fees incl. the next block's, the `percentile` tip of each block)."""
        hist = await self._do(
            "eth_feeHistory", self._w3.eth.fee_history(blocks, "latest", [percentile])
        )
        base = [int(b) for b in hist["baseFeePerGas"]]
        tips = [int(r[0]) for r in hist.get("reward") or [] if r]
        return base, tips

    async def estimate_gas(self, sender: str, data: str) -> int:
        tx = {
            "from": to_checksum_address(sender),
            "to": to_checksum_address(self.contract),
            "data": data,
        }
        return int(await self._do("eth_estimateGas", self._w3.eth.estimate_gas(tx)))  # type: ignore[arg-type]  # a plain dict is a TxParams

    async def send_raw(self, raw: bytes) -> SendResult:
        """Broadcast a signed transaction; "known" if the node has it, "nonce_too_low" if
        its nonce is used (by it or another transaction), "underpriced" if the node will not
        take it at its fees now (the anchorer replaces it when it has waited long enough)."""
        try:
            await self._do("eth_sendRawTransaction", self._w3.eth.send_raw_transaction(raw))
        except ChainError as err:
            text = str(err).lower()
            if isinstance(err, InsufficientFundsError | RpcUnavailableError):
                raise
            if any(k in text for k in _KNOWN):
                return "known"
            if "nonce too low" in text or "nonce is too low" in text or "old nonce" in text:
                return "nonce_too_low"
            if any(k in text for k in _UNDERPRICED):
                return "underpriced"
            raise
        return "sent"

    async def receipt(self, tx_hash: str) -> Receipt | None:
        r = await self._do(
            "eth_getTransactionReceipt", self._w3.eth.get_transaction_receipt(HexStr(tx_hash))
        )
        if r is None or r.get("blockNumber") is None:
            return None
        return Receipt(
            tx_hash=_hex(r["transactionHash"]).lower(),
            status=int(r["status"]),
            block_number=int(r["blockNumber"]),
            block_hash=_hex(r["blockHash"]).lower(),
            gas_used=int(r["gasUsed"]),
            sender=str(r["from"]).lower(),
            to=str(r.get("to") or "").lower(),
        )

    # --- LucidAnchors ------------------------------------------------------------------

    def _contract(self) -> Any:
        return self._w3.eth.contract(
            address=to_checksum_address(self.contract), abi=self._anchors.abi
        )

    def anchor_data(self, root: bytes, count: int, meta: bytes) -> str:
        return str(self._contract().encode_abi("anchor", args=[root, count, meta]))

    def register_data(self, identity_key: bytes, binding: bytes) -> str:
        return str(self._contract().encode_abi("registerDevice", args=[identity_key, binding]))

    async def identity_of(self, device: str) -> bytes:
        fn = self._contract().functions.identityOf(to_checksum_address(device))
        return bytes(await self._do("identityOf", fn.call()))
