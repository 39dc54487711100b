"""Payouts against the TRON test node with a local signer: states, crashes, faults.

Each "restart" is a new Payer on the same database and node, as the daemon after a crash.
"""

from __future__ import annotations

import asyncio

import pytest
from tronpy.keys import PrivateKey

from lucid.runtime.errors import (
    BroadcastRejectedError,
    ConflictError,
    InsufficientBalanceError,
    InvalidArgumentError,
    NodeUnavailableError,
    NotFoundError,
    NotSupportedError,
)
from lucid.tron_node.ledger import BROADCAST, CONFIRMED, FAILED, PLANNED, SIGNED
from lucid.tron_node.payer import Payer, Terms
from tests.tron_node.helpers import RULE, USDT, LocalSigner, Rig, address, warp_past

EPOCH = 9  # the rig's clock is early in epoch 10


async def _confirm(rig: Rig, payer: Payer) -> None:
    rig.testnode.produce_block()
    rig.testnode.produce_block()
    await payer.resume()


async def test_credits_use_heartbeats_and_merkle_sessions(rig: Rig) -> None:
    payer = await rig.payer()
    await rig.beat_epoch(payer, EPOCH, 7)
    await payer.ledger.beat(RULE.slots(EPOCH)[0])  # a repeated slot counts once
    rig.sessions.add("s-1", 950)
    rig.sessions.add("s-2", 1000)  # epoch 10
    c = await payer.credits(EPOCH)
    assert (c.heartbeats, c.sessions, c.credits, c.amount) == (7, 1, 80, 800_000)
    assert (await payer.credits(-1)).epoch == 10


async def test_a_payout_is_signed_broadcast_and_confirmed_once(rig: Rig) -> None:
    payer = await rig.payer()
    await rig.beat_epoch(payer, EPOCH, 10)
    row = await payer.run(-1)  # the last completed epoch
    assert (row.epoch, row.state, row.amount, row.attempts) == (EPOCH, BROADCAST, 1_000_000, 1)
    assert rig.testnode.chain.accepted == [row.txid]
    await _confirm(rig, payer)
    row = await payer.ledger.get(rig.payee, EPOCH)
    assert row is not None and row.state == CONFIRMED and row.block == 1
    assert rig.testnode.chain.usdt_balance(rig.payee) == 1_000_000
    assert [s for _, s in rig.changes] == [PLANNED, SIGNED, BROADCAST, CONFIRMED]
    again = await payer.run(EPOCH)  # idempotent
    assert again.state == CONFIRMED and rig.signer.signed == [row.txid]
    assert (await payer.ledger.attempts(rig.payee, EPOCH))[0]["outcome"] == "confirmed"


async def test_crash_after_sign_before_broadcast_rebroadcasts_the_same_bytes(rig: Rig) -> None:
    payer = await rig.payer()
    await rig.beat_epoch(payer, EPOCH, 10)
    # Sign, then "crash" before the broadcast reaches the node.
    rig.testnode.hold_broadcasts("before")
    task = asyncio.ensure_future(payer.run(EPOCH))
    await rig.testnode.held.wait()
    task.cancel()  # the process dies here
    rig.testnode.release_broadcasts()
    signed = await payer.ledger.get(rig.payee, EPOCH)
    assert signed is not None and signed.state == SIGNED and signed.txid
    assert rig.testnode.chain.accepted == []  # held before validation: nothing went out
    restarted = await rig.payer()
    await restarted.resume()
    await _confirm(rig, restarted)
    row = await restarted.ledger.get(rig.payee, EPOCH)
    assert row is not None and row.state == CONFIRMED and row.txid == signed.txid
    assert rig.signer.signed == [signed.txid]  # never re-signed
    assert rig.testnode.chain.usdt_balance(rig.payee) == 1_000_000


async def test_crash_after_the_node_accepted_finds_it_by_txid(rig: Rig) -> None:
    payer = await rig.payer()
    await rig.beat_epoch(payer, EPOCH, 10)
    rig.testnode.hold_broadcasts("after")  # accepted, but the answer never arrives
    task = asyncio.ensure_future(payer.run(EPOCH))
    await rig.testnode.held.wait()
    task.cancel()
    rig.testnode.release_broadcasts()
    txid = rig.testnode.chain.accepted[0]
    rig.testnode.produce_block()  # it lands while the daemon is down
    restarted = await rig.payer()
    await restarted.resume()
    row = await restarted.ledger.get(rig.payee, EPOCH)
    assert row is not None and row.state == BROADCAST and row.txid == txid
    await _confirm(rig, restarted)
    assert rig.testnode.chain.accepted == [txid]  # not broadcast again once found in a block
    assert rig.testnode.chain.usdt_balance(rig.payee) == 1_000_000


