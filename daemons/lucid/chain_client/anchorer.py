"""The anchoring state machine: queue -> batch -> signed tx -> mined -> confirmed.

One `Anchorer.step` does what the persisted state calls for next, in this order:

1. check the endpoint (chain id as configured, contract code present, same genesis block
   as last time: a reset chain drops the transactions we had in flight);
2. track every live transaction: a receipt with status 1 makes it ``mined`` (its
   replacements are dropped); with the configured confirmations (and its block still
   canonical) its batch is ``confirmed`` and `on_anchored` is called. No receipt: if its
   nonce is still free it is broadcast again (after a restart, or a reorg that dropped it);
   if another transaction took the nonce it is ``dropped`` and its batch gets a new one;
   if it waited ``replace_after_blocks`` it is replaced at the same nonce with higher fees
   (so at most one of them can be mined). Status 0: ``reverted``, its batch gets a new one;
3. register the device (``registerDevice(identity key, binding)``) if the contract does not
   know it (before the first anchor, and again if an anchor reverts ``NotRegistered``);
4. send the oldest pending batch that has no live transaction, else cut a new batch when
   `batcher.due` says so.

A transaction is signed by walletd, then stored, then broadcast: a crash at any point
leaves either nothing broadcast (nothing stored, or stored and rebroadcast by the next
step) or a stored transaction that the next step finds. One batch is in flight at a time.
Errors (`ChainError`) propagate to the caller, which backs off; nothing is ever removed
from the queue. This module does not import the bus library.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Protocol

from eth_account import Account
from eth_utils.crypto import keccak

from lucid.chain_client import batcher
from lucid.chain_client.batcher import BatchPolicy
from lucid.chain_client.errors import (
    ChainError,
    InsufficientFundsError,
    NoContractError,
    SignerUnavailableError,
    TxRevertedError,
    WrongChainError,
)
from lucid.chain_client.fees import FeePolicy, Fees, bump, quote
from lucid.chain_client.queue import AnchorQueue, Batch, Tx
from lucid.chain_client.rpc import ChainRpc
from lucid.evidence.anchor import ANCHOR_META


@dataclass(frozen=True)
class DeviceAccount:
    address: str  # 0x + 40 lowercase hex digits
    identity_key: bytes  # the device's Ed25519 public key
    binding: bytes  # Ed25519 signature over anchor.binding_message(address)


class Signer(Protocol):
    """walletd as the anchorer sees it."""

    async def account(self) -> DeviceAccount:
        """The EVM account and its binding. Raises SignerUnavailableError."""

    async def sign(self, tx: dict[str, int | str]) -> tuple[bytes, str]:
        """Signed raw transaction and its hash. Raises SignerRefusedError / SignerUnavailableError."""


@dataclass(frozen=True)
class AnchorSettings:
    batch: BatchPolicy
    fees: FeePolicy
    confirmations: int = 3  # blocks, the anchor's own included
    chain_id: int = 0  # expected; 0 accepts the endpoint's
    poll_s: float = 2.0  # while a transaction is in flight
    replace_after_blocks: int = 10
    gas_margin: float = 1.25
    fee_history_blocks: int = 10
    tip_percentile: float = 50.0


Anchored = Callable[[int, str, int], Awaitable[None] | None]


class Anchorer:
    def __init__(
        self,
        queue: AnchorQueue,
        rpc: ChainRpc,
        signer: Signer,
        settings: AnchorSettings,
        *,
        clock: Callable[[], float] = time.time,
        on_anchored: Anchored | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.queue = queue
        self.rpc = rpc
        self.signer = signer
        self.settings = settings
        self._clock = clock
        self._on_anchored = on_anchored
        self.log = log or logging.getLogger(__name__)
        self.chain_id: int | None = None
        self.device: DeviceAccount | None = None
        self._registered = False
        self.activity = "starting"  # for GetStatus: what the last step did or waits for

    @property
    def registered(self) -> bool:
        """Whether the contract was last seen to know this device."""
        return self._registered

    def reset(self) -> None:
        """Forget what was checked about the endpoint (after it was unreachable)."""
        self.chain_id = None

    async def step(self) -> float:
        """Advance by one step; returns how long the caller may sleep (inf: until woken).

        Raises:
            ChainError: a step failed (the caller backs off and calls again).
        """
        await self._check_chain()
        account = await self._account()
        for tx in await self.queue.live_txs():
            await self._track(tx)
        if await self.queue.live_txs():
            return self.settings.poll_s
        if not await self._is_registered(account):
            self.activity = "registering the device"
            await self._send(
                "register", None, self.rpc.register_data(account.identity_key, account.binding)
            )
            return self.settings.poll_s
        pending = await self.queue.pending_batches()
        if pending:
            await self._send_batch(pending[0])
            return self.settings.poll_s
        now = self._clock()
        counts = await self.queue.counts()
        oldest = await self.queue.oldest_unbatched()
        if batcher.due(self.settings.batch, counts["queued"], oldest, now):
            members = await self.queue.unbatched(self.settings.batch.size)
            batch = await self.queue.cut_batch(members, batcher.tree_root(members), now)
            self.log.info(
                "batch %d: %d root(s), tree root %s", batch.id, batch.size, batch.root.hex()
            )
            await self._send_batch(batch)
            return self.settings.poll_s
        wait = batcher.wait_s(self.settings.batch, oldest, now)
        self.activity = "idle" if wait is None else f"batching ({counts['queued']} queued)"
        return math.inf if wait is None else max(wait, 0.05)

    # --- endpoint and account --------------------------------------------------------------

    async def _check_chain(self) -> None:
        if self.chain_id is not None:
            return
        chain_id = await self.rpc.chain_id()
        if self.settings.chain_id and chain_id != self.settings.chain_id:
            raise WrongChainError(
                f"{self.rpc.url} serves chain id {chain_id}, config expects "
                f"chain_client.chain_id = {self.settings.chain_id}"
            )
        genesis = await self.rpc.block_hash(0) or ""
        key = f"genesis:{chain_id}"
        known = await self.queue.get(key)
        if known and known != genesis:
            self.log.warning(
                "chain %d was reset (new genesis block): re-anchoring in-flight batches", chain_id
            )
            for tx in await self.queue.live_txs():
                await self.queue.set_tx(tx.hash, "dropped", error="chain reset")
            self._registered = False
        await self.queue.put(key, genesis)
        if not await self.rpc.code(self.rpc.contract):
            raise NoContractError(f"no contract code at {self.rpc.contract} on chain {chain_id}")
        self.chain_id = chain_id

    async def _account(self) -> DeviceAccount:
        if self.device is None:
            self.device = await self.signer.account()
        return self.device

    async def _is_registered(self, account: DeviceAccount) -> bool:
        if not self._registered:
            self._registered = await self.rpc.identity_of(account.address) == account.identity_key
        return self._registered

    # --- sending ---------------------------------------------------------------------------

    async def _send_batch(self, batch: Batch) -> None:
        self.activity = f"anchoring batch {batch.id} ({batch.size} sessions)"
        data = self.rpc.anchor_data(batch.root, batch.size, ANCHOR_META)
        try:
            await self._send("anchor", batch.id, data)
        except TxRevertedError as err:
            if err.not_registered:
                self._registered = False
            raise

    async def _fees(self) -> Fees:
        base, tips = await self.rpc.fee_history(
            self.settings.fee_history_blocks, self.settings.tip_percentile
        )
        return quote(self.settings.fees, base, tips)

    async def _send(self, kind: str, batch: int | None, data: str) -> None:
        account = await self._account()
        nonce = await self.rpc.nonce(account.address, "pending")
        gas = math.ceil(
            await self.rpc.estimate_gas(account.address, data) * self.settings.gas_margin
        )
        fees = await self._fees()
        await self._sign_and_send(kind, batch, data, nonce, gas, fees)

    async def _sign_and_send(
        self, kind: str, batch: int | None, data: str, nonce: int, gas: int, fees: Fees
    ) -> Tx:
        account = await self._account()
        balance = await self.rpc.balance(account.address)
        if balance < gas * fees.max_fee:
            raise InsufficientFundsError(
                f"{account.address} has {balance} wei; a {kind} tx may cost {gas * fees.max_fee}"
            )
        assert self.chain_id is not None
        request: dict[str, int | str] = {
            "chainId": self.chain_id,
            "nonce": nonce,
            "to": self.rpc.contract,
            "data": data,
            "value": 0,
            "gas": gas,
            "maxFeePerGas": str(fees.max_fee),
            "maxPriorityFeePerGas": str(fees.tip),
        }
        raw, tx_hash = await self.signer.sign(request)
        tx_hash = tx_hash.lower()
        if "0x" + keccak(raw).hex() != tx_hash:
            raise SignerUnavailableError(
                f"walletd returned hash {tx_hash} that is not its raw tx's"
            )
        if Account.recover_transaction(raw).lower() != account.address:
            raise SignerUnavailableError("walletd signed with another account than it reported")
        tx = Tx(
            hash=tx_hash,
            kind=kind,
            batch=batch,
            nonce=nonce,
            raw=raw,
            data=data,
            gas=gas,
            max_fee=fees.max_fee,
            tip=fees.tip,
            chain_id=self.chain_id,
            contract=self.rpc.contract.lower(),
            sender=account.address,
            state="signed",
            created_at=self._clock(),
            sent_block=await self.rpc.block_number(),
        )
        await self.queue.add_tx(tx)  # stored before it can reach the chain
        self.log.info("%s tx %s nonce %d signed", kind, tx_hash, nonce)
        await self._broadcast(tx)
        return tx

    async def _broadcast(self, tx: Tx) -> None:
        result = await self.rpc.send_raw(tx.raw)
        if result == "underpriced":
            self.log.debug("%s tx %s is underpriced at the current base fee", tx.kind, tx.hash)
        if result in ("sent", "known") and tx.state == "signed":
            await self.queue.set_tx(tx.hash, "sent")

    # --- tracking --------------------------------------------------------------------------

    async def _track(self, tx: Tx) -> None:
        if tx.chain_id != self.chain_id or tx.contract != self.rpc.contract.lower():
            await self.queue.set_tx(tx.hash, "dropped", error="ledger changed")
            return
        receipt = await self.rpc.receipt(tx.hash)
        if receipt is None:
            await self._unmined(tx)
            return
        if receipt.status != 1:
            await self.queue.set_tx(
                tx.hash, "reverted", error=f"status 0 in block {receipt.block_number}"
            )
            self._registered = False  # an anchor reverts when the registration is gone
            raise TxRevertedError(
                f"{tx.kind} tx {tx.hash} reverted in block {receipt.block_number}; "
                "the batch will be sent again"
            )
        if tx.state != "mined" or tx.block_hash != receipt.block_hash:
            await self.queue.set_tx(
                tx.hash, "mined", block_number=receipt.block_number, block_hash=receipt.block_hash
            )
            await self.queue.drop_siblings(tx)
            self.log.info("%s tx %s mined in block %d", tx.kind, tx.hash, receipt.block_number)
        if tx.kind == "register":
            await self.queue.set_tx(tx.hash, "confirmed")
            self._registered = False  # re-read from the contract
            return
        latest = await self.rpc.block_number()
        depth = latest - receipt.block_number + 1
        self.activity = f"waiting for confirmations ({depth}/{self.settings.confirmations})"
        if depth < self.settings.confirmations:
            return
        if await self.rpc.block_hash(receipt.block_number) != receipt.block_hash:
            return  # a reorg is under way; look again next time
        assert tx.batch is not None and self.device is not None
        mined = replace(tx, block_number=receipt.block_number, block_hash=receipt.block_hash)
        members = await self.queue.members(tx.batch)
        await self.queue.confirm_batch(
            tx.batch, mined, receipt.gas_used, self.device.binding.hex(), self._clock()
        )
        self.log.info(
            "batch %d confirmed: %d session(s) in block %d (tx %s, %d gas)",
            tx.batch,
            len(members),
            receipt.block_number,
            tx.hash,
            receipt.gas_used,
        )
        if self._on_anchored is not None:
            result = self._on_anchored(len(members), tx.hash, receipt.block_number)
            if result is not None:
                await result

    async def _unmined(self, tx: Tx) -> None:
        if tx.state == "mined":
            self.log.warning("%s tx %s left the chain (reorg)", tx.kind, tx.hash)
            await self.queue.set_tx(tx.hash, "sent", block_number=None, block_hash=None)
        used = await self.rpc.nonce(tx.sender, "latest")
        if used > tx.nonce:
            siblings = [
                t for t in await self.queue.live_txs() if t.nonce == tx.nonce and t.hash != tx.hash
            ]
            for sibling in siblings:
                if await self.rpc.receipt(sibling.hash) is not None:
                    return  # a replacement got the nonce; its own tracking drops this one
            self.log.warning(
                "%s tx %s dropped: nonce %d went to another transaction", tx.kind, tx.hash, tx.nonce
            )
            await self.queue.set_tx(tx.hash, "dropped", error="nonce used by another transaction")
            return
        await self._broadcast(tx)
        await self._maybe_replace(tx)

    async def _maybe_replace(self, tx: Tx) -> None:
        if tx.sent_block is None:
            return
        latest = await self.rpc.block_number()
        if latest - tx.sent_block < self.settings.replace_after_blocks:
            return
        newest = max(
            (
                t
                for t in await self.queue.live_txs()
                if t.nonce == tx.nonce and t.sender == tx.sender
            ),
            key=lambda t: t.max_fee,
        )
        if newest.hash != tx.hash:
            return  # only the highest-priced attempt is ever replaced
        try:
            fresh = await self._fees()
        except ChainError:
            fresh = Fees(max_fee=tx.max_fee, tip=tx.tip)
        fees = bump(self.settings.fees, Fees(tx.max_fee, tx.tip), fresh)
        if fees is None:
            return
        self.log.info(
            "%s tx %s not mined after %d blocks: replacing with higher fees",
            tx.kind,
            tx.hash,
            latest - tx.sent_block,
        )
        await self._sign_and_send(tx.kind, tx.batch, tx.data, tx.nonce, tx.gas, fees)
