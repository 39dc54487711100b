"""EIP-1559 transactions of walletd's EVM account: read the caller's JSON strictly, sign.

``parse_transaction`` accepts exactly the fields of the contract (io.lucid.Walletd1.xml,
SignEvmTransaction) and says what the transaction can spend at most (value + gas *
maxFeePerGas, in wei). ``sign_transaction`` has eth-account build the typed transaction and
its signing hash, has the ``Secp256k1Signer`` sign that digest (so a hardware signer fits),
checks the signature recovers to the account, and returns the raw transaction and its hash.
This module does not judge limits (``limits.py``) or the caller (``service.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_utils.address import is_checksum_address, is_hex_address, to_checksum_address
from eth_utils.crypto import keccak

from lucid.runtime.errors import InvalidArgumentError
from lucid.runtime.pyecc import reset_recursion_limit
from lucid.walletd.chainkeys import Secp256k1Signer, recovers_to

reset_recursion_limit()  # eth-account imported py_ecc: see lucid.runtime.pyecc

MAX_TX_JSON = 512 * 1024  # a contract deployment's init code is at most 48 KiB (EIP-3860)
MIN_GAS = 21_000  # intrinsic gas of any transaction
_UINT64 = 2**64
_UINT256 = 2**256
# Field -> exclusive upper bound. chainId and nonce fit 64 bits (EIP-2294, EIP-2681).
_INTS = {
    "chainId": _UINT64,
    "nonce": _UINT64 - 1,
    "gas": _UINT64,
    "maxFeePerGas": _UINT256,
    "maxPriorityFeePerGas": _UINT256,
    "value": _UINT256,
}
_REQUIRED = ("chainId", "nonce", "gas", "maxFeePerGas", "maxPriorityFeePerGas", "to")
_ALLOWED = frozenset(_INTS) | {"to", "data", "type", "from"}
_DECIMAL = re.compile(r"[0-9]{1,78}")
_HEX_DATA = re.compile(r"0x(?:[0-9a-fA-F]{2})*")


@dataclass(frozen=True)
class EvmTx:
    chain_id: int
    nonce: int
    cost: int  # the most it can spend: value + gas * maxFeePerGas (wei)
    fields: Mapping[str, Any]  # eth-account's dict form of the unsigned type-2 transaction


def evm_address(public_key: bytes) -> str:
    """The EIP-55 address of a 64-byte secp256k1 public key."""
    return str(to_checksum_address(keccak(public_key)[-20:]))


def parse_transaction(text: str, account: str) -> EvmTx:
    """Read the JSON form of an EIP-1559 transaction of ``account``.

    Args:
        text: a JSON object with chainId, nonce, to (null creates a contract), data, value,
            gas, maxFeePerGas, maxPriorityFeePerGas; integers as JSON numbers or decimal
            strings; optional "type" (must be 2) and "from" (must be ``account``).
        account: walletd's EVM address.
    Raises:
        InvalidArgumentError: anything else, naming the field.
    """
    if len(text) > MAX_TX_JSON:
        raise InvalidArgumentError(f"tx is {len(text)} characters, more than {MAX_TX_JSON}")
    try:
        obj = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except ValueError as err:
        raise InvalidArgumentError(f"tx is not JSON: {err}") from err
    if not isinstance(obj, dict):
        raise InvalidArgumentError("tx must be a JSON object")
    unknown = sorted(set(obj) - _ALLOWED)
    if unknown:
        raise InvalidArgumentError(f"tx has fields walletd does not sign: {', '.join(unknown)}")
    missing = [name for name in _REQUIRED if name not in obj]
    if missing:
        raise InvalidArgumentError(f"tx lacks {', '.join(missing)}")
    if obj.get("type", 2) not in (2, "2", "0x2"):
        raise InvalidArgumentError("tx.type: walletd signs only EIP-1559 (type 2) transactions")
    sender = obj.get("from", account)
    if not isinstance(sender, str) or sender.lower() != account.lower():
        raise InvalidArgumentError(f"tx.from is not walletd's EVM account {account}")
    ints = {name: _uint(obj.get(name, 0), name, bound) for name, bound in _INTS.items()}
    if ints["chainId"] == 0:
        raise InvalidArgumentError("tx.chainId must not be 0")
    if ints["gas"] < MIN_GAS:
        raise InvalidArgumentError(f"tx.gas must be at least {MIN_GAS}")
    if ints["maxPriorityFeePerGas"] > ints["maxFeePerGas"]:
        raise InvalidArgumentError("tx.maxPriorityFeePerGas is above tx.maxFeePerGas")
    data = obj.get("data", "0x")
    if not isinstance(data, str) or not _HEX_DATA.fullmatch(data):
        raise InvalidArgumentError("tx.data must be 0x-prefixed hex of whole bytes")
    fields: dict[str, Any] = {"type": 2, **ints, "data": data, "accessList": []}
    to = obj["to"]
    if to is not None:
        if not isinstance(to, str) or not _is_address(to):
            raise InvalidArgumentError("tx.to must be a 0x address (EIP-55 if mixed case) or null")
        fields["to"] = to_checksum_address(to)
    cost = ints["value"] + ints["gas"] * ints["maxFeePerGas"]
    return EvmTx(chain_id=ints["chainId"], nonce=ints["nonce"], cost=cost, fields=fields)


def sign_transaction(signer: Secp256k1Signer, tx: EvmTx) -> tuple[bytes, str]:
    """Sign ``tx`` with ``signer``; return the raw transaction and its hash (0x hex).

    Raises:
        InvalidArgumentError: eth-account refuses the fields.
        RuntimeError: the signer's signature does not recover to its own key.
    """
    try:
        digest = bytes(TypedTransaction.from_dict(dict(tx.fields)).hash())
    except (TypeError, ValueError) as err:
        raise InvalidArgumentError(f"tx: {err}") from err
    signature = signer.sign_digest(digest)
    if not recovers_to(signer.public_key(), digest, signature):
        raise RuntimeError(f"the {signer.name} EVM signer returned a signature of another key")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    signed = TypedTransaction.from_dict({**tx.fields, "v": signature[64], "r": r, "s": s})
    raw = bytes(signed.encode())
    return raw, "0x" + keccak(raw).hex()


def _is_address(text: str) -> bool:
    """0x + 40 hex digits; mixed case only with a valid EIP-55 checksum."""
    if not text.startswith("0x") or not is_hex_address(text):
        return False
    body = text[2:]
    return body in (body.lower(), body.upper()) or bool(is_checksum_address(text))


def _uint(value: object, name: str, bound: int) -> int:
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise InvalidArgumentError(f"tx.{name} must be an integer (JSON number or decimal string)")
    if not 0 <= number < bound:
        raise InvalidArgumentError(f"tx.{name} is out of range")
    return number


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise InvalidArgumentError(f"tx has {key!r} twice")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise InvalidArgumentError(f"tx contains {name}, which is not an integer")
