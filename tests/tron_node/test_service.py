"""tron-node as a real process on a private bus, with the real walletd signing, a fake merkle
exported on the bus, and the TRON test node (blocks every 0.1 s).

Epochs are one second here (four heartbeats); tests wait for an epoch to *end*, never assert
how long anything took.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from dbus_fast.aio import MessageBus
from tronpy.keys import PrivateKey

from lucid.runtime.bus import Caller, ContractService
from lucid.runtime.contracts import MERKLE, TRON_NODE
from lucid.runtime.errors import (
    InsufficientBalanceError,
    LimitExceededError,
    NodeUnavailableError,
    NotFoundError,
    NotSupportedError,
)
from lucid.runtime.principals import SHARED, Principals
from lucid.runtime.supervisor import DaemonSet
from lucid.tron_node.client import TronNodeClient
from lucid.tron_node.testnode import TestNode
from lucid.walletd.client import WalletdClient
from tests.conftest import LucidEnv, wait_for
from tests.tron_node.helpers import address

EPOCH_S, BEATS = 1, 4


def _fake_merkle(sessions: list[dict[str, str]]) -> type[ContractService]:
    """A real io.lucid.Merkle1 export whose ListSessions answers ``sessions``."""

    async def list_sessions(self: Any, caller: Caller) -> list[dict[str, str]]:
        return list(sessions)

    async def not_here(self: Any, caller: Caller, *args: Any) -> Any:
        raise NotFoundError("the fake merkle has no sessions to give")

    handlers: dict[str, Any] = {
        "".join("_" + c.lower() if c.isupper() else c for c in m).lstrip("_"): not_here
        for m in MERKLE.methods
    }
    handlers["list_sessions"] = list_sessions
    return type("FakeMerkle", (ContractService,), {"contract": MERKLE, **handlers})


@dataclass
class Tron:
    lucid: LucidEnv
    bus: MessageBus
    testnode: TestNode
    client: TronNodeClient
    account: str
    payee: str
    sessions: list[dict[str, str]]
    sets: dict[str, DaemonSet]

    async def start(self, name: str) -> None:
        self.sets[name] = await self.lucid.start(name)

    async def completed_epoch(self) -> int:
        """An epoch that ended with tron-node up the whole of it."""
        first = int((await self.client.get_status())["epoch"])

        async def later() -> bool:
            return int((await self.client.get_status())["epoch"]) >= first + 2

        await wait_for(later, what="an epoch to end")
        return first + 1

    def seal(self, session: str, epoch: int, offset: float = 0.5) -> None:
        sealed_at = epoch * EPOCH_S + offset
        self.sessions.append({"session": session, "state": "sealed", "sealed_at": str(sealed_at)})

    async def row(self, epoch: int) -> dict[str, str]:
        rows = [r for r in await self.client.list_payouts() if r["epoch"] == str(epoch)]
        assert len(rows) == 1, rows
        return rows[0]

    async def wait_state(self, epoch: int, state: str) -> dict[str, str]:
        async def reached() -> bool:
            return (await self.row(epoch))["state"] == state

        await wait_for(reached, what=f"payout {epoch} {state}")
        return await self.row(epoch)

    def db_row(self, epoch: int) -> dict[str, Any]:
        """The ledger row read from the database file (while tron-node is down)."""
        path = self.lucid.state / "tron_node" / "tron_node.db"
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT * FROM payouts WHERE epoch = ?", (epoch,)).fetchone()
        return dict(row)


@pytest.fixture
async def tron(lucid: LucidEnv, bus: MessageBus) -> AsyncIterator[Tron]:
    sessions: list[dict[str, str]] = []
    merkle = _fake_merkle(sessions)(bus)
    merkle.principals = Principals(bus, SHARED)
    merkle.export()
    await merkle.request_name()
    payee = address(PrivateKey.random())
    async with TestNode(block_interval_s=0.1) as testnode:
        for key, value in {
            "endpoint": testnode.url,
            "payee": payee,
            "epoch_s": str(EPOCH_S),
            "heartbeats_per_epoch": str(BEATS),
            "auto_pay": "false",
            "settle_s": "0",
            "poll_s": "0.2",
            "retry_max_s": "0.5",
        }.items():
            lucid.set("tron_node", key, value)
        sets = {"walletd": await lucid.start("walletd")}
        account = (await WalletdClient(bus).get_accounts())["tron"]
        testnode.chain.fund_trx(account, 100_000_000)
        yield Tron(lucid, bus, testnode, TronNodeClient(bus), account, payee, sessions, sets)
    await merkle.drain()


async def test_contract_matches_the_xml(tron: Tron) -> None:
    await tron.start("tron_node")
    node = await tron.bus.introspect(TRON_NODE.bus_name, TRON_NODE.path)
    iface = next(i for i in node.interfaces if i.name == TRON_NODE.interface)
    assert {m.name: (m.in_signature, m.out_signature) for m in iface.methods} == {
        n: (m.in_signature, m.out_signature) for n, m in TRON_NODE.methods.items()
    }
    assert {s.name for s in iface.signals} == set(TRON_NODE.signals)


async def test_credits_by_the_rule_then_signed_broadcast_confirmed(tron: Tron) -> None:
    tron.testnode.chain.mint_usdt(tron.account, 10_000_000)
    await tron.start("tron_node")
    status = await tron.client.get_status()
    assert status["account"] == tron.account and status["node"] == "up"
    changes: list[list[Any]] = []
    await tron.client.on_signal("PayoutChanged", changes.append)
    epoch = await tron.completed_epoch()
    tron.seal("s-a", epoch)
    tron.seal("s-b", epoch, 0.99)
    tron.seal("gatekeeper-audit", epoch)  # decision audit stream: not a served session
    tron.seal("s-c", epoch + 1)
    credits = await tron.client.get_credits(epoch)
    beats = int(credits["heartbeats"])
    assert 0 < beats <= BEATS and credits["sessions"] == "2"
    assert int(credits["uptime_credits"]) == 100 * beats // BEATS
    assert credits["session_credits"] == "20"
    amount = (100 * beats // BEATS + 20) * 10_000
    assert credits["amount"] == str(amount)

    row = await tron.client.run_payouts(epoch)
    assert row["state"] in ("broadcast", "confirmed") and row["amount"] == str(amount)
    row = await tron.wait_state(epoch, "confirmed")
    assert tron.testnode.chain.usdt_balance(tron.payee) == amount
    assert tron.testnode.chain.accepted == [row["txid"]] and row["attempts"] == "1"
    assert (await tron.client.run_payouts(epoch))["state"] == "confirmed"  # idempotent
    assert tron.testnode.chain.usdt_balance(tron.payee) == amount
    await wait_for(lambda: [tron.payee, epoch, "confirmed"] in changes, what="the signal")


@pytest.mark.parametrize("where", ["before", "after"])
async def test_crash_around_the_broadcast_never_pays_twice(tron: Tron, where: str) -> None:
    tron.testnode.chain.mint_usdt(tron.account, 10_000_000)
    await tron.start("tron_node")
    epoch = await tron.completed_epoch()
    tron.testnode.hold_broadcasts(where)  # type: ignore[arg-type]  # "before" | "after"
    call = asyncio.ensure_future(tron.client.run_payouts(epoch))
    await asyncio.wait_for(tron.testnode.held.wait(), 30)
    await tron.sets["tron_node"].kill("tron_node")  # SIGKILL between sign and answer
    call.cancel()
    tron.testnode.release_broadcasts()
    crashed = tron.db_row(epoch)
    assert crashed["state"] == "signed" and crashed["txid"] and crashed["raw_hex"]
    accepted_before = list(tron.testnode.chain.accepted)
    assert accepted_before == ([] if where == "before" else [crashed["txid"]])

    await tron.start("tron_node")  # resumes by itself: looks the txid up, re-broadcasts
    row = await tron.wait_state(epoch, "confirmed")
    assert row["txid"] == crashed["txid"] and row["attempts"] == "1"  # never re-signed
    assert tron.testnode.chain.accepted == [crashed["txid"]]
    assert tron.testnode.chain.usdt_balance(tron.payee) == int(row["amount"])


async def test_node_down_backs_off_and_pays_when_it_returns(tron: Tron) -> None:
    tron.testnode.chain.mint_usdt(tron.account, 10_000_000)
    await tron.start("tron_node")
    epoch = await tron.completed_epoch()
    await tron.testnode.go_down()
    with pytest.raises(NodeUnavailableError):
        await tron.client.run_payouts(epoch)
    row = await tron.row(epoch)
    assert row["state"] == "planned" and row["error"] == "io.lucid.Error.NodeUnavailable"
    assert (await tron.client.get_status())["node"].startswith("io.lucid.Error.NodeUnavailable")
    await tron.testnode.come_up()
    row = await tron.wait_state(epoch, "confirmed")  # the retry loop, not another call
    assert row["error"] == "" and tron.testnode.chain.usdt_balance(tron.payee) == int(row["amount"])


async def test_insufficient_balance_is_named_and_kept(tron: Tron) -> None:
    await tron.start("tron_node")  # the account has TRX for fees but no USDT
    epoch = await tron.completed_epoch()
    with pytest.raises(InsufficientBalanceError):
        await tron.client.run_payouts(epoch)
    row = await tron.row(epoch)
    assert row["state"] == "planned" and row["error"] == "io.lucid.Error.InsufficientBalance"
    assert "0.000000 USDT" in row["message"]
    tron.testnode.chain.mint_usdt(tron.account, 10_000_000)
    row = await tron.wait_state(epoch, "confirmed")
    assert tron.testnode.chain.usdt_balance(tron.payee) == int(row["amount"])


async def test_walletd_over_its_limit_is_named_and_nothing_is_lost(tron: Tron) -> None:
    tron.testnode.chain.mint_usdt(tron.account, 10_000_000)
    await tron.sets["walletd"].stop("walletd")
    tron.lucid.set("walletd", "tron_limit_tx", "1000")  # below the fee limit and the amount
    await tron.start("walletd")
    await tron.start("tron_node")
    epoch = await tron.completed_epoch()
    with pytest.raises(LimitExceededError):
        await tron.client.run_payouts(epoch)
    row = await tron.row(epoch)
    assert row["state"] == "planned" and row["error"] == "io.lucid.Error.LimitExceeded"
    assert tron.testnode.chain.accepted == []
    await tron.sets["walletd"].stop("walletd")
    tron.lucid.set("walletd", "tron_limit_tx", "100000000")
    await tron.start("walletd")
    row = await tron.wait_state(epoch, "confirmed")
    assert tron.testnode.chain.usdt_balance(tron.payee) == int(row["amount"])


async def test_staking_is_reported_and_applying_it_is_not_supported(tron: Tron) -> None:
    tron.lucid.set("tron_node", "stake_trx_sun", "5000000")
    tron.testnode.chain.frozen[tron.account] = {"ENERGY": 2_000_000}
    await tron.start("tron_node")
    staking = await tron.client.get_staking()
    assert staking["stake_trx_sun"] == "5000000" and staking["stake_resource"] == "ENERGY"
    assert staking["frozen_sun"] == "2000000" and staking["applied"] == "false"
    with pytest.raises(NotSupportedError, match="walletd"):
        await tron.client.apply_staking()


async def test_cli_lists_and_runs_payouts(tron: Tron) -> None:
    tron.testnode.chain.mint_usdt(tron.account, 10_000_000)
    await tron.start("tron_node")
    epoch = await tron.completed_epoch()
    env = os.environ | {"LUCID_BUS": tron.lucid.bus_address}

    def lucid(*args: str) -> Callable[[], Awaitable[subprocess.CompletedProcess[str]]]:
        return lambda: asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "lucid.cli", "payouts", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    empty = await lucid()()
    assert empty.returncode == 0 and "no payouts" in empty.stdout
    ran = await lucid("run", "--epoch", str(epoch))()
    assert ran.returncode == 0, ran.stderr
    assert str(epoch) in ran.stdout and tron.payee in ran.stdout
    await tron.wait_state(epoch, "confirmed")
    listed = await lucid("list")()
    assert "confirmed" in listed.stdout
    running = await lucid("run", "--epoch", str(epoch + 100))()
    assert running.returncode == 1 and "still running" in running.stderr