async def test_node_down_keeps_the_row_and_pays_once_it_is_back(rig: Rig) -> None:
    payer = await rig.payer()
    await rig.beat_epoch(payer, EPOCH, 10)
    await payer.run(EPOCH)
    await rig.testnode.go_down()
    rig.testnode.produce_block()
    errors = await payer.resume()
    assert [type(e) for e in errors] == [NodeUnavailableError]
    row = await payer.ledger.get(rig.payee, EPOCH)
    assert row is not None and row.state == BROADCAST
    assert row.error == "io.lucid.Error.NodeUnavailable" and row.message
    await rig.testnode.come_up()
    await _confirm(rig, payer)
    row = await payer.ledger.get(rig.payee, EPOCH)
    assert row is not None and row.state == CONFIRMED and row.error == ""
    assert rig.testnode.chain.usdt_balance(rig.payee) == 1_000_000


async def test_bad_signature_is_rejected_named_and_recorded(rig: Rig) -> None:
    rig.signer = LocalSigner(PrivateKey.random())  # a signer that is not the owner
    payer = await rig.payer()
    await rig.beat_epoch(payer, EPOCH, 10)
    with pytest.raises(BroadcastRejectedError, match="SIGERROR"):
        await payer.run(EPOCH)
    row = await payer.ledger.get(rig.payee, EPOCH)
    assert row is not None and row.state == FAILED
    assert row.error == "io.lucid.Error.BroadcastRejected" and "SIGERROR" in row.message
    assert rig.testnode.chain.usdt_balance(rig.payee) == 0
    # Re-planning waits until the refused transaction could no longer land anyway.
    with pytest.raises(ConflictError):
        await payer.run(EPOCH)
    warp_past(rig.testnode, row.expiration)
    rig.signer.key = rig.key  # fixed
    assert (await payer.run(EPOCH)).state == BROADCAST
    await _confirm(rig, payer)
    assert rig.testnode.chain.usdt_balance(rig.payee) == 1_000_000
    assert [a["outcome"] for a in await payer.ledger.attempts(rig.payee, EPOCH)] == [
        "rejected",
        "confirmed",
    ]


async def test_insufficient_balance_is_named_kept_and_paid_after_funding(rig: Rig) -> None:
    payer = await rig.payer()
    await rig.beat_epoch(payer, EPOCH, 10)
    rig.testnode.chain.usdt[address(rig.key)] = 999_999
    with pytest.raises(InsufficientBalanceError, match=r"needs 1\.000000"):
        await payer.run(EPOCH)
    row = await payer.ledger.get(rig.payee, EPOCH)
    assert row is not None and row.state == PLANNED and row.attempts == 0
    assert row.error == "io.lucid.Error.InsufficientBalance" and "0.999999" in row.message
    assert rig.signer.signed == []
    rig.testnode.chain.mint_usdt(address(rig.key), 1)
    assert [type(e) for e in await payer.resume()] == []
    await _confirm(rig, payer)
    assert rig.testnode.chain.usdt_balance(rig.payee) == 1_000_000


async def test_a_transfer_reverted_on_chain_fails_named_and_can_be_re_planned(rig: Rig) -> None:
    payer = await rig.payer()
    await rig.beat_epoch(payer, EPOCH, 10)
    await payer.run(EPOCH)
    rig.testnode.chain.usdt[address(rig.key)] = 0  # spent elsewhere before the block
    rig.testnode.produce_block()
    errors = await payer.resume()
    assert errors == []  # terminal: not retried by itself
    row = await payer.ledger.get(rig.payee, EPOCH)
    assert row is not None and row.state == FAILED
    assert row.error == "io.lucid.Error.TransactionFailed" and "REVERT" in row.message
    rig.testnode.chain.mint_usdt(address(rig.key), 1_000_000)
    with pytest.raises(ConflictError):  # still valid until its expiration, in principle
        await payer.run(EPOCH)
    warp_past(rig.testnode, row.expiration)
    assert (await payer.run(EPOCH)).attempts == 2
    await _confirm(rig, payer)
    assert rig.testnode.chain.usdt_balance(rig.payee) == 1_000_000


