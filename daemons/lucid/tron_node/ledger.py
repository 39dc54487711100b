"""tron-node's database: heartbeats (uptime evidence) and the payout ledger.

One payout row per (payee, epoch), moving planned -> signed -> broadcast -> confirmed, or to
failed. The signed raw transaction, its signature and txid are committed *before* anything is
broadcast, and every transaction ever signed stays in ``attempts``: after a crash the row says
exactly which transaction may be on its way. This module enforces the transitions (each
update names the state it expects) but decides nothing about the chain.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiosqlite

from lucid.runtime.errors import ConflictError

PLANNED, SIGNED, BROADCAST, CONFIRMED, FAILED = (
    "planned",
    "signed",
    "broadcast",
    "confirmed",
    "failed",
)
IN_FLIGHT = (PLANNED, SIGNED, BROADCAST)

MIGRATIONS = [
    """
    CREATE TABLE heartbeats (
        slot INTEGER PRIMARY KEY  -- global heartbeat slot (epoch = slot // heartbeats_per_epoch)
    );
    CREATE TABLE payouts (
        payee TEXT NOT NULL,
        epoch INTEGER NOT NULL,
        amount INTEGER NOT NULL,  -- token base units (USDT: 1e-6)
        credits TEXT NOT NULL,  -- JSON: the rule's inputs and results
        method TEXT NOT NULL,  -- usdt | router
        contract TEXT NOT NULL,  -- the called contract (base58check)
        state TEXT NOT NULL
            CHECK (state IN ('planned', 'signed', 'broadcast', 'confirmed', 'failed')),
        txid TEXT NOT NULL DEFAULT '',  -- the current transaction (signed or later)
        raw_data TEXT NOT NULL DEFAULT '',  -- its raw data, tronpy JSON
        raw_hex TEXT NOT NULL DEFAULT '',  -- its raw data, protobuf hex (what walletd signed)
        signature TEXT NOT NULL DEFAULT '',
        expiration INTEGER NOT NULL DEFAULT 0,  -- ms; the chain refuses it after this
        block INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,  -- transactions signed for this row
        error TEXT NOT NULL DEFAULT '',  -- D-Bus error name of the last problem
        message TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (payee, epoch)
    );
    CREATE TABLE attempts (
        txid TEXT PRIMARY KEY,
        payee TEXT NOT NULL,
        epoch INTEGER NOT NULL,
        raw_hex TEXT NOT NULL,
        signature TEXT NOT NULL,
        expiration INTEGER NOT NULL,
        outcome TEXT NOT NULL DEFAULT '',  -- '' (open), confirmed, expired, rejected, reverted
        signed_at REAL NOT NULL
    );
    """,
]


@dataclass(frozen=True)
class Payout:
    payee: str
    epoch: int
    amount: int
    credits: dict[str, Any]
    method: str
    contract: str
    state: str
    txid: str
    raw_data: dict[str, Any] | None
    raw_hex: str
    signature: str
    expiration: int
    block: int
    attempts: int
    error: str
    message: str
    created_at: float
    updated_at: float

    @classmethod
    def from_row(cls, row: Any) -> Payout:
        return cls(
            payee=row["payee"],
            epoch=int(row["epoch"]),
            amount=int(row["amount"]),
            credits=json.loads(row["credits"]),
            method=row["method"],
            contract=row["contract"],
            state=row["state"],
            txid=row["txid"],
            raw_data=json.loads(row["raw_data"]) if row["raw_data"] else None,
            raw_hex=row["raw_hex"],
            signature=row["signature"],
            expiration=int(row["expiration"]),
            block=int(row["block"]),
            attempts=int(row["attempts"]),
            error=row["error"],
            message=row["message"],
            created_at=float(row["created_at"]),
            updated_at=float(row["updated_at"]),
        )


class Ledger:
    def __init__(self, db: aiosqlite.Connection, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    # --- heartbeats -----------------------------------------------------------------------

    async def beat(self, slot: int) -> None:
        await self._db.execute("INSERT OR IGNORE INTO heartbeats (slot) VALUES (?)", (slot,))

    async def count_beats(self, first: int, end: int) -> int:
        async with self._db.execute(
            "SELECT COUNT(*) FROM heartbeats WHERE slot >= ? AND slot < ?", (first, end)
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def unpaid_epochs(self, heartbeats_per_epoch: int, through: int) -> list[int]:
        """Epochs up to ``through`` that have heartbeats and no payout row (ascending)."""
        async with self._db.execute(
            "SELECT DISTINCT slot / ? AS e FROM heartbeats WHERE slot < ? "
            "AND e NOT IN (SELECT epoch FROM payouts) ORDER BY e",
            (heartbeats_per_epoch, (through + 1) * heartbeats_per_epoch),
        ) as cur:
            return [int(r[0]) async for r in cur]

    # --- payouts --------------------------------------------------------------------------

    async def get(self, payee: str, epoch: int) -> Payout | None:
        async with self._db.execute(
            "SELECT * FROM payouts WHERE payee = ? AND epoch = ?", (payee, epoch)
        ) as cur:
            row = await cur.fetchone()
        return Payout.from_row(row) if row else None

    async def payouts(self, states: tuple[str, ...] | None = None) -> list[Payout]:
        sql = "SELECT * FROM payouts"
        args: tuple[str, ...] = ()
        if states:
            sql += f" WHERE state IN ({','.join('?' * len(states))})"
            args = states
        async with self._db.execute(sql + " ORDER BY epoch, payee", args) as cur:
            return [Payout.from_row(r) async for r in cur]

    async def epoch_paid(self, epoch: int) -> bool:
        """True if any payee has a row for ``epoch`` (an epoch's credits are paid once)."""
        async with self._db.execute("SELECT 1 FROM payouts WHERE epoch = ?", (epoch,)) as cur:
            return await cur.fetchone() is not None

    async def plan(
        self,
        payee: str,
        epoch: int,
        amount: int,
        credits: dict[str, Any],
        method: str,
        contract: str,
    ) -> Payout:
        """Insert the planned row (a no-op if the row exists); returns the row."""
        now = self._clock()
        await self._db.execute(
            "INSERT OR IGNORE INTO payouts (payee, epoch, amount, credits, method, contract, "
            "state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (payee, epoch, amount, json.dumps(credits, sort_keys=True), method, contract,
             PLANNED, now, now),
        )  # fmt: skip
        row = await self.get(payee, epoch)
        assert row is not None
        return row

    async def signed(
        self,
        p: Payout,
        txid: str,
        raw_data: dict[str, Any],
        raw_hex: str,
        signature: str,
        expiration: int,
    ) -> Payout:
        """planned -> signed, recording the transaction (and its attempt) in one commit."""
        now = self._clock()
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            await self._transition(
                p, PLANNED, SIGNED,
                "txid = ?, raw_data = ?, raw_hex = ?, signature = ?, expiration = ?, block = 0, "
                "attempts = attempts + 1, error = '', message = ''",
                (txid, json.dumps(raw_data, sort_keys=True), raw_hex, signature, expiration),
            )  # fmt: skip
            await self._db.execute(
                "INSERT INTO attempts (txid, payee, epoch, raw_hex, signature, expiration, "
                "signed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (txid, p.payee, p.epoch, raw_hex, signature, expiration, now),
            )
            await self._db.execute("COMMIT")
        except BaseException:
            await self._db.execute("ROLLBACK")
            raise
        return await self._reload(p)

    async def move(
        self, p: Payout, to: str, *, block: int | None = None, error: str = "", message: str = ""
    ) -> Payout:
        """Move ``p`` from its current state to ``to`` (clears or sets the error)."""
        sets = "error = ?, message = ?"
        args: list[Any] = [error, message]
        if block is not None:
            sets += ", block = ?"
            args.append(block)
        if to == PLANNED:  # the old transaction can no longer land: forget it on the row
            sets += ", txid = '', raw_data = '', raw_hex = '', signature = '', expiration = 0"
        await self._transition(p, p.state, to, sets, tuple(args))
        return await self._reload(p)

    async def note(self, p: Payout, error: str, message: str) -> Payout:
        """Record why ``p`` did not advance (state unchanged)."""
        await self._db.execute(
            "UPDATE payouts SET error = ?, message = ?, updated_at = ? "
            "WHERE payee = ? AND epoch = ? AND state = ?",
            (error, message, self._clock(), p.payee, p.epoch, p.state),
        )
        return await self._reload(p)

    async def known_txid(self, txid: str) -> bool:
        """True if a transaction with this id was ever signed for any payout."""
        async with self._db.execute("SELECT 1 FROM attempts WHERE txid = ?", (txid,)) as cur:
            return await cur.fetchone() is not None

    async def close_attempt(self, txid: str, outcome: str) -> None:
        await self._db.execute(
            "UPDATE attempts SET outcome = ? WHERE txid = ? AND outcome = ''", (outcome, txid)
        )

    async def attempts(self, payee: str, epoch: int) -> list[dict[str, Any]]:
        async with self._db.execute(
            "SELECT * FROM attempts WHERE payee = ? AND epoch = ? ORDER BY signed_at",
            (payee, epoch),
        ) as cur:
            return [dict(r) async for r in cur]

    async def _transition(
        self, p: Payout, expected: str, to: str, sets: str, args: tuple[Any, ...]
    ) -> None:
        cur = await self._db.execute(
            f"UPDATE payouts SET state = ?, {sets}, updated_at = ? "
            "WHERE payee = ? AND epoch = ? AND state = ?",
            (to, *args, self._clock(), p.payee, p.epoch, expected),
        )
        if cur.rowcount != 1:
            raise ConflictError(
                f"payout {p.payee}/{p.epoch} is no longer {expected}; not moved to {to}"
            )

    async def _reload(self, p: Payout) -> Payout:
        row = await self.get(p.payee, p.epoch)
        assert row is not None
        return row
