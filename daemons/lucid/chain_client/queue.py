"""chain-client's persistent state (SQLite): the queue of sealed roots, batches, transactions.

Tables:

* ``roots``: one row per sealed session (``session``, its tree ``root``, ``queued_at``);
  ``batch`` / ``leaf_index`` are set when the root is cut into a batch. A root is never
  deleted: once its batch is confirmed it is the source of the session's proof.
* ``batches``: the batch tree's ``root`` and ``size``; ``pending`` until one of its
  transactions has the configured confirmations, then ``confirmed`` with that transaction,
  its block, and the chain, contract, device and binding the proof names.
* ``txs``: every transaction walletd signed for us, stored *before* it is broadcast (raw
  bytes and hash), so that a restart rebroadcasts or finds it instead of signing another.
  States: ``signed`` -> ``sent`` -> ``mined`` -> ``confirmed``; ``dropped`` (its nonce went
  to another transaction, or it was replaced) and ``reverted`` are final.
* ``meta``: small facts keyed by name (the chain's genesis hash, the deployed contract).

Every state change is one SQL transaction. This module does not talk to the chain or the bus.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

MIGRATIONS = [
    """
    CREATE TABLE batches (
        id INTEGER PRIMARY KEY,
        root TEXT NOT NULL,
        size INTEGER NOT NULL CHECK (size >= 1),
        state TEXT NOT NULL CHECK (state IN ('pending', 'confirmed')),
        created_at REAL NOT NULL,
        tx_hash TEXT,
        block_number INTEGER,
        block_hash TEXT,
        chain_id INTEGER,
        contract TEXT,
        device TEXT,
        binding TEXT,
        gas_used INTEGER,
        confirmed_at REAL
    );
    CREATE TABLE roots (
        session TEXT PRIMARY KEY,
        root TEXT NOT NULL,
        queued_at REAL NOT NULL,
        batch INTEGER REFERENCES batches(id),
        leaf_index INTEGER,
        UNIQUE (batch, leaf_index)
    );
    CREATE INDEX roots_unbatched ON roots(queued_at) WHERE batch IS NULL;
    CREATE TABLE txs (
        hash TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('register', 'anchor')),
        batch INTEGER REFERENCES batches(id),
        nonce INTEGER NOT NULL,
        raw BLOB NOT NULL,
        data TEXT NOT NULL,
        gas INTEGER NOT NULL,
        max_fee INTEGER NOT NULL,
        tip INTEGER NOT NULL,
        chain_id INTEGER NOT NULL,
        contract TEXT NOT NULL,
        sender TEXT NOT NULL,
        state TEXT NOT NULL
            CHECK (state IN ('signed', 'sent', 'mined', 'confirmed', 'dropped', 'reverted')),
        created_at REAL NOT NULL,
        sent_block INTEGER,
        block_number INTEGER,
        block_hash TEXT,
        error TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
]

LIVE = ("signed", "sent", "mined")


@dataclass(frozen=True)
class Batch:
    id: int
    root: bytes
    size: int
    state: str
    created_at: float


@dataclass(frozen=True)
class Tx:
    hash: str
    kind: str
    batch: int | None
    nonce: int
    raw: bytes
    data: str  # calldata (0x hex), to re-sign a replacement
    gas: int
    max_fee: int
    tip: int
    chain_id: int
    contract: str
    sender: str
    state: str
    created_at: float
    sent_block: int | None = None
    block_number: int | None = None
    block_hash: str | None = None
    error: str = ""


def _tx(row: sqlite3.Row) -> Tx:
    return Tx(**{k: row[k] for k in row.keys()})  # noqa: SIM118  # sqlite3.Row has no __iter__ of keys


def _batch(row: sqlite3.Row) -> Batch:
    return Batch(
        id=row["id"],
        root=bytes.fromhex(row["root"]),
        size=row["size"],
        state=row["state"],
        created_at=row["created_at"],
    )


