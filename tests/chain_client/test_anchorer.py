"""Anchorer against a real anvil and a real SQLite queue, stepped by hand (no bus).

walletd is `LocalSigner` (the same interface, a real secp256k1 key). Time is a fake clock;
blocks advance only when a test mines them, so nothing depends on the wall clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from lucid.chain_client import artifacts
from lucid.chain_client.anchorer import Anchorer, AnchorSettings
from lucid.chain_client.batcher import BatchPolicy
from lucid.chain_client.errors import (
    ChainError,
    FeeCapError,
    InsufficientFundsError,
    RpcUnavailableError,
    SignerRefusedError,
    TxRevertedError,
    WrongChainError,
)
from lucid.chain_client.fees import FeePolicy
from lucid.chain_client.proofs import build_proof
from lucid.chain_client.queue import MIGRATIONS, AnchorQueue
from lucid.chain_client.rpc import ChainRpc
from lucid.evidence.anchor import AnchorProof, http_rpc, verify_online
from lucid.runtime.db import open_db
from tests.chain_client.chainkit import DevChain, LocalSigner, RpcProxy

ETH = 10**18


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    def __init__(self, db_path: Path, chain: DevChain, contract: str, rpc_url: str) -> None:
        self.db_path = db_path
        self.chain = chain
        self.contract = contract
        self.rpc_url = rpc_url
        self.signer = LocalSigner()
        self.clock = Clock()
        self.anchored: list[tuple[int, str, int]] = []
        self.settings = AnchorSettings(
            batch=BatchPolicy(size=3, window_s=60.0),
            fees=FeePolicy(max_fee=100 * 10**9, max_tip=2 * 10**9, min_tip=10**6),
            confirmations=3,
            poll_s=0.0,
        )
        self._closers: list[object] = []
        self.queue: AnchorQueue
        self.anchorer: Anchorer

    async def open(self, **changes: object) -> Anchorer:
        """(Re)open the db and build a fresh Anchorer over it, as a restarted daemon does."""
        await self.close()
        self.db = await open_db(self.db_path, MIGRATIONS)
        self.queue = AnchorQueue(self.db)
        self.rpc = ChainRpc(self.rpc_url, artifacts.load(artifacts.ANCHORS), self.contract)
        self.anchorer = Anchorer(
            self.queue,
            self.rpc,
            self.signer,
            replace(self.settings, **changes),  # type: ignore[arg-type]  # test overrides
            clock=self.clock,
            on_anchored=lambda n, tx, block: self.anchored.append((n, tx, block)),
        )
        self._closers = [self.db, self.rpc]
        return self.anchorer

    async def close(self) -> None:
        for c in self._closers:
            await c.close()  # type: ignore[attr-defined]  # db and rpc both have close()
        self._closers = []

    async def enqueue(self, *sessions: str) -> None:
        for s in sessions:
            root = bytes([len(s)]) * 16 + s.encode().ljust(16, b"_")[:16]
            await self.queue.enqueue(s, root.hex(), self.clock())

    async def steps(self, n: int = 4) -> None:
        for _ in range(n):
            await self.anchorer.step()

    async def live(self) -> list[str]:
        return [f"{t.kind}:{t.state}" for t in await self.queue.live_txs()]

    async def proof(self, session: str) -> AnchorProof:
        row = await self.queue.session(session)
        assert row is not None and row["batch_state"] == "confirmed", row
        return build_proof(row, await self.queue.members(int(row["batch"])))


@pytest.fixture
async def h(tmp_path: Path, dev_chain: DevChain, contract: str) -> AsyncIterator[Harness]:
    harness = Harness(tmp_path / "cc.db", dev_chain, contract, dev_chain.url)
    await harness.open()
    await dev_chain.set_balance(harness.signer.address, ETH)
    yield harness
    await harness.close()


async def test_anchors_a_full_batch_and_proves_each_session(h: Harness) -> None:
    await h.enqueue("s1", "s2", "s3")
    await h.steps()
    assert await h.live() == ["anchor:mined"]  # registered, then anchored; 1 of 3 blocks
    assert h.anchored == []
    assert (await h.queue.counts())["batched"] == 3
    await h.chain.mine(2)
    await h.steps(1)
    assert await h.live() == []
    assert [n for n, _, _ in h.anchored] == [3]
    logs = await h.chain.anchored_logs(h.contract)
    assert len(logs) == 1
    ident = (await h.signer.account()).identity_key
    for s in ("s1", "s2", "s3"):
        proof = await h.proof(s)
        assert proof.tx_hash == h.anchored[0][1] and proof.block_number == h.anchored[0][2]
        report = verify_online(proof, http_rpc(h.chain.url), identity_key=ident)
        assert report.confirmations == 3
    assert [t["nonce"] for t in h.signer.signed] == [0, 1]  # register, anchor


async def test_batch_by_size_leaves_the_rest_queued(h: Harness) -> None:
    await h.open(confirmations=1)
    await h.enqueue("a", "b", "c", "d")
    await h.steps()
    counts = await h.queue.counts()
    assert counts == {"queued": 1, "batched": 0, "anchored": 3, "batches": 1}
    assert h.anchorer.activity.startswith("batching")


async def test_batch_by_time_window(h: Harness) -> None:
    await h.open(confirmations=1)
    await h.enqueue("lonely")
    await h.steps(3)  # registers the device, then waits for the window
    delay = await h.anchorer.step()
    assert (await h.queue.counts())["queued"] == 1
    assert delay == 60.0
    h.clock.now += 59.0
    await h.steps(2)
    assert (await h.queue.counts())["queued"] == 1  # the window is not over yet
    h.clock.now += 1.0
    await h.steps(3)
    assert (await h.queue.counts())["anchored"] == 1
    assert [n for n, _, _ in h.anchored] == [1]


async def test_restart_between_mined_and_confirmed_does_not_anchor_twice(h: Harness) -> None:
    await h.enqueue("r1", "r2", "r3")
    await h.steps()
    assert await h.live() == ["anchor:mined"]
    signed = len(h.signer.signed)
    await h.open()  # the daemon restarts: fresh objects, same database
    await h.steps(2)
    await h.chain.mine(2)
    await h.steps(2)
    assert len(h.signer.signed) == signed
    assert len(await h.chain.anchored_logs(h.contract)) == 1
    assert (await h.queue.counts())["anchored"] == 3


async def test_restart_after_signing_before_the_node_got_it_rebroadcasts(h: Harness) -> None:
    await h.chain.automine(False)
    await h.enqueue("x1", "x2", "x3")
    await h.anchorer.step()  # register tx in the pool
    await h.chain.mine(1)
    await h.anchorer.step()  # register mined; anchor signed, stored and sent to the pool
    assert await h.live() == ["anchor:sent"]
    (stored,) = await h.queue.live_txs()
    # The node loses it (as if the process died before broadcasting) and we restart.
    await h.chain.rpc("anvil_dropAllTransactions")
    await h.open()
    await h.anchorer.step()  # no receipt, nonce still free: the same bytes go out again
    await h.chain.mine(3)
    await h.steps(1)
    assert [tx for _, tx, _ in h.anchored] == [stored.hash]
    assert len(h.signer.signed) == 2
    assert len(await h.chain.anchored_logs(h.contract)) == 1


async def test_reorg_dropping_the_tx_reanchors_in_a_new_block(h: Harness) -> None:
    await h.enqueue("g1", "g2", "g3")
    await h.steps()
    (tx,) = await h.queue.live_txs()
    await h.chain.mine(1)
    await h.steps(1)
    mined = (await h.queue.live_txs())[0]
    assert mined.state == "mined" and mined.block_hash
    depth = await h.chain.block_number() - int(mined.block_number or 0) + 1
    await h.chain.reorg(depth)  # the anchor's block and the one on top are replaced
    assert await h.chain.anchored_logs(h.contract) == []
    await h.steps(2)  # gone: broadcast again, mined again
    await h.chain.mine(3)
    await h.steps(2)
    (anchored,) = h.anchored
    proof = await h.proof("g1")
    assert anchored == (3, proof.tx_hash, proof.block_number)
    assert proof.tx_hash == tx.hash  # the same signed tx, ...
    assert proof.block_hash != mined.block_hash  # ... in another block
    verify_online(
        proof, http_rpc(h.chain.url), identity_key=(await h.signer.account()).identity_key
    )
    assert len(await h.chain.anchored_logs(h.contract)) == 1


async def test_reorg_and_lost_nonce_signs_a_new_anchor(h: Harness) -> None:
    await h.enqueue("n1", "n2", "n3")
    await h.steps()
    (tx,) = await h.queue.live_txs()
    await h.chain.reorg(1)
    # Another transaction of the account took the nonce on the new branch.
    await h.chain.set_nonce(h.signer.address, tx.nonce + 1)
    await h.steps(3)
    await h.chain.mine(3)
    await h.steps(2)
    proof = await h.proof("n1")
    assert proof.tx_hash != tx.hash
    assert [t["nonce"] for t in h.signer.signed] == [0, 1, 2]
    assert len(await h.chain.anchored_logs(h.contract)) == 1


async def test_rpc_down_backs_off_then_catches_up(h: Harness, dev_chain: DevChain) -> None:
    proxy = RpcProxy(int(dev_chain.url.rsplit(":", 1)[1]))
    await proxy.up()
    h.rpc_url = proxy.url
    await h.open(confirmations=1)
    await h.enqueue("d1", "d2", "d3")
    await h.steps()
    assert (await h.queue.counts())["anchored"] == 3
    await proxy.down()
    await h.enqueue("d4", "d5", "d6", "d7")  # sessions keep sealing
    with pytest.raises(RpcUnavailableError):
        await h.anchorer.step()
    h.anchorer.reset()
    counts = await h.queue.counts()  # a batch may have been cut; nothing was lost
    assert counts["queued"] + counts["batched"] == 4 and counts["anchored"] == 3
    await proxy.up()
    await h.steps(6)
    assert await h.queue.counts() == {"queued": 1, "batched": 0, "anchored": 6, "batches": 2}
    await proxy.down()


async def test_wrong_chain_id_signs_nothing(h: Harness) -> None:
    await h.open(chain_id=1)
    await h.enqueue("w1", "w2", "w3")
    with pytest.raises(WrongChainError, match="serves chain id 31337"):
        await h.anchorer.step()
    assert h.signer.signed == [] and (await h.queue.counts())["queued"] == 3


async def test_insufficient_funds_then_funded(h: Harness) -> None:
    await h.chain.set_balance(h.signer.address, 0)
    await h.enqueue("f1", "f2", "f3")
    with pytest.raises(InsufficientFundsError):
        await h.anchorer.step()
    assert h.signer.signed == []
    await h.chain.set_balance(h.signer.address, ETH)
    await h.open(confirmations=1)
    await h.steps()
    assert (await h.queue.counts())["anchored"] == 3


async def test_walletd_refusing_keeps_the_queue(h: Harness) -> None:
    await h.open(confirmations=1)
    h.signer.refuse = True
    await h.enqueue("l1", "l2", "l3")
    with pytest.raises(SignerRefusedError) as err:
        await h.anchorer.step()
    assert err.value.name == "io.lucid.Error.LimitExceeded" and err.value.slow
    h.signer.refuse = False
    await h.steps()
    assert (await h.queue.counts())["anchored"] == 3


async def test_reverted_anchor_is_sent_again(h: Harness) -> None:
    await h.open(confirmations=1, gas_margin=0.8)  # too little gas: mined with status 0
    await h.enqueue("v1", "v2", "v3")
    with pytest.raises(ChainError):
        await h.steps()
    failures = 0
    for _ in range(4):
        try:
            await h.anchorer.step()
        except TxRevertedError:
            failures += 1
    assert failures >= 1 and (await h.queue.counts())["anchored"] == 0
    await h.open(confirmations=1)
    await h.steps()
    assert (await h.queue.counts())["anchored"] == 3
    assert len(await h.chain.anchored_logs(h.contract)) == 1


async def test_not_registered_estimate_registers_again(h: Harness) -> None:
    await h.open(confirmations=1)
    h.anchorer._registered = True  # believes a registration the contract does not have
    await h.enqueue("u1", "u2", "u3")
    with pytest.raises(TxRevertedError) as err:
        await h.anchorer.step()
    assert err.value.not_registered and h.signer.signed == []
    await h.steps()
    assert (await h.queue.counts())["anchored"] == 3


async def test_fee_cap_below_base_fee_signs_nothing(h: Harness) -> None:
    await h.open(fees=FeePolicy(max_fee=1000, max_tip=10, min_tip=1))
    await h.enqueue("c1", "c2", "c3")
    with pytest.raises(FeeCapError):
        await h.anchorer.step()
    assert h.signer.signed == []


async def test_stuck_tx_is_replaced_at_the_same_nonce_with_higher_fees(h: Harness) -> None:
    await h.open(confirmations=1, replace_after_blocks=2)
    await h.enqueue("p1", "p2")
    await h.steps(3)  # registered (automine); the batch of 2 waits for its window
    await h.chain.automine(False)
    h.clock.now += 3600
    await h.anchorer.step()
    (first,) = await h.queue.live_txs()
    assert first.kind == "anchor" and first.state == "sent"
    # The base fee jumps above what the transaction offers: it cannot be mined.
    await h.chain.rpc("anvil_setNextBlockBaseFeePerGas", hex(60 * 10**9))
    await h.chain.mine(2)
    assert await h.chain.anchored_logs(h.contract) == []
    await h.anchorer.step()  # 2 blocks without it: replaced at the same nonce
    live = await h.queue.live_txs()
    assert len(live) == 2 and {t.nonce for t in live} == {first.nonce}
    second = max(live, key=lambda t: t.max_fee)
    assert second.max_fee > first.max_fee and second.tip > first.tip
    await h.chain.mine(1)
    await h.steps(2)
    proof = await h.proof("p1")
    assert proof.tx_hash == second.hash
    assert len(await h.chain.anchored_logs(h.contract)) == 1
    assert await h.queue.live_txs() == []
