from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from lucid.runtime.errors import InvalidArgumentError
from lucid.walletd.chainkeys import EVM_KEY_FILE, FileSecp256k1Signer, recovers_to
from lucid.walletd.evm import EvmTx, evm_address, parse_transaction, sign_transaction
from lucid.walletd.keys import KeyStoreError

TO = "0x09616C3d61b3331fc4109a9E41a8BDB7d9776609"


def _tx(**changes: Any) -> dict[str, Any]:
    tx: dict[str, Any] = {
        "chainId": 31337,
        "nonce": 3,
        "to": TO,
        "data": "0x616263",
        "value": "1000",
        "gas": 60_000,
        "maxFeePerGas": "2000000000",
        "maxPriorityFeePerGas": 1_000_000_000,
    }
    tx.update(changes)
    return {k: v for k, v in tx.items() if v is not ...}


@pytest.fixture
def signer(tmp_path: Path) -> FileSecp256k1Signer:
    return FileSecp256k1Signer(tmp_path, EVM_KEY_FILE)


def test_signature_matches_eth_account_and_recovers(
    signer: FileSecp256k1Signer, tmp_path: Path
) -> None:
    account = evm_address(signer.public_key())
    tx = parse_transaction(json.dumps(_tx()), account)
    assert tx.cost == 1000 + 60_000 * 2_000_000_000
    raw, tx_hash = sign_transaction(signer, tx)
    assert Account.recover_transaction(raw) == account
    # eth-account signing with the same key gives the same bytes (RFC 6979 nonces).
    secret = (tmp_path / EVM_KEY_FILE).read_bytes()
    expected = Account.sign_transaction({**tx.fields}, secret)
    assert raw == bytes(expected.raw_transaction)
    assert tx_hash == "0x" + bytes(expected.hash).hex()
    assert Account.from_key(secret).address == account


def test_contract_creation_has_no_to(signer: FileSecp256k1Signer) -> None:
    account = evm_address(signer.public_key())
    tx = parse_transaction(json.dumps(_tx(to=None, value=0, data="0x6000")), account)
    raw, _ = sign_transaction(signer, tx)
    assert Account.recover_transaction(raw) == account
    assert "to" not in tx.fields


def test_from_and_type_are_accepted_only_when_right(signer: FileSecp256k1Signer) -> None:
    account = evm_address(signer.public_key())
    parse_transaction(json.dumps(_tx(**{"from": account.lower(), "type": 2})), account)
    with pytest.raises(InvalidArgumentError, match="from"):
        parse_transaction(json.dumps(_tx(**{"from": TO})), account)
    with pytest.raises(InvalidArgumentError, match="type 2"):
        parse_transaction(json.dumps(_tx(type=0)), account)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[1, 2]", "JSON object"),
        ("{", "not JSON"),
        (json.dumps(_tx(accessList=[])), "accessList"),
        (json.dumps(_tx(gasPrice=1)), "gasPrice"),
        (json.dumps(_tx(nonce=...)), "lacks nonce"),
        (json.dumps(_tx(to=...)), "lacks to"),
        (json.dumps(_tx(value=1.5)), "value must be an integer"),
        (json.dumps(_tx(value=True)), "value must be an integer"),
        (json.dumps(_tx(value="0x10")), "value must be an integer"),
        (json.dumps(_tx(value=-1)), "value is out of range"),
        (json.dumps(_tx(value=2**256)), "value is out of range"),
        (json.dumps(_tx(nonce=2**64 - 1)), "nonce is out of range"),
        (json.dumps(_tx(chainId=0)), "chainId must not be 0"),
        (json.dumps(_tx(gas=20_999)), "gas must be at least"),
        (json.dumps(_tx(maxPriorityFeePerGas=3_000_000_000)), "above tx.maxFeePerGas"),
        (json.dumps(_tx(to=TO.lower()[:-1])), "tx.to"),
        (json.dumps(_tx(to=TO[:-1] + "8")), "tx.to"),  # EIP-55 checksum broken
        (json.dumps(_tx(data="0x123")), "tx.data"),
        (json.dumps(_tx(data="abcd")), "tx.data"),
        ('{"chainId": 1, "chainId": 2}', "'chainId' twice"),
        ('{"value": NaN}', "NaN"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 40 else "",
)
def test_refuses_malformed_transactions(text: str, needle: str) -> None:
    with pytest.raises(InvalidArgumentError, match=needle):
        parse_transaction(text, TO)


def test_checksum_and_lowercase_to_are_the_same(signer: FileSecp256k1Signer) -> None:
    account = evm_address(signer.public_key())
    a = parse_transaction(json.dumps(_tx(to=TO.lower())), account)
    b = parse_transaction(json.dumps(_tx(to=TO)), account)
    assert a == b and isinstance(a, EvmTx)


def test_key_file_is_private_and_stable(tmp_path: Path) -> None:
    first = FileSecp256k1Signer(tmp_path, EVM_KEY_FILE)
    second = FileSecp256k1Signer(tmp_path, EVM_KEY_FILE)
    assert first.public_key() == second.public_key()
    assert (tmp_path / EVM_KEY_FILE).stat().st_mode & 0o077 == 0
    assert not list(tmp_path.glob("*.tmp"))


def test_corrupt_key_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "zero").write_bytes(bytes(32))
    with pytest.raises(KeyStoreError, match="not a secp256k1 key"):
        FileSecp256k1Signer(tmp_path, "zero")
    (tmp_path / "short").write_bytes(bytes(31))
    with pytest.raises(KeyStoreError, match="corrupt"):
        FileSecp256k1Signer(tmp_path, "short")


def test_recovers_to_rejects_other_keys_and_bad_v(tmp_path: Path) -> None:
    a = FileSecp256k1Signer(tmp_path, "a")
    b = FileSecp256k1Signer(tmp_path, "b")
    digest = bytes(range(32))
    sig = a.sign_digest(digest)
    assert recovers_to(a.public_key(), digest, sig)
    assert not recovers_to(b.public_key(), digest, sig)
    assert not recovers_to(a.public_key(), digest, sig[:64] + bytes([27]))
    assert not recovers_to(a.public_key(), bytes(32), sig)
    with pytest.raises(ValueError, match="32 bytes"):
        a.sign_digest(b"short")
