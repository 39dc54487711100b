"""Shared pieces of the tron-node tests: a local signer, a clock, a payer on a test node."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from tronpy.keys import PrivateKey

from lucid.runtime.db import open_db
from lucid.tron_node.credits import CreditRule
from lucid.tron_node.ledger import MIGRATIONS, Ledger, Payout
from lucid.tron_node.node import TronNode
from lucid.tron_node.payer import Payer, Terms
from lucid.tron_node.testnode import TestNode

USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
RULE = CreditRule(
    epoch_s=100,
    heartbeats_per_epoch=10,
    credits_uptime=100,
    credits_per_session=10,
    max_sessions=5,
    usdt_per_credit=10_000,
    exclude_sessions=("gatekeeper-",),
)


def address(key: PrivateKey) -> str:
    return str(key.public_key.to_base58check_address())


class Clock:
    """Unix time the test moves by hand (epochs and heartbeats only)."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class LocalSigner:
    """Signs like walletd (65-byte signature over sha256(raw), txid) with a key in the test."""

    def __init__(self, key: PrivateKey) -> None:
        self.key = key
        self.signed: list[str] = []

    async def __call__(self, raw: bytes) -> tuple[bytes, str]:
        digest = hashlib.sha256(raw).digest()
        signature = bytes.fromhex(self.key.sign_msg_hash(digest).hex())
        self.signed.append(digest.hex())
        return signature, digest.hex()


class Sessions:
    def __init__(self) -> None:
        self.rows: list[dict[str, str]] = []

    def add(self, session: str, sealed_at: float, state: str = "sealed") -> None:
        self.rows.append({"session": session, "state": state, "sealed_at": f"{sealed_at:.3f}"})

    async def __call__(self) -> list[dict[str, str]]:
        return list(self.rows)


class Rig:
    """A payer on a test node with a local signer: what the daemon wires, minus the bus."""

    def __init__(self, tmp: Path, testnode: TestNode, *, payee: str, key: PrivateKey) -> None:
        self.tmp = tmp
        self.testnode = testnode
        self.payee = payee
        self.key = key
        self.signer = LocalSigner(key)
        self.sessions = Sessions()
        self.clock = Clock(RULE.epoch_s * 10 + 1)  # early in epoch 10
        self.changes: list[tuple[int, str]] = []
        self.payers: list[Payer] = []
        self.closers: list[Any] = []

    async def payer(self, **terms: Any) -> Payer:
        """A fresh payer on the same database (a new one = the daemon after a restart)."""
        db = await open_db(self.tmp / "tron_node.db", MIGRATIONS)
        node = TronNode(self.testnode.url, timeout_s=2.0)
        self.closers += [db.close, node.close]
        defaults: dict[str, Any] = {
            "payee": self.payee,
            "method": "usdt",
            "usdt_contract": USDT,
            "payout_router": "",
            "router_function": "payout(address,uint256)",
            "fee_limit_sun": 30_000_000,
            "expiration_s": 60,
            "settle_s": 0.0,
        }

        async def account() -> str:
            return address(self.key)

        def changed(p: Payout) -> None:
            self.changes.append((p.epoch, p.state))

        payer = Payer(
            Ledger(db, self.clock),
            node,
            RULE,
            Terms(**(defaults | terms)),
            sign=self.signer,
            sessions=self.sessions,
            account=account,
            clock=self.clock,
            on_change=changed,
        )
        self.payers.append(payer)
        return payer

    async def close(self) -> None:
        for close in reversed(self.closers):
            await close()

    async def beat_epoch(self, payer: Payer, epoch: int, beats: int) -> None:
        """Heartbeats in the first ``beats`` slots of ``epoch``."""
        first = RULE.slots(epoch)[0]
        for slot in range(first, first + beats):
            await payer.ledger.beat(slot)


def warp_past(testnode: TestNode, expiration_ms: int) -> None:
    """Move the test chain's clock for good to just after ``expiration_ms``, and seal a block
    there: from now on the chain's head time is past that expiration."""
    offset = expiration_ms / 1000 + 1 - time.time()
    testnode.chain.clock = lambda: time.time() + offset
    testnode.produce_block()
