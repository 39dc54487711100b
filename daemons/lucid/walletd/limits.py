"""Spending limits: per transaction and per UTC day, kept in walletd's database.

``SpendLedger.sign`` checks a transaction's spends against the limits, signs, and records
what it charged before the signature is returned, in one step under a lock; a restart
keeps the day's totals. One on-chain spend is charged once: signing the same transaction
again (or, on an EVM chain, another transaction with the same account, chain and nonce,
e.g. a fee bump, of which only one can be mined) charges only the amount above what was
already charged for it. Amounts are stored as decimal text: wei totals exceed SQLite's
64-bit integers. This module does not know the chains' formats and does not sign.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import aiosqlite

from lucid.runtime.errors import LimitExceededError

MIGRATION = """
CREATE TABLE chain_spends (
    id INTEGER PRIMARY KEY,
    spend_key TEXT NOT NULL,   -- one on-chain spend: evm:<address>:<chainId>:<nonce>, tron:<txid>
    txid TEXT NOT NULL,        -- what the caller got back (EVM tx hash / TRON txid)
    asset TEXT NOT NULL,       -- wei | trx | usdt
    day TEXT NOT NULL,         -- UTC day of signing, YYYY-MM-DD
    charged TEXT NOT NULL,     -- decimal integer counted against the day's total
    signed_at REAL NOT NULL
);
CREATE INDEX chain_spends_day ON chain_spends(day, asset);
CREATE INDEX chain_spends_key ON chain_spends(spend_key, asset);
"""


@dataclass(frozen=True)
class Limit:
    per_tx: int
    per_day: int
    per_tx_key: str  # config key, named in refusals
    per_day_key: str


@dataclass(frozen=True)
class Signed:
    payload: bytes  # what the caller gets: the raw EVM transaction or the TRON signature
    txid: str


class SpendLedger:
    def __init__(
        self,
        db: aiosqlite.Connection,
        limits: Mapping[str, Limit],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._limits = dict(limits)
        self._clock = clock
        self._lock = asyncio.Lock()

    async def sign(
        self, spend_key: str, spends: Mapping[str, int], sign: Callable[[], Signed]
    ) -> Signed:
        """Call ``sign`` if ``spends`` (asset -> amount) fit the limits; record the charge.

        Args:
            spend_key: identifies the on-chain spend (see the module docstring).
            spends: the most the transaction can spend, per asset (each asset must have a
                limit).
            sign: makes the signature; called at most once, under the ledger's lock.
        Raises:
            LimitExceededError: an amount above the per-transaction limit, or a charge that
                would take the day's (UTC) total above the daily limit.
        """
        async with self._lock:
            now = self._clock()
            day = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")
            charges: dict[str, int] = {}
            for asset, amount in spends.items():
                limit = self._limits[asset]
                if amount > limit.per_tx:
                    raise LimitExceededError(
                        f"transaction spends up to {amount} {asset}, above "
                        f"{limit.per_tx_key} ({limit.per_tx})"
                    )
                charges[asset] = max(0, amount - await self._charged(spend_key, asset))
                total = await self.day_total(day, asset)
                if total + charges[asset] > limit.per_day:
                    raise LimitExceededError(
                        f"signing would bring the {asset} spent on {day} (UTC) to "
                        f"{total + charges[asset]}, above {limit.per_day_key} ({limit.per_day})"
                    )
            signed = sign()
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                await self._db.executemany(
                    "INSERT INTO chain_spends(spend_key, txid, asset, day, charged, signed_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [(spend_key, signed.txid, a, day, str(c), now) for a, c in charges.items()],
                )
                await self._db.execute("COMMIT")
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            return signed

    async def day_total(self, day: str, asset: str) -> int:
        """Charged on ``day`` (UTC, YYYY-MM-DD) for ``asset``."""
        async with self._db.execute(
            "SELECT charged FROM chain_spends WHERE day = ? AND asset = ?", (day, asset)
        ) as cur:
            return sum([int(row[0]) async for row in cur])

    async def _charged(self, spend_key: str, asset: str) -> int:
        async with self._db.execute(
            "SELECT charged FROM chain_spends WHERE spend_key = ? AND asset = ?",
            (spend_key, asset),
        ) as cur:
            return sum([int(row[0]) async for row in cur])
