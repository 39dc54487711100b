"""TRON transactions built offline with tronpy, as tron-node builds them, for walletd's tests."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from tronpy import Tron  # type: ignore[import-untyped]  # tronpy ships no hints
from tronpy.contract import Contract  # type: ignore[import-untyped]  # no hints
from tronpy.keys import PrivateKey  # type: ignore[import-untyped]  # no hints
from tronpy.proto import tron_pb2  # type: ignore[import-untyped]  # no hints
from tronpy.proto.transaction import (  # type: ignore[import-untyped]  # no hints
    _raw_data_to_protobuf,
)
from tronpy.providers import HTTPProvider  # type: ignore[import-untyped]  # no hints

REF_BLOCK_ID = "0000000003a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b"
FEE_LIMIT = 30_000_000  # sun


def _abi(name: str) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "type": "function",
            "stateMutability": "nonpayable",
            "inputs": [{"name": "to", "type": "address"}, {"name": "amount", "type": "uint256"}],
            "outputs": [],
        }
    ]


# Never contacted: offline building uses the client only for its builder and config.
_client = Tron(HTTPProvider("http://127.0.0.1:9"))


def new_address() -> str:
    return str(PrivateKey(os.urandom(32)).public_key.to_base58check_address())


def raw_bytes(tx: Any) -> bytes:
    """The protobuf Transaction.raw of a tronpy transaction; checks tronpy's txid."""
    raw = bytes(_raw_data_to_protobuf(tx._raw_data).SerializeToString())
    assert hashlib.sha256(raw).hexdigest() == tx.txid
    return raw


def trx_transfer(owner: str, to: str, amount: int, lifetime_ms: int = 60_000) -> Any:
    builder = _client.trx.transfer(owner, to, amount).expiration(lifetime_ms)
    return builder.build(offline=True, ref_block_id=REF_BLOCK_ID)


def contract_call(
    owner: str,
    contract: str,
    to: str,
    amount: int,
    function: str = "transfer",
    fee_limit: int = FEE_LIMIT,
    lifetime_ms: int = 60_000,
) -> Any:
    method = Contract(contract, abi=_abi(function), client=_client).functions[function]
    builder = method.with_owner(owner)(to, amount).fee_limit(fee_limit).expiration(lifetime_ms)
    return builder.build(offline=True, ref_block_id=REF_BLOCK_ID)


def parse_raw(raw: bytes) -> Any:
    """tronpy's own protobuf reading of raw bytes (to cross-check walletd's decoder)."""
    msg = tron_pb2.Transaction.raw()
    msg.ParseFromString(raw)
    return msg
