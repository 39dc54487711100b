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
from dataclasses import dataclass

from lucid.runtime.errors import (
    BusError,
    ConflictError,
    InsufficientBalanceError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    NotSupportedError,
    TransactionFailedError,
)
from lucid.tron_node.credits import CreditRule, Credits
from lucid.tron_node.ledger import (
    BROADCAST,
    CONFIRMED,
    FAILED,
    IN_FLIGHT,
    PLANNED,
    SIGNED,
    Ledger,
    Payout,
)
from lucid.tron_node.node import STALE_CODES, Rejected, TronNode
from lucid.tron_node.txbuild import (
    USDT_TRANSFER,
    BuildError,
    UnsignedTx,
    broadcast_payload,
    build_payout,
)

Signer = Callable[[bytes], Awaitable[tuple[bytes, str]]]  # raw -> (65-byte signature, txid)
SessionsSource = Callable[[], Awaitable[list[dict[str, str]]]]  # merkle's ListSessions
AccountSource = Callable[[], Awaitable[str]]  # walletd's TRON address
OnChange = Callable[[Payout], None]

MAX_STEPS = 4  # transitions per advance: sign at most once per call


@dataclass(frozen=True)
class Terms:
    """How this device pays (config section ``tron_node``)."""

    payee: str  # empty: payouts off
    method: str  # usdt | router
    usdt_contract: str
    payout_router: str
    router_function: str
    fee_limit_sun: int
    expiration_s: int
    auto_pay: bool = True
    settle_s: float = 30.0

    @property
    def contract(self) -> str:
        return self.usdt_contract if self.method == "usdt" else self.payout_router


