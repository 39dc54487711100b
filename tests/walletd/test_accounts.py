"""walletd's chain accounts over the real bus, with walletd as a real process."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import nacl.bindings
import pytest
from dbus_fast.aio import MessageBus
from eth_account import Account
from eth_utils.crypto import keccak
from tronpy.keys import PublicKey, Signature  # type: ignore[import-untyped]  # no hints

from lucid.runtime.bus import connect
from lucid.runtime.errors import InvalidArgumentError, LimitExceededError, NotAuthorizedError
from lucid.walletd.client import WalletdClient
from tests.conftest import LucidEnv
from tests.walletd.tronkit import contract_call, new_address, raw_bytes, trx_transfer

GWEI = 10**9
CHAIN_CLIENT = "io.lucid.ChainClient1"
TRON_NODE = "io.lucid.TronNode1"


def _evm_tx(nonce: int, value: int = 0, gas: int = 100_000, max_fee: int = GWEI) -> str:
    return json.dumps(
        {
            "chainId": 31337,
            "nonce": nonce,
            "to": "0x09616C3d61b3331fc4109a9E41a8BDB7d9776609",
            "data": "0x",
            "value": str(value),
            "gas": gas,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": max_fee,
        }
    )


async def _caller(lucid: LucidEnv, name: str) -> MessageBus:
    """A second connection that owns ``name``, acting as that daemon."""
    conn = await connect(lucid.bus_address)
    await conn.request_name(name)
    return conn


async def test_accounts_are_stable_private_and_bound(lucid: LucidEnv, bus: MessageBus) -> None:
    ds = await lucid.start("walletd")
    client = WalletdClient(bus)
    # the first calls load the chain code; concurrent ones wait for the same load
    first = await asyncio.gather(*(client.get_accounts() for _ in range(4)))
    accounts = first[0]
    assert all(a == accounts for a in first)
    assert set(accounts) == {"evm", "tron", "evm_binding"}
    assert accounts["evm"].startswith("0x") and accounts["evm"] != accounts["evm"].lower()
    assert accounts["tron"].startswith("T") and len(accounts["tron"]) == 34
    # the binding is the identity key's signature over the documented message
    identity = bytes.fromhex((await client.get_identity())["ed25519"])
    message = b"lucid.bind.v1\x00evm:" + accounts["evm"][2:].lower().encode()
    signed = bytes.fromhex(accounts["evm_binding"]) + message
    assert nacl.bindings.crypto_sign_open(signed, identity) == message
    await ds.stop("walletd")
    await ds.start("walletd")
    assert await client.get_accounts() == accounts
    state = lucid.state / "walletd"
    for name in ("evm.secp256k1", "tron.secp256k1"):
        assert (state / name).stat().st_mode & 0o077 == 0
    # neither secret left walletd: not in any reply, not in its log
    secrets = [(state / n).read_bytes() for n in ("evm.secp256k1", "tron.secp256k1")]
    replies = json.dumps([accounts, await client.get_identity()]).lower()
    log = ds.log_path("walletd").read_bytes().lower()
    for secret in secrets:
        assert secret.hex() not in replies and secret.hex().encode() not in log
        assert secret not in log


async def test_evm_signature_recovers_to_the_account(lucid: LucidEnv, bus: MessageBus) -> None:
    await lucid.start("walletd")
    client = WalletdClient(bus)
    account = (await client.get_accounts())["evm"]
    chain_client = await _caller(lucid, CHAIN_CLIENT)
    try:
        raw, tx_hash = await WalletdClient(chain_client).sign_evm_transaction(_evm_tx(0, 5))
    finally:
        chain_client.disconnect()
    assert Account.recover_transaction(raw) == account
    assert raw[0] == 2  # EIP-1559
    assert tx_hash == "0x" + keccak(raw).hex()


async def test_only_chain_client_signs_evm_and_only_tron_node_tron(
    lucid: LucidEnv, bus: MessageBus
) -> None:
    await lucid.start("walletd")
    accounts = await WalletdClient(bus).get_accounts()
    tron_raw = raw_bytes(trx_transfer(accounts["tron"], new_address(), 1_000))
    with pytest.raises(NotAuthorizedError, match="chain_client"):
        await WalletdClient(bus).sign_evm_transaction(_evm_tx(0))
    with pytest.raises(NotAuthorizedError, match="tron_node"):
        await WalletdClient(bus).sign_tron_transaction(tron_raw)
    tron_node = await _caller(lucid, TRON_NODE)
    chain_client = await _caller(lucid, CHAIN_CLIENT)
    try:
        with pytest.raises(NotAuthorizedError):
            await WalletdClient(tron_node).sign_evm_transaction(_evm_tx(0))
        with pytest.raises(NotAuthorizedError):
            await WalletdClient(chain_client).sign_tron_transaction(tron_raw)
        # the right callers are served
        await WalletdClient(chain_client).sign_evm_transaction(_evm_tx(0))
        await WalletdClient(tron_node).sign_tron_transaction(tron_raw)
    finally:
        tron_node.disconnect()
        chain_client.disconnect()


async def test_evm_limits_per_transaction_and_per_day_survive_restart(
    lucid: LucidEnv, bus: MessageBus
) -> None:
    cost = 100_000 * GWEI  # gas * maxFeePerGas with value 0
    lucid.set("walletd", "evm_limit_tx_wei", str(2 * cost))
    lucid.set("walletd", "evm_limit_day_wei", str(3 * cost))
    ds = await lucid.start("walletd")
    chain_client = await _caller(lucid, CHAIN_CLIENT)
    client = WalletdClient(chain_client)
    try:
        with pytest.raises(LimitExceededError, match="evm_limit_tx_wei"):
            await client.sign_evm_transaction(_evm_tx(0, value=cost + 1))
        await client.sign_evm_transaction(_evm_tx(0, value=cost))  # 2 * cost: at the limit
        first = await client.sign_evm_transaction(_evm_tx(1))  # 3 * cost today
        await ds.stop("walletd")
        await ds.start("walletd")
        with pytest.raises(LimitExceededError, match="evm_limit_day_wei"):
            await client.sign_evm_transaction(_evm_tx(2))
        # the same transaction again is the same spend: signed, not charged again
        assert await client.sign_evm_transaction(_evm_tx(1)) == first
    finally:
        chain_client.disconnect()


async def test_evm_bad_input_is_invalid_argument(lucid: LucidEnv, bus: MessageBus) -> None:
    await lucid.start("walletd")
    chain_client = await _caller(lucid, CHAIN_CLIENT)
    try:
        for bad in (
            "garbage",
            json.dumps({"chainId": 1}),
            _evm_tx(0).replace('"gas"', '"gasPrice"'),
        ):
            with pytest.raises(InvalidArgumentError):
                await WalletdClient(chain_client).sign_evm_transaction(bad)
    finally:
        chain_client.disconnect()


@pytest.fixture
def tron_config(lucid: LucidEnv) -> dict[str, str]:
    contracts = {"usdt": new_address(), "router": new_address()}
    lucid.set("walletd", "tron_usdt_contract", contracts["usdt"])
    lucid.set("walletd", "tron_payout_router", contracts["router"])
    lucid.set("walletd", "tron_limit_tx", str(50_000_000))
    lucid.set("walletd", "tron_limit_day", str(100_000_000))
    return contracts


async def _sign_tron(lucid: LucidEnv, *raws: bytes) -> list[Any]:
    tron_node = await _caller(lucid, TRON_NODE)
    out: list[Any] = []
    try:
        for raw in raws:
            try:
                out.append(await WalletdClient(tron_node).sign_tron_transaction(raw))
            except Exception as err:
                out.append(err)
    finally:
        tron_node.disconnect()
    return out


def _recovers(signature: bytes, txid: str) -> str:
    return str(
        PublicKey.recover_from_msg_hash(
            bytes.fromhex(txid), Signature(signature)
        ).to_base58check_address()
    )


async def test_tron_transfers_are_signed_by_the_account(
    lucid: LucidEnv, bus: MessageBus, tron_config: dict[str, str]
) -> None:
    await lucid.start("walletd")
    account = (await WalletdClient(bus).get_accounts())["tron"]
    payee = new_address()
    txs = [
        trx_transfer(account, payee, 1_500_000),
        contract_call(account, tron_config["usdt"], payee, 2_000_000),
        contract_call(account, tron_config["router"], payee, 3_000_000, function="payout"),
    ]
    results = await _sign_tron(lucid, *(raw_bytes(tx) for tx in txs))
    for tx, (signature, txid) in zip(txs, results, strict=True):
        assert txid == tx.txid
        assert len(signature) == 65 and signature[64] in (0, 1)
        assert txid == hashlib.sha256(raw_bytes(tx)).hexdigest()
        assert _recovers(signature, txid) == account


async def test_tron_refusals(lucid: LucidEnv, bus: MessageBus, tron_config: dict[str, str]) -> None:
    await lucid.start("walletd")
    account = (await WalletdClient(bus).get_accounts())["tron"]
    payee = new_address()
    foreign = raw_bytes(contract_call(payee, tron_config["usdt"], account, 1_000))
    unknown = raw_bytes(contract_call(account, new_address(), payee, 1_000))
    expired = raw_bytes(trx_transfer(account, payee, 1_000, lifetime_ms=-1_000))
    garbage = b"\x0a\x02\xb2\xc3" + bytes(range(40))
    results = await _sign_tron(lucid, foreign, unknown, expired, garbage, b"")
    for result, needle in zip(
        results,
        ["not walletd's TRON account", "neither", "expired", "", "missing"],
        strict=True,
    ):
        assert isinstance(result, InvalidArgumentError), result
        assert needle in result.message


async def test_tron_limits_count_trx_and_usdt_separately(
    lucid: LucidEnv, bus: MessageBus, tron_config: dict[str, str]
) -> None:
    ds = await lucid.start("walletd")
    account = (await WalletdClient(bus).get_accounts())["tron"]
    payee = new_address()
    usdt = tron_config["usdt"]
    # per transaction: 50 USDT; fee_limit 30 TRX counts as TRX
    over = raw_bytes(contract_call(account, usdt, payee, 50_000_001))
    first = raw_bytes(contract_call(account, usdt, payee, 50_000_000))
    second = raw_bytes(contract_call(account, usdt, payee, 40_000_000))
    (r_over, r_first, r_second) = await _sign_tron(lucid, over, first, second)
    assert isinstance(r_over, LimitExceededError) and "tron_limit_tx" in r_over.message
    assert isinstance(r_first, tuple) and isinstance(r_second, tuple)
    await ds.stop("walletd")
    await ds.start("walletd")
    # 90 USDT and 60 TRX (two fee limits) spent today; the day allows 100 of each
    third = raw_bytes(contract_call(account, usdt, payee, 10_000_001))
    trx_ok = raw_bytes(trx_transfer(account, payee, 40_000_000))
    trx_over = raw_bytes(trx_transfer(account, payee, 1))
    r_third, r_trx_ok, r_trx_over, r_again = await _sign_tron(lucid, third, trx_ok, trx_over, first)
    assert isinstance(r_third, LimitExceededError) and "usdt" in r_third.message
    assert isinstance(r_trx_ok, tuple)
    assert isinstance(r_trx_over, LimitExceededError) and "trx" in r_trx_over.message
    assert r_again == r_first  # re-signing a signed transaction charges nothing