class AnchorQueue:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def _one(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Row | None:
        async with self._db.execute(sql, args) as cur:
            row: sqlite3.Row | None = await cur.fetchone()
            return row

    async def _all(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self._db.execute(sql, args) as cur:
            return list(await cur.fetchall())

    # --- roots ---------------------------------------------------------------------------

    async def enqueue(self, session: str, root: str, now: float) -> bool:
        """Queue a sealed root; False if the session is already known (never re-queued)."""
        cur = await self._db.execute(
            "INSERT OR IGNORE INTO roots(session, root, queued_at) VALUES (?, ?, ?)",
            (session, root, now),
        )
        return cur.rowcount == 1

    async def known(self) -> set[str]:
        return {r["session"] for r in await self._all("SELECT session FROM roots")}

    async def unbatched(self, limit: int) -> list[tuple[str, bytes]]:
        rows = await self._all(
            "SELECT session, root FROM roots WHERE batch IS NULL "
            "ORDER BY queued_at, session LIMIT ?",
            (limit,),
        )
        return [(r["session"], bytes.fromhex(r["root"])) for r in rows]

    async def oldest_unbatched(self) -> float | None:
        row = await self._one("SELECT MIN(queued_at) AS t FROM roots WHERE batch IS NULL")
        return None if row is None or row["t"] is None else float(row["t"])

    async def cut_batch(
        self, members: Sequence[tuple[str, bytes]], root: bytes, now: float
    ) -> Batch:
        """Record a batch of `members` (leaf order) with tree `root`, atomically."""
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            cur = await self._db.execute(
                "INSERT INTO batches(root, size, state, created_at) VALUES (?, ?, 'pending', ?)",
                (root.hex(), len(members), now),
            )
            batch_id = int(cur.lastrowid or 0)
            for index, (session, _root) in enumerate(members):
                await self._db.execute(
                    "UPDATE roots SET batch=?, leaf_index=? WHERE session=? AND batch IS NULL",
                    (batch_id, index, session),
                )
            await self._db.execute("COMMIT")
        except BaseException:
            await self._db.execute("ROLLBACK")
            raise
        return Batch(id=batch_id, root=root, size=len(members), state="pending", created_at=now)

    async def members(self, batch_id: int) -> list[tuple[str, bytes]]:
        rows = await self._all(
            "SELECT session, root FROM roots WHERE batch=? ORDER BY leaf_index", (batch_id,)
        )
        return [(r["session"], bytes.fromhex(r["root"])) for r in rows]

    async def pending_batches(self) -> list[Batch]:
        rows = await self._all("SELECT * FROM batches WHERE state='pending' ORDER BY id")
        return [_batch(r) for r in rows]

    async def confirm_batch(
        self, batch_id: int, tx: Tx, gas_used: int, binding: str, now: float
    ) -> None:
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            await self._db.execute(
                "UPDATE batches SET state='confirmed', tx_hash=?, block_number=?, block_hash=?, "
                "chain_id=?, contract=?, device=?, binding=?, gas_used=?, confirmed_at=? "
                "WHERE id=?",
                (
                    tx.hash,
                    tx.block_number,
                    tx.block_hash,
                    tx.chain_id,
                    tx.contract,
                    tx.sender,
                    binding,
                    gas_used,
                    now,
                    batch_id,
                ),
            )
            await self._db.execute("UPDATE txs SET state='confirmed' WHERE hash=?", (tx.hash,))
            await self._db.execute(
                "UPDATE txs SET state='dropped', error='replaced' "
                "WHERE batch=? AND hash<>? AND state IN ('signed', 'sent', 'mined')",
                (batch_id, tx.hash),
            )
            await self._db.execute("COMMIT")
        except BaseException:
            await self._db.execute("ROLLBACK")
            raise

    # --- transactions ----------------------------------------------------------------------

    async def add_tx(self, tx: Tx) -> None:
        await self._db.execute(
            "INSERT INTO txs(hash, kind, batch, nonce, raw, data, gas, max_fee, tip, chain_id, "
            "contract, sender, state, created_at, sent_block) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                tx.hash,
                tx.kind,
                tx.batch,
                tx.nonce,
                tx.raw,
                tx.data,
                tx.gas,
                tx.max_fee,
                tx.tip,
                tx.chain_id,
                tx.contract,
                tx.sender,
                tx.state,
                tx.created_at,
                tx.sent_block,
            ),
        )

    async def live_txs(self) -> list[Tx]:
        rows = await self._all(
            "SELECT * FROM txs WHERE state IN ('signed', 'sent', 'mined') ORDER BY nonce, created_at"
        )
        return [_tx(r) for r in rows]

    async def set_tx(self, tx_hash: str, state: str, **fields: Any) -> None:
        cols = ["state=?"] + [f"{k}=?" for k in fields]
        await self._db.execute(
            f"UPDATE txs SET {', '.join(cols)} WHERE hash=?",  # column names are ours
            (state, *fields.values(), tx_hash),
        )

    async def drop_siblings(self, tx: Tx) -> None:
        """Other live transactions with `tx`'s nonce lost the race (replacements)."""
        await self._db.execute(
            "UPDATE txs SET state='dropped', error='replaced' "
            "WHERE nonce=? AND sender=? AND hash<>? AND state IN ('signed', 'sent', 'mined')",
            (tx.nonce, tx.sender, tx.hash),
        )

    # --- reading ---------------------------------------------------------------------------

    async def session(self, session: str) -> dict[str, Any] | None:
        row = await self._one(
            "SELECT r.session, r.root, r.queued_at, r.batch, r.leaf_index, b.root AS batch_root, "
            "b.size AS batch_size, b.state AS batch_state, b.tx_hash, b.block_number, "
            "b.block_hash, b.chain_id, b.contract, b.device, b.binding "
            "FROM roots r LEFT JOIN batches b ON b.id = r.batch WHERE r.session=?",
            (session,),
        )
        return None if row is None else dict(row)

    async def counts(self) -> dict[str, int]:
        row = await self._one(
            "SELECT "
            "(SELECT COUNT(*) FROM roots WHERE batch IS NULL) AS queued, "
            "(SELECT COUNT(*) FROM roots r JOIN batches b ON b.id=r.batch "
            "  WHERE b.state='pending') AS batched, "
            "(SELECT COUNT(*) FROM roots r JOIN batches b ON b.id=r.batch "
            "  WHERE b.state='confirmed') AS anchored, "
            "(SELECT COUNT(*) FROM batches WHERE state='confirmed') AS batches"
        )
        assert row is not None
        return {k: int(row[k]) for k in ("queued", "batched", "anchored", "batches")}

    async def last_confirmed(self) -> dict[str, Any] | None:
        row = await self._one(
            "SELECT id, size, tx_hash, block_number, gas_used FROM batches "
            "WHERE state='confirmed' ORDER BY confirmed_at DESC, id DESC LIMIT 1"
        )
        return None if row is None else dict(row)

    async def get(self, key: str) -> str | None:
        row = await self._one("SELECT value FROM meta WHERE key=?", (key,))
        return None if row is None else str(row["value"])

    async def put(self, key: str, value: str) -> None:
        await self._db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )
