"""A strict decoder of TRON ``Transaction.raw`` (protobuf) for the two kinds walletd signs.

walletd signs sha256 of the bytes it is given, so it must read those bytes itself rather
than trust a description of them. This decoder reads only ``TransferContract`` (TRX) and
``TriggerSmartContract`` raw data, as tronpy's ``tron.proto`` defines them, and refuses
everything else: unknown or unused fields (auths, memo ``data``, scripts, provider),
another contract type, more than one contract, a permission other than the owner's,
negative numbers, truncated or overlong input. It also refuses encodings a protobuf
serialiser would not produce (fields out of order or repeated, explicit default values,
padded varints), so the id it returns is the one a node computes after re-serialising.
It does not judge who may be paid or how much (``tron.py`` does) and does not sign.

Every error is an ``InvalidArgumentError`` whose message names the field.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import Enum

import base58

from lucid.runtime.errors import InvalidArgumentError

ADDRESS_PREFIX = 0x41  # a TRON address is 0x41 || the 20-byte account id
ADDRESS_SIZE = 21
MAX_RAW_SIZE = 8192  # a transfer or a call of transfer(address,uint256) is ~200 bytes
TRANSFER_CONTRACT = 1  # Transaction.Contract.ContractType
TRIGGER_SMART_CONTRACT = 31
TYPE_URL = "type.googleapis.com/protocol."
_INT64_MAX = 2**63 - 1
_PAYOUT_SHAPE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\(address,uint256\)")


class _Kind(Enum):
    INT = 0  # varint: int64 / int32 / enum (walletd accepts no negative value)
    BYTES = 2  # length-delimited: bytes, string or an embedded message


@dataclass(frozen=True)
class _Field:
    name: str
    kind: _Kind


# Field number -> field, per message; a number missing here is refused. Refused fields
# that a real transaction might carry are named so the error says what to drop.
_RAW = {
    1: _Field("ref_block_bytes", _Kind.BYTES),
    3: _Field("ref_block_num", _Kind.INT),
    4: _Field("ref_block_hash", _Kind.BYTES),
    8: _Field("expiration", _Kind.INT),
    11: _Field("contract", _Kind.BYTES),
    14: _Field("timestamp", _Kind.INT),
    18: _Field("fee_limit", _Kind.INT),
}
_RAW_REFUSED = {9: "auths", 10: "data (memo)", 12: "scripts"}
_CONTRACT = {1: _Field("type", _Kind.INT), 2: _Field("parameter", _Kind.BYTES)}
_CONTRACT_REFUSED = {3: "provider", 4: "ContractName", 5: "Permission_id (not the owner's)"}
_ANY = {1: _Field("type_url", _Kind.BYTES), 2: _Field("value", _Kind.BYTES)}
_TRANSFER = {
    1: _Field("owner_address", _Kind.BYTES),
    2: _Field("to_address", _Kind.BYTES),
    3: _Field("amount", _Kind.INT),
}
_TRIGGER = {
    1: _Field("owner_address", _Kind.BYTES),
    2: _Field("contract_address", _Kind.BYTES),
    4: _Field("data", _Kind.BYTES),
}
_TRIGGER_REFUSED = {
    3: "call_value (TRX sent with a call)",
    5: "call_token_value (TRC10 sent with a call)",
    6: "token_id",
}


@dataclass(frozen=True)
class TrxTransfer:
    """``TransferContract``: ``amount`` sun from ``owner`` to ``to`` (21-byte addresses)."""

    owner: bytes
    to: bytes
    amount: int


@dataclass(frozen=True)
class ContractCall:
    """``TriggerSmartContract`` without TRX or TRC10 attached: ``data`` sent to ``contract``."""

    owner: bytes
    contract: bytes
    data: bytes


@dataclass(frozen=True)
class TronRaw:
    """A decoded ``Transaction.raw``; ``txid`` is sha256 of the exact bytes (hex)."""

    contract: TrxTransfer | ContractCall
    expiration_ms: int
    fee_limit: int  # sun; 0 when absent
    txid: str


def decode_raw(raw: bytes) -> TronRaw:
    """Decode ``raw`` (a serialised ``Transaction.raw``) if it is a kind walletd signs.

    Raises:
        InvalidArgumentError: not canonical protobuf, or a field or kind walletd refuses.
    """
    if len(raw) > MAX_RAW_SIZE:
        raise InvalidArgumentError(f"raw_data is {len(raw)} bytes, more than {MAX_RAW_SIZE}")
    top = _message(raw, "raw", _RAW, _RAW_REFUSED)
    for name in ("ref_block_bytes", "ref_block_hash", "expiration", "contract"):
        _require(top, name, "raw")
    if len(_as_bytes(top["ref_block_bytes"])) != 2 or len(_as_bytes(top["ref_block_hash"])) != 8:
        raise InvalidArgumentError("raw.ref_block_bytes / ref_block_hash must be 2 / 8 bytes")
    contract = _message(_as_bytes(top["contract"]), "raw.contract", _CONTRACT, _CONTRACT_REFUSED)
    _require(contract, "parameter", "raw.contract")
    kind = _as_int(contract.get("type", 0))  # proto3 leaves out 0 (AccountCreateContract)
    param = _message(_as_bytes(contract["parameter"]), "raw.contract.parameter", _ANY, {})
    _require(param, "type_url", "raw.contract.parameter")
    _require(param, "value", "raw.contract.parameter")
    body = _as_bytes(param["value"])
    decoded: TrxTransfer | ContractCall
    if kind == TRANSFER_CONTRACT:
        _check_type_url(param, "TransferContract")
        fields = _message(body, "TransferContract", _TRANSFER, {})
        for name in ("owner_address", "to_address", "amount"):
            _require(fields, name, "TransferContract")
        decoded = TrxTransfer(
            owner=_address(fields, "owner_address", "TransferContract"),
            to=_address(fields, "to_address", "TransferContract"),
            amount=_as_int(fields["amount"]),
        )
    elif kind == TRIGGER_SMART_CONTRACT:
        _check_type_url(param, "TriggerSmartContract")
        fields = _message(body, "TriggerSmartContract", _TRIGGER, _TRIGGER_REFUSED)
        for name in ("owner_address", "contract_address", "data"):
            _require(fields, name, "TriggerSmartContract")
        decoded = ContractCall(
            owner=_address(fields, "owner_address", "TriggerSmartContract"),
            contract=_address(fields, "contract_address", "TriggerSmartContract"),
            data=_as_bytes(fields["data"]),
        )
    else:
        raise InvalidArgumentError(
            f"contract type {kind} is not signed by walletd "
            "(only TransferContract and TriggerSmartContract)"
        )
    return TronRaw(
        contract=decoded,
        expiration_ms=_as_int(top["expiration"]),
        fee_limit=_as_int(top.get("fee_limit", 0)),
        txid=hashlib.sha256(raw).hexdigest(),
    )


def decode_address(text: str) -> bytes:
    """The 21 bytes of a base58check TRON address (``T...``).

    Raises:
        ValueError: not a base58check TRON address.
    """
    try:
        raw = base58.b58decode_check(text)
    except ValueError as err:
        raise ValueError(f"{text!r} is not a base58check TRON address") from err
    if len(raw) != ADDRESS_SIZE or raw[0] != ADDRESS_PREFIX:
        raise ValueError(f"{text!r} is not a TRON address")
    return raw


def is_payout_function(signature: str) -> bool:
    """True for ``name(address,uint256)``: the only call whose amount walletd can read."""
    return _PAYOUT_SHAPE.fullmatch(signature) is not None


def encode_address(raw: bytes) -> str:
    """base58check form (``T...``) of a 21-byte TRON address."""
    return base58.b58encode_check(raw).decode("ascii")


def _message(
    buf: bytes, where: str, known: dict[int, _Field], refused: dict[int, str]
) -> dict[str, int | bytes]:
    out: dict[str, int | bytes] = {}
    pos = 0
    last = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos, where)
        number, wire = key >> 3, key & 7
        if number in refused:
            raise InvalidArgumentError(f"{where}.{refused[number]} is not accepted by walletd")
        field = known.get(number)
        if field is None:
            raise InvalidArgumentError(f"{where}: field {number} is not accepted by walletd")
        if number <= last:
            what = "more than one contract" if number == 11 and where == "raw" else "repeated"
            raise InvalidArgumentError(f"{where}.{field.name}: {what} or out of order")
        last = number
        if wire != field.kind.value:
            raise InvalidArgumentError(f"{where}.{field.name}: wrong wire type {wire}")
        value: int | bytes
        if field.kind is _Kind.INT:
            value, pos = _varint(buf, pos, f"{where}.{field.name}")
            if value > _INT64_MAX:
                raise InvalidArgumentError(f"{where}.{field.name} is negative")
            empty = value == 0
        else:
            length, pos = _varint(buf, pos, f"{where}.{field.name}")
            if length > len(buf) - pos:
                raise InvalidArgumentError(f"{where}.{field.name} is truncated")
            value = buf[pos : pos + length]
            pos += length
            empty = length == 0
        if empty:  # a serialiser leaves out default values; the node's id would differ
            raise InvalidArgumentError(f"{where}.{field.name}: explicit default value")
        out[field.name] = value
    return out


def _varint(buf: bytes, pos: int, where: str) -> tuple[int, int]:
    value = 0
    for i in range(10):
        if pos + i >= len(buf):
            raise InvalidArgumentError(f"{where}: truncated varint")
        byte = buf[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if byte == 0 and i > 0:
                raise InvalidArgumentError(f"{where}: padded varint")
            if value >= 2**64:
                raise InvalidArgumentError(f"{where}: varint above 64 bits")
            return value, pos + i + 1
    raise InvalidArgumentError(f"{where}: varint longer than 10 bytes")


def _require(fields: dict[str, int | bytes], name: str, where: str) -> None:
    if name not in fields:
        raise InvalidArgumentError(f"{where}.{name} is missing")


def _check_type_url(param: dict[str, int | bytes], name: str) -> None:
    if _as_bytes(param["type_url"]) != (TYPE_URL + name).encode():
        raise InvalidArgumentError(f"raw.contract.parameter.type_url is not {TYPE_URL}{name}")


def _address(fields: dict[str, int | bytes], name: str, where: str) -> bytes:
    raw = _as_bytes(fields[name])
    if len(raw) != ADDRESS_SIZE or raw[0] != ADDRESS_PREFIX:
        raise InvalidArgumentError(f"{where}.{name} is not a TRON address")
    return raw


def _as_bytes(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError("schema bug: expected bytes")
    return value


def _as_int(value: int | bytes) -> int:
    if not isinstance(value, int):
        raise TypeError("schema bug: expected an integer")
    return value
