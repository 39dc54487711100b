from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from google.protobuf import any_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from lucid.runtime.errors import InvalidArgumentError
from lucid.walletd.tronraw import (
    ContractCall,
    TrxTransfer,
    decode_address,
    decode_raw,
    encode_address,
)
from tests.walletd.tronkit import (
    contract_call,
    new_address,
    parse_raw,
    raw_bytes,
    tron_pb2,
    trx_transfer,
)

Raw = tron_pb2.Transaction.raw
Contract = tron_pb2.Transaction.Contract


def _addr(text: str) -> bytes:
    return decode_address(text)


def test_reads_a_trx_transfer_built_by_tronpy() -> None:
    owner, to = new_address(), new_address()
    tx = trx_transfer(owner, to, 1_234_567)
    decoded = decode_raw(raw_bytes(tx))
    assert decoded.contract == TrxTransfer(owner=_addr(owner), to=_addr(to), amount=1_234_567)
    assert decoded.txid == tx.txid
    assert decoded.expiration_ms == tx._raw_data["expiration"]
    assert decoded.fee_limit == 0


def test_reads_a_trc20_transfer_built_by_tronpy() -> None:
    owner, usdt, to = new_address(), new_address(), new_address()
    tx = contract_call(owner, usdt, to, 5_000_000, fee_limit=12_000_000)
    raw = raw_bytes(tx)
    decoded = decode_raw(raw)
    assert isinstance(decoded.contract, ContractCall)
    assert decoded.contract.owner == _addr(owner)
    assert decoded.contract.contract == _addr(usdt)
    assert decoded.contract.data == bytes.fromhex(
        tx._raw_data["contract"][0]["parameter"]["value"]["data"]
    )
    assert decoded.fee_limit == 12_000_000
    assert decoded.txid == hashlib.sha256(raw).hexdigest() == tx.txid
    assert parse_raw(raw).expiration == decoded.expiration_ms  # protobuf agrees


def test_addresses_round_trip() -> None:
    text = new_address()
    assert encode_address(decode_address(text)) == text
    for bad in (
        "",
        "T" + "1" * 33,
        "0x" + "00" * 20,
        text[:-1] + ("A" if text[-1] != "A" else "B"),
    ):
        with pytest.raises(ValueError):
            decode_address(bad)


def _raw_with(contract: Any, **fields: Any) -> bytes:
    raw = Raw(
        ref_block_bytes=b"\xb2\xc3",
        ref_block_hash=b"\xd4\xe5\xf6\x07\x18\x29\x3a\x4b",
        expiration=fields.pop("expiration", 1_900_000_000_000),
        timestamp=1_800_000_000_000,
        contract=[contract] if contract is not None else [],
        **fields,
    )
    return bytes(raw.SerializeToString())


def _transfer(
    amount: int = 1_000, kind: int = 1, url: str = "TransferContract", **extra: Any
) -> Any:
    body = tron_pb2.TransferContract(
        owner_address=_addr(new_address()), to_address=_addr(new_address()), amount=amount
    )
    return Contract(
        type=kind,
        parameter=any_pb2.Any(
            type_url=f"type.googleapis.com/protocol.{url}", value=body.SerializeToString()
        ),
        **extra,
    )


def _trigger(**fields: Any) -> Any:
    body = tron_pb2.TriggerSmartContract(
        owner_address=_addr(new_address()),
        contract_address=_addr(new_address()),
        data=bytes.fromhex("a9059cbb") + bytes(64),
        **fields,
    )
    return Contract(
        type=31,
        parameter=any_pb2.Any(
            type_url="type.googleapis.com/protocol.TriggerSmartContract",
            value=body.SerializeToString(),
        ),
    )


