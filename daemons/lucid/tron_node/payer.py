"""Payouts: plan an epoch's payout from its credits, sign, broadcast, follow it until solid.

The rule that keeps a crash from paying twice: a payout row has at most one transaction
that could still land, and a new one is signed only when the node shows that the previous one
cannot land any more (its expiration is behind the head block's time and it is in no block),
or refused it outright. The signed bytes and txid are committed before the first broadcast;
after a restart a signed row is looked up by txid and re-broadcast byte for byte (a node that
already has it answers DUP_TRANSACTION_ERROR), never re-signed while it may still land.

Errors (named, ``lucid.runtime.errors``) leave the row as it was with ``error``/``message``
set, to be retried: NodeUnavailable, InsufficientBalance, LimitExceeded (walletd), Unavailable
(walletd or merkle down). Terminal ones move the row to ``failed``: BroadcastRejected (bad
signature, invalid contract call), TransactionFailed (reverted on chain). This module does not
know the bus: signing, sessions and the account come in as callables.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from lucid.runtime.errors import (
    BusError,
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    NotSupportedError,
)
from lucid.tron_node.credits import CreditRule, Credits
from lucid.tron_node.ledger import FAILED, IN_FLIGHT, Ledger, Payout
from lucid.tron_node.node import TronNode
from lucid.tron_node.payout_steps import (
    AccountSource,
    OnChange,
    PayoutSteps,
    Signer,
    Terms,
    usdt,
)

if TYPE_CHECKING:  # the payload shape only; the bus library is not imported at run time
    from lucid.merkle.client import SealInfo

__all__ = ["AccountSource", "OnChange", "Payer", "SessionsSource", "Signer", "Terms", "usdt"]

SessionsSource = Callable[[], Awaitable[list["SealInfo"]]]  # merkle's ListSessions


class Payer:
    def __init__(
        self,
        ledger: Ledger,
        node: TronNode | None,
        rule: CreditRule,
        terms: Terms,
        *,
        sign: Signer,
        sessions: SessionsSource,
        account: AccountSource,
        clock: Callable[[], float] = time.time,
        on_change: OnChange | None = None,
    ) -> None:
        self.ledger = ledger
        self.node = node
        self.rule = rule
        self.terms = terms
        self._sessions = sessions
        self._account = account
        self._clock = clock
        self._on_change = on_change or (lambda _p: None)
        self._steps = PayoutSteps(ledger, terms, self._need_node, sign, account, self._on_change)
        self._lock = asyncio.Lock()  # one payout step at a time: no concurrent signing
        self._planned_through: int | None = None  # auto_plan looked at every epoch up to this

    @property
    def enabled(self) -> bool:
        return self.node is not None and bool(self.terms.payee)

    def _need_node(self) -> TronNode:
        if self.node is None or not self.terms.payee:
            raise NotSupportedError(
                "payouts are off: set tron_node.endpoint and tron_node.payee in lucid.toml"
            )
        return self.node

    async def account(self) -> str:
        """walletd's TRON address (the paying account)."""
        return await self._account()

    async def heartbeat(self) -> int:
        """Record that the device is up now; returns the slot."""
        slot = self.rule.slot_at(self._clock())
        await self.ledger.beat(slot)
        return slot

    async def credits(self, epoch: int) -> Credits:
        """The credits of ``epoch`` (-1: the current one so far) by the rule.

        Raises:
            UnavailableError: merkle cannot be asked for its sessions.
        """
        if epoch == -1:
            epoch = self.rule.epoch_at(self._clock())
        if epoch < 0:
            raise InvalidArgumentError(f"bad epoch {epoch}")
        beats = await self.ledger.count_beats(*self.rule.slots(epoch))
        sessions = self.rule.served(await self._sessions(), epoch)
        return self.rule.credits(epoch, beats, sessions)

    async def run(self, epoch: int) -> Payout:
        """``RunPayouts``: plan / re-plan / resume ``epoch`` (-1: the last completed one)."""
        self._need_node()
        now = self._clock()
        if epoch == -1:
            epoch = self.rule.epoch_at(now) - 1
        if epoch < 0:
            raise InvalidArgumentError(f"bad epoch {epoch}")
        end = self.rule.bounds(epoch)[1]
        if end > now:
            raise InvalidArgumentError(f"epoch {epoch} is still running (it ends at {end})")
        async with self._lock:
            p = await self.ledger.get(self.terms.payee, epoch)
            if p is None:
                if await self.ledger.epoch_paid(epoch):
                    raise ConflictError(f"epoch {epoch} has a payout to another payee")
                p = await self._plan(epoch)
                if p is None:
                    raise NotFoundError(f"epoch {epoch} earned no credits; nothing to pay")
            elif p.state == FAILED:
                p = await self._steps.replan(p)
            if p.state in IN_FLIGHT:
                p = await self._steps.advance(p)
            return p

    async def auto_plan(self) -> list[Payout]:
        """Plan every ended, settled epoch that has heartbeats and no ledger row yet.

        The heartbeats are scanned when an epoch became due since the last complete scan (at
        most once per epoch, and once after a start), so a manual ``run`` of a later epoch
        never hides an earlier one.
        """
        if not self.enabled or not self.terms.auto_pay:
            return []
        due = int((self._clock() - self.terms.settle_s) // self.rule.epoch_s) - 1
        if self._planned_through is not None and due <= self._planned_through:
            return []
        async with self._lock:
            planned = []
            for epoch in await self.ledger.unpaid_epochs(self.rule.heartbeats_per_epoch, due):
                p = await self._plan(epoch)  # an error leaves _planned_through: retried
                if p is not None:
                    planned.append(p)
            self._planned_through = due
            return planned

    async def resume(self) -> list[BusError]:
        """Advance every unfinished payout once; returns the errors that left rows waiting."""
        if not self.enabled:
            return []
        errors: list[BusError] = []
        async with self._lock:
            for p in await self.ledger.payouts(IN_FLIGHT):
                try:
                    await self._steps.advance(p)
                except BusError as err:
                    fresh = await self.ledger.get(p.payee, p.epoch)
                    if fresh is not None and fresh.state in IN_FLIGHT:
                        errors.append(err)
        return errors

    async def status(self) -> dict[str, str]:
        """``GetStatus``: configuration, the account, and what the node says now."""
        terms = self.terms
        out = {
            "account": "",
            "payee": terms.payee,
            "endpoint": self.node.endpoint if self.node else "",
            "method": terms.method,
            "contract": terms.contract,
            "epoch": str(self.rule.epoch_at(self._clock())),
            "epoch_s": str(self.rule.epoch_s),
            "node": "off" if self.node is None else "up",
            "block": "",
            "usdt_balance": "",
            "trx_balance": "",
            "in_flight": str(len(await self.ledger.payouts(IN_FLIGHT))),
        }
        try:
            out["account"] = await self._account()
        except BusError as err:
            out["account_error"] = f"{err.name}: {err.message}"
        if self.node is None:
            return out
        try:
            out["block"] = str((await self.node.head()).number)
            if out["account"]:
                acct = await self.node.account(out["account"]) or {}
                out["trx_balance"] = str(int(acct.get("balance", 0)))
                if terms.usdt_contract:
                    out["usdt_balance"] = str(
                        await self.node.trc20_balance(terms.usdt_contract, out["account"])
                    )
        except BusError as err:
            out["node"] = f"{err.name}: {err.message}"
        return out

    # --- the state machine ------------------------------------------------------------------

    async def _plan(self, epoch: int) -> Payout | None:
        credits = await self.credits(epoch)
        if credits.amount <= 0:
            return None
        p = await self.ledger.plan(
            self.terms.payee,
            epoch,
            credits.amount,
            credits.as_dict(),
            self.terms.method,
            self.terms.contract,
        )
        self._on_change(p)
        return p
