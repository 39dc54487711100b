"""The TRON test node refuses what a real node refuses, and moves fake USDT like a TRC20."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest
from tronpy.keys import PrivateKey

from lucid.runtime.errors import NodeUnavailableError
from lucid.tron_node.node import Rejected, TronNode
from lucid.tron_node.testnode import TestNode
from lucid.tron_node.txbuild import broadcast_payload, build_payout
from tests.tron_node.helpers import USDT, address


async def _signed(
    node: TronNode, key: PrivateKey, payee: str, amount: int, *, signer: PrivateKey | None = None
) -> dict[str, Any]:
    tx = await build_payout(
        node.tron,
        owner=address(key),
        contract=USDT,
        function="transfer(address,uint256)",
        payee=payee,
        amount=amount,
        fee_limit_sun=10_000_000,
        expiration_s=60,
        ref_block_id=await node.ref_block_id(),
        now_ms=(await node.head()).timestamp,
    )
    sig = (signer or key).sign_msg_hash(hashlib.sha256(tx.raw_bytes).digest())
    return broadcast_payload(tx.raw_data, tx.txid, bytes.fromhex(sig.hex()))


@pytest.fixture
async def setup(testnode: TestNode) -> Any:
    key, payee = PrivateKey.random(), address(PrivateKey.random())
    testnode.chain.fund_trx(address(key), 10_000_000)
    testnode.chain.mint_usdt(address(key), 1_000_000)
    node = TronNode(testnode.url, timeout_s=2.0)
    yield testnode, node, key, payee
    await node.close()


async def test_a_valid_transfer_is_accepted_executed_and_solidified(setup: Any) -> None:
    testnode, node, key, payee = setup
    body = await _signed(node, key, payee, 250_000)
    assert await node.broadcast(body) is True
    assert await node.tx_info(body["txID"]) is None  # pending: in no block yet
    testnode.produce_block()
    info = await node.tx_info(body["txID"])
    assert info is not None and info.success
    assert await node.tx_info(body["txID"], solid=True) is None  # solid trails by one block
    testnode.produce_block()
    assert await node.tx_info(body["txID"], solid=True) is not None
    assert testnode.chain.usdt_balance(payee) == 250_000
    assert await node.trc20_balance(USDT, address(key)) == 750_000


async def test_txid_must_be_the_hash_of_the_raw_data(setup: Any) -> None:
    _testnode, node, key, payee = setup
    body = await _signed(node, key, payee, 1)
    body["txID"] = "00" * 32
    with pytest.raises(Rejected) as err:
        await node.broadcast(body)
    assert err.value.code == "OTHER_ERROR" and "sha256" in err.value.reason


async def test_changed_raw_data_breaks_the_id_and_the_signature(setup: Any) -> None:
    _testnode, node, key, payee = setup
    body = await _signed(node, key, payee, 1)
    forged = copy.deepcopy(body)
    forged["raw_data"]["fee_limit"] += 1
    forged.pop("raw_data_hex")
    with pytest.raises(Rejected):  # the id no longer matches
        await node.broadcast(forged)
    forged["txID"] = hashlib.sha256(bytes.fromhex(body["raw_data_hex"])).hexdigest()
    forged["raw_data_hex"] = body["raw_data_hex"]
    with pytest.raises(Rejected):  # the hex no longer encodes the JSON
        await node.broadcast(forged)


async def test_signature_must_recover_to_the_owner(setup: Any) -> None:
    testnode, node, key, payee = setup
    body = await _signed(node, key, payee, 1, signer=PrivateKey.random())
    with pytest.raises(Rejected) as err:
        await node.broadcast(body)
    assert err.value.code == "SIGERROR"
    assert testnode.chain.accepted == []


async def test_duplicates_are_refused_but_reported_as_such(setup: Any) -> None:
    testnode, node, key, payee = setup
    body = await _signed(node, key, payee, 1)
    assert await node.broadcast(body) is True
    assert await node.broadcast(body) is False  # DUP_TRANSACTION_ERROR while pending
    testnode.produce_block()
    assert await node.broadcast(body) is False  # and once in a block
    assert testnode.chain.usdt_balance(payee) == 1


async def test_expired_and_unknown_reference_blocks_are_refused(setup: Any) -> None:
    testnode, node, key, payee = setup
    body = await _signed(node, key, payee, 1)
    saved = testnode.chain.clock
    testnode.chain.clock = lambda: body["raw_data"]["expiration"] / 1000 + 1
    with pytest.raises(Rejected) as err:
        await node.broadcast(body)
    assert err.value.code == "TRANSACTION_EXPIRATION_ERROR"

    other = TestNode()  # a different chain: its blocks are unknown here
    async with other:
        foreign = TronNode(other.url)
        try:
            body = await _signed(foreign, key, payee, 1)
        finally:
            await foreign.close()
    testnode.chain.clock = saved
    with pytest.raises(Rejected) as err:
        await node.broadcast(body)
    assert err.value.code == "TAPOS_ERROR"


async def test_a_transfer_beyond_the_balance_reverts_in_its_block(setup: Any) -> None:
    testnode, node, key, payee = setup
    body = await _signed(node, key, payee, 1_000_001)
    assert await node.broadcast(body) is True
    testnode.produce_block()
    info = await node.tx_info(body["txID"])
    assert info is not None and not info.success and "REVERT" in info.reason
    assert testnode.chain.usdt_balance(payee) == 0
    assert testnode.chain.usdt_balance(address(key)) == 1_000_000


async def test_an_unactivated_owner_is_refused(setup: Any) -> None:
    testnode, node, _key, payee = setup
    stranger = PrivateKey.random()
    testnode.chain.mint_usdt(address(stranger), 10)
    with pytest.raises(Rejected) as err:
        await node.broadcast(await _signed(node, stranger, payee, 1))
    assert err.value.code == "CONTRACT_VALIDATE_ERROR"
    assert await node.account(address(stranger)) is None


async def test_down_means_unreachable_and_state_survives(setup: Any) -> None:
    testnode, node, key, payee = setup
    body = await _signed(node, key, payee, 5)
    await node.broadcast(body)
    await testnode.go_down()
    with pytest.raises(NodeUnavailableError):
        await node.head()
    testnode.produce_block()
    await testnode.come_up()
    assert (await node.tx_info(body["txID"])) is not None


async def test_an_endpoint_that_is_not_a_tron_node_is_unavailable(testnode: TestNode) -> None:
    wrong = TronNode(testnode.url + "not-tron/", timeout_s=2.0)  # every path answers 404
    try:
        with pytest.raises(NodeUnavailableError, match="HTTP 404"):
            await wrong.head()
    finally:
        await wrong.close()