def test_protobuf_built_transfer_is_read() -> None:
    # The refusal cases below differ from this one in one field each.
    decoded = decode_raw(_raw_with(_transfer()))
    assert isinstance(decoded.contract, TrxTransfer) and decoded.contract.amount == 1_000


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (_raw_with(_transfer(), data=b"memo"), "data (memo)"),
        (_raw_with(_transfer(), scripts=b"x"), "scripts"),
        (_raw_with(_transfer(), auths=[tron_pb2.authority(permission_name=b"x")]), "auths"),
        (_raw_with(_transfer(Permission_id=2)), "Permission_id"),
        (_raw_with(_transfer(provider=b"p")), "provider"),
        (_raw_with(_transfer(amount=-5)), "negative"),
        (_raw_with(_transfer(amount=0)), "amount is missing"),
        (_raw_with(_transfer(kind=2, url="TransferAssetContract")), "contract type 2"),
        (_raw_with(_transfer(kind=0, url="AccountCreateContract")), "contract type 0"),
        (_raw_with(_transfer(url="TriggerSmartContract")), "type_url"),
        (_raw_with(_trigger(call_value=1)), "call_value"),
        (_raw_with(_trigger(call_token_value=1, token_id=1_000_001)), "call_token_value"),
        (_raw_with(None), "contract is missing"),
        (_raw_with(_transfer(), expiration=-1), "negative"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_refuses_what_walletd_does_not_sign(raw: bytes, needle: str) -> None:
    with pytest.raises(InvalidArgumentError, match=re.escape(needle)):
        decode_raw(raw)


def test_refuses_two_contracts() -> None:
    raw = Raw(
        ref_block_bytes=b"\xb2\xc3",
        ref_block_hash=bytes(8),
        expiration=1_900_000_000_000,
        contract=[_transfer(), _transfer()],
    )
    with pytest.raises(InvalidArgumentError, match="more than one contract"):
        decode_raw(raw.SerializeToString())


def test_refuses_non_canonical_encodings() -> None:
    good = _raw_with(_transfer())
    decode_raw(good)
    # expiration (field 8, varint) moved in front of ref_block_bytes: same message, other bytes
    first = good.index(b"\x40")  # tag of field 8, wire type 0
    end = first + 1
    while good[end] & 0x80:
        end += 1
    moved = good[first : end + 1] + good[:first] + good[end + 1 :]
    assert parse_raw(moved) == parse_raw(good)
    with pytest.raises(InvalidArgumentError, match="out of order"):
        decode_raw(moved)
    # an explicit zero fee_limit (field 18) that a serialiser would leave out
    with pytest.raises(InvalidArgumentError, match="explicit default"):
        decode_raw(good + b"\x90\x01\x00")
    # a padded varint: fee_limit 1 written in two bytes
    with pytest.raises(InvalidArgumentError, match="padded varint"):
        decode_raw(good + b"\x90\x01\x81\x00")
    with pytest.raises(InvalidArgumentError, match="truncated"):
        decode_raw(good[:-3])
    with pytest.raises(InvalidArgumentError, match="more than"):
        decode_raw(good + b"\x52" + b"\xff\x7f" + bytes(16383))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_is_refused_cleanly(data: bytes) -> None:
    try:
        decode_raw(data)
    except InvalidArgumentError:
        return
    pytest.fail(f"decoded garbage {data.hex()}")


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_single_byte_flips_never_decode_to_something_else(data: st.DataObject) -> None:
    owner, to = new_address(), new_address()
    raw = bytearray(raw_bytes(trx_transfer(owner, to, 7_000_000)))
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] ^= data.draw(st.integers(1, 255))
    try:
        decoded = decode_raw(bytes(raw))
    except InvalidArgumentError:
        return
    # If it still decodes, walletd reports exactly what protobuf itself reads.
    msg = parse_raw(bytes(raw))
    param = tron_pb2.TransferContract()
    param.ParseFromString(msg.contract[0].parameter.value)
    assert isinstance(decoded.contract, TrxTransfer)
    assert decoded.contract.owner == param.owner_address
    assert decoded.contract.to == param.to_address
    assert decoded.contract.amount == param.amount
    assert decoded.expiration_ms == msg.expiration
