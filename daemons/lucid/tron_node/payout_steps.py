"""One payout row's way through the states: planned -> signed -> broadcast -> confirmed.

`PayoutSteps` is the state machine behind `lucid.tron_node.payer.Payer` (whose docstring
states the rule that keeps a crash from paying twice): it signs at most once per
`advance`, commits the signed bytes before broadcasting, and builds a new transaction only
when the node shows the previous one cannot land. Callers hold the payer's lock: two steps
on one row never run at once. This module does not know the bus: signing and the account
come in as callables.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from lucid.runtime.errors import (
    BusError,
    ConflictError,
    InsufficientBalanceError,
    InternalError,
    TransactionFailedError,
)
from lucid.tron_node.ledger import (
    BROADCAST,
    CONFIRMED,
    FAILED,
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


class PayoutSteps:
    """Advance payout rows in ``ledger`` under ``terms``.

    Args:
        ledger: the payouts ledger.
        terms: how this device pays.
        need_node: the node client; raises `NotSupportedError` while payouts are off.
        sign: walletd's TRON signer.
        account: walletd's TRON address.
        on_change: told each row after it changed state or block.
    """

    def __init__(
        self,
        ledger: Ledger,
        terms: Terms,
        need_node: Callable[[], TronNode],
        sign: Signer,
        account: AccountSource,
        on_change: OnChange,
    ) -> None:
        self.ledger = ledger
        self.terms = terms
        self._need_node = need_node
        self._sign = sign
        self._account = account
        self._on_change = on_change

    async def replan(self, p: Payout) -> Payout:
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

    async def advance(self, p: Payout) -> Payout:
        """Take ``p`` as far as it goes now (at most `MAX_STEPS` transitions, one signing).

        Raises:
            BusError: the step that failed; the row keeps its state with the error noted
                (or is ``failed`` for a terminal error).
        """
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
