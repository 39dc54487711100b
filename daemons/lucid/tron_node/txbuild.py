"""Payout transactions built offline with tronpy: what walletd signs and the node receives.

A payout is one ``TriggerSmartContract``: ``transfer(address,uint256)`` on the USDT-TRC20
contract, or the configured function of the payout router called with (payee, amount). The
transaction carries no memo (tronpy computes a wrong id for offline transactions with a
``data`` field, FACTS "Chain"). ``raw_bytes`` is the protobuf ``Transaction.raw`` and
``txid`` its SHA-256; walletd signs exactly those bytes. This module does no I/O and does
not sign.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

# tronpy is imported where it is used: it costs some 35 MB, and payouts are off by default.

USDT_TRANSFER = "transfer(address,uint256)"
_FUNCTION_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\(address,uint256\)$")


class BuildError(ValueError):
    """Bad input for a transaction (address, amount, function); the message names it."""


@dataclass(frozen=True)
class UnsignedTx:
    txid: str  # hex sha256(raw_bytes)
    raw_data: dict[str, Any]  # tronpy's JSON form of Transaction.raw (what a node re-encodes)
    raw_bytes: bytes  # protobuf Transaction.raw: what walletd signs
    expiration: int  # ms since the unix epoch


def is_address(value: str) -> bool:
    """True for a base58check TRON address (``T...``)."""
    from tronpy import keys  # type: ignore[import-untyped]  # tronpy ships no hints

    try:
        return bool(keys.is_base58check_address(value))
    except (ValueError, IndexError):  # tronpy raises on "" and on a bad checksum
        return False


def function_abi(signature: str) -> dict[str, Any]:
    """The ABI entry of ``name(address,uint256)`` (the only shape a payout call has).

    Raises:
        BuildError: another shape.
    """
    match = _FUNCTION_RE.match(signature.replace(" ", ""))
    if match is None:
        raise BuildError(f"payout function {signature!r} must look like name(address,uint256)")
    return {
        "name": match.group(1),
        "type": "function",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "to", "type": "address"}, {"name": "amount", "type": "uint256"}],
        "outputs": [],
    }


async def build_payout(
    tron: Any,
    *,
    owner: str,
    contract: str,
    function: str,
    payee: str,
    amount: int,
    fee_limit_sun: int,
    expiration_s: int,
    ref_block_id: str,
    now_ms: int,
) -> UnsignedTx:
    """Build ``contract.function(payee, amount)`` from ``owner``, offline.

    Args:
        tron: a ``tronpy.AsyncTron`` (used for its builder only; nothing is sent).
        owner: the paying account (walletd's TRON address).
        contract: the called contract (USDT or the payout router).
        function: ``name(address,uint256)``.
        payee: who receives ``amount``.
        amount: in the token's base units.
        fee_limit_sun: most TRX the call may burn for energy.
        expiration_s: lifetime of the transaction from ``now_ms``.
        ref_block_id: a recent block id from the node (TaPoS), 64 hex digits.
        now_ms: the transaction's timestamp: the head block's time, as java-tron's own
            builder uses (the chain judges expiration by its clock, not the device's).
    Raises:
        BuildError: bad address, amount or function.
    Returns:
        The unsigned transaction with its id.
    """
    for what, addr in (("owner", owner), ("contract", contract), ("payee", payee)):
        if not is_address(addr):
            raise BuildError(f"{what} {addr!r} is not a TRON address")
    if amount <= 0 or amount >= 2**256:
        raise BuildError(f"amount {amount} out of range")
    if not re.fullmatch(r"[0-9a-f]{64}", ref_block_id):
        raise BuildError(f"bad reference block id {ref_block_id!r}")
    from tronpy.async_contract import AsyncContract  # type: ignore[import-untyped]  # no hints

    abi = function_abi(function)
    method = AsyncContract(contract, abi=[abi], client=tron).functions[abi["name"]]
    builder = await method.with_owner(owner)(payee, amount)
    builder = builder.fee_limit(fee_limit_sun)
    # tronpy stamps the device clock; the chain's clock is what counts (no public setter).
    builder._raw_data["timestamp"] = now_ms
    builder._raw_data["expiration"] = now_ms + expiration_s * 1000
    tx = await builder.build(offline=True, ref_block_id=ref_block_id)
    raw_data: dict[str, Any] = tx._raw_data  # tronpy has no public accessor for it
    raw_bytes = encode_raw(raw_data)
    txid = hashlib.sha256(raw_bytes).hexdigest()
    if txid != tx.txid:
        raise BuildError(f"tronpy's txid {tx.txid} is not sha256(raw) {txid}")
    return UnsignedTx(
        txid=txid, raw_data=raw_data, raw_bytes=raw_bytes, expiration=int(raw_data["expiration"])
    )


def encode_raw(raw_data: dict[str, Any]) -> bytes:
    """Protobuf ``Transaction.raw`` of tronpy's JSON form (Transfer / TriggerSmartContract)."""
    from tronpy.proto.transaction import (  # type: ignore[import-untyped]  # no hints
        _raw_data_to_protobuf,
    )

    return bytes(_raw_data_to_protobuf(raw_data).SerializeToString())


def broadcast_payload(raw_data: dict[str, Any], txid: str, signature: bytes) -> dict[str, Any]:
    """The body of ``/wallet/broadcasttransaction`` for a signed transaction (tronpy's form)."""
    from tronpy.async_tron import AsyncTransaction  # type: ignore[import-untyped]  # no hints

    body: dict[str, Any] = AsyncTransaction(
        raw_data, client=None, txid=txid, signature=[signature.hex()]
    ).to_json()
    body["raw_data_hex"] = encode_raw(raw_data).hex()
    body.pop("permission", None)
    return body