def usdt(amount: int) -> str:
    """Base units as a decimal USDT string (6 decimals)."""
    return f"{amount // 1_000_000}.{amount % 1_000_000:06d}"


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
        self._sign = sign
        self._sessions = sessions
        self._account = account
        self._clock = clock
        self._on_change = on_change or (lambda _p: None)
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
                p = await self._replan(p)
            if p.state in IN_FLIGHT:
                p = await self._advance(p)
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
                    await self._advance(p)
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

    async def _replan(self, p: Payout) -> Payout:
        """failed -> planned, once the failed transaction provably cannot land."""
        node = self._need_node()
        if p.txid:
            head = await node.head()
            if head.timestamp < p.expiration:
                raise ConflictError(
                    f"payout {p.epoch} failed, but its transaction {p.txid} is valid until "
                    f"{p.expiration} ms (head block {head.timestamp} ms); retry after that"
                )
            info = await node.tx_info(p.txid)
            if info is not None and info.success:  # it landed after all: follow it
                p = await self.ledger.move(p, BROADCAST, block=info.block)
                self._on_change(p)
                return p
        p = await self.ledger.move(p, PLANNED, message="re-planned after failure")
        self._on_change(p)
        return p

    async def _advance(self, p: Payout) -> Payout:
        signed = False
        for _ in range(MAX_STEPS):
            before = p
            if p.state == PLANNED and signed:
                break  # re-planned within this call: sign again on the next pass
            try:
                if p.state == PLANNED:
                    p = await self._sign_step(p)
                    signed = True
                elif p.state == SIGNED:
                    p = await self._broadcast_step(p)
                elif p.state == BROADCAST:
                    p = await self._track_step(p)
                else:
                    break
            except BusError as err:
                fresh = await self.ledger.note(before, err.name, err.message)
                if fresh.state != before.state:
                    self._on_change(fresh)
                raise
            if p.state == before.state and p.block == before.block:
                break
            self._on_change(p)
        return p

    async def _sign_step(self, p: Payout) -> Payout:
        node = self._need_node()
        owner = await self._account()
        if await node.account(owner) is None:
            raise InsufficientBalanceError(
                f"the TRON account {owner} is not activated: send it TRX for fees"
            )
        if p.method == "usdt":
            balance = await node.trc20_balance(p.contract, owner)
            if balance < p.amount:
                raise InsufficientBalanceError(
                    f"{owner} holds {usdt(balance)} USDT; the payout of epoch {p.epoch} "
                    f"needs {usdt(p.amount)}"
                )
        try:
            tx = await self._build(node, p, owner)
        except BuildError as err:
            raise InternalError(f"cannot build the payout of epoch {p.epoch}: {err}") from err
        signature, txid = await self._sign(tx.raw_bytes)
        if txid.lower() != tx.txid or len(signature) != 65:
            raise InternalError(f"walletd returned txid {txid} for transaction {tx.txid}")
        return await self.ledger.signed(
            p, tx.txid, tx.raw_data, tx.raw_bytes.hex(), signature.hex(), tx.expiration
        )

    async def _build(self, node: TronNode, p: Payout, owner: str) -> UnsignedTx:
        ref_block_id = await node.ref_block_id()
        now_ms = (await node.head()).timestamp
        while True:
            tx = await build_payout(
                node.tron,
                owner=owner,
                contract=p.contract,
                function=USDT_TRANSFER if p.method == "usdt" else self.terms.router_function,
                payee=p.payee,
                amount=p.amount,
                fee_limit_sun=self.terms.fee_limit_sun,
                expiration_s=self.terms.expiration_s,
                ref_block_id=ref_block_id,
                now_ms=now_ms,
            )
            # Two epochs with the same amount built on the same head block would be the same
            # transaction: the node would take the second for a duplicate of the first and
            # one payment would settle both. Every transaction ever signed is unique.
            if not await self.ledger.known_txid(tx.txid):
                return tx
            now_ms += 1

    async def _broadcast_step(self, p: Payout) -> Payout:
        node = self._need_node()
        info = await node.tx_info(p.txid)
        if info is not None:  # it went out before a crash
            return await self.ledger.move(p, BROADCAST, block=info.block)
        if await self._dead(p):
            await self.ledger.close_attempt(p.txid, "expired")
            return await self.ledger.move(
                p, PLANNED, message=f"transaction {p.txid} expired before it was broadcast"
            )
        assert p.raw_data is not None
        try:
            await node.broadcast(broadcast_payload(p.raw_data, p.txid, bytes.fromhex(p.signature)))
        except Rejected as err:
            if err.code in STALE_CODES:  # the node says it can never land: build a new one
                await self.ledger.close_attempt(p.txid, "expired")
                return await self.ledger.move(p, PLANNED, message=err.message)
            await self.ledger.close_attempt(p.txid, "rejected")
            await self.ledger.move(p, FAILED, error=err.name, message=err.message)
            raise
        return await self.ledger.move(p, BROADCAST)

    async def _track_step(self, p: Payout) -> Payout:
        node = self._need_node()
        info = await node.tx_info(p.txid)
        if info is None:
            if await self._dead(p):
                await self.ledger.close_attempt(p.txid, "expired")
                return await self.ledger.move(
                    p, PLANNED, message=f"transaction {p.txid} expired unconfirmed"
                )
            return p
        if not info.success:
            await self.ledger.close_attempt(p.txid, "reverted")
            err = TransactionFailedError(f"payout transaction {p.txid} failed: {info.reason}")
            await self.ledger.move(p, FAILED, block=info.block, error=err.name, message=err.message)
            raise err
        solid = await node.tx_info(p.txid, solid=True)
        if solid is not None and solid.success:
            await self.ledger.close_attempt(p.txid, "confirmed")
            return await self.ledger.move(p, CONFIRMED, block=solid.block)
        if info.block != p.block:
            return await self.ledger.move(p, BROADCAST, block=info.block)
        return p

    async def _dead(self, p: Payout) -> bool:
        """True if ``p``'s transaction can no longer land: the head block is past its
        expiration (read first) and it is in no block (read after)."""
        node = self._need_node()
        head = await node.head()
        if head.timestamp < p.expiration:
            return False
        return await node.tx_info(p.txid) is None