async def test_a_dropped_transaction_is_re_signed_only_after_it_expired(rig: Rig) -> None:
    payer = await rig.payer()
    await rig.beat_epoch(payer, EPOCH, 10)
    first = await payer.run(EPOCH)
    rig.testnode.chain.pending.clear()  # the node lost it (restart, pool eviction)
    await payer.resume()
    row = await payer.ledger.get(rig.payee, EPOCH)
    assert row is not None and row.state == BROADCAST and row.txid == first.txid  # waits
    warp_past(rig.testnode, first.expiration)
    await payer.resume()  # expired -> planned
    await payer.resume()  # -> signed -> broadcast with a new transaction
    row = await payer.ledger.get(rig.payee, EPOCH)
    assert row is not None and row.state == BROADCAST and row.txid != first.txid
    await _confirm(rig, payer)
    assert rig.testnode.chain.usdt_balance(rig.payee) == 1_000_000
    outcomes = [a["outcome"] for a in await payer.ledger.attempts(rig.payee, EPOCH)]
    assert outcomes == ["expired", "confirmed"]


async def test_auto_plan_pays_completed_epochs_with_heartbeats_once(rig: Rig) -> None:
    payer = await rig.payer()
    await rig.beat_epoch(payer, 7, 5)
    await rig.beat_epoch(payer, 8, 5)
    await rig.beat_epoch(payer, EPOCH, 10)
    await payer.heartbeat()  # epoch 10: still running, not planned
    await payer.run(8)  # paid by hand first: neither hides 7 nor plans 8 again
    planned = await payer.auto_plan()
    assert [p.epoch for p in planned] == [7, EPOCH]
    assert await payer.auto_plan() == []
    await payer.resume()
    await _confirm(rig, payer)
    assert rig.testnode.chain.usdt_balance(rig.payee) == 500_000 * 2 + 1_000_000
    rig.clock.t += RULE.epoch_s  # epoch 10 ends
    assert [p.epoch for p in await payer.auto_plan()] == [10]
    restarted = await rig.payer()  # a fresh scan after a start finds nothing left
    assert await restarted.auto_plan() == []


async def test_an_epoch_is_paid_to_one_payee_only(rig: Rig) -> None:
    payer = await rig.payer()
    await rig.beat_epoch(payer, EPOCH, 10)
    await payer.run(EPOCH)
    other = await rig.payer(payee=address(PrivateKey.random()))
    with pytest.raises(ConflictError):
        await other.run(EPOCH)
    assert await other.auto_plan() == []


async def test_router_variant_calls_the_configured_function(rig: Rig) -> None:
    router = address(PrivateKey.random())
    rig.testnode.chain.payout_router = router
    rig.testnode.chain.mint_usdt(router, 5_000_000)
    payer = await rig.payer(method="router", payout_router=router)
    await rig.beat_epoch(payer, EPOCH, 10)
    row = await payer.run(EPOCH)
    assert row.method == "router" and row.contract == router and row.raw_data is not None
    data = row.raw_data["contract"][0]["parameter"]["value"]["data"]
    assert data.startswith("117de2fd")  # payout(address,uint256), not transfer()
    await _confirm(rig, payer)
    assert rig.testnode.chain.usdt_balance(rig.payee) == 1_000_000
    assert rig.testnode.chain.usdt_balance(router) == 4_000_000


async def test_misuse_is_refused_by_name(rig: Rig) -> None:
    payer = await rig.payer()
    with pytest.raises(InvalidArgumentError):
        await payer.run(10)  # still running
    with pytest.raises(NotFoundError):
        await payer.run(EPOCH)  # no heartbeats: no credits
    off = Payer(
        payer.ledger,
        None,
        RULE,
        Terms("", "usdt", USDT, "", "", 1, 60),
        sign=rig.signer,
        sessions=rig.sessions,
        account=payer.account,
    )
    with pytest.raises(NotSupportedError):
        await off.run(EPOCH)
