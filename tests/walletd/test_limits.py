from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite
import pytest

from lucid.runtime.db import open_db
from lucid.runtime.errors import LimitExceededError
from lucid.walletd.limits import Limit, Signed, SpendLedger
from lucid.walletd.schema import MIGRATIONS

LIMITS = {
    "wei": Limit(10**18, 3 * 10**18, "walletd.evm_limit_tx_wei", "walletd.evm_limit_day_wei"),
    "usdt": Limit(100, 250, "walletd.tron_limit_tx", "walletd.tron_limit_day"),
}
NOON = datetime(2026, 3, 1, 12, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Signer:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> Signed:
        self.calls += 1
        return Signed(b"sig%d" % self.calls, f"tx{self.calls}")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[aiosqlite.Connection]:
    conn = await open_db(tmp_path / "walletd.db", MIGRATIONS)
    yield conn
    await conn.close()


async def test_per_transaction_limit_refuses_before_signing(db: aiosqlite.Connection) -> None:
    ledger = SpendLedger(db, LIMITS, Clock(NOON))
    sign = Signer()
    with pytest.raises(LimitExceededError, match=r"101 usdt, above walletd.tron_limit_tx \(100\)"):
        await ledger.sign("tron:a", {"usdt": 101}, sign)
    assert sign.calls == 0
    assert (await ledger.sign("tron:a", {"usdt": 100}, sign)).payload == b"sig1"


async def test_daily_total_and_utc_midnight(db: aiosqlite.Connection) -> None:
    clock = Clock(NOON)
    ledger = SpendLedger(db, LIMITS, clock)
    sign = Signer()
    await ledger.sign("tron:a", {"usdt": 100}, sign)
    await ledger.sign("tron:b", {"usdt": 100}, sign)
    with pytest.raises(LimitExceededError, match=r"to 300, above walletd.tron_limit_day \(250\)"):
        await ledger.sign("tron:c", {"usdt": 100}, sign)
    await ledger.sign("tron:c", {"usdt": 50}, sign)  # exactly the limit is fine
    assert await ledger.day_total("2026-03-01", "usdt") == 250
    clock.now = datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC).timestamp()
    with pytest.raises(LimitExceededError):
        await ledger.sign("tron:d", {"usdt": 1}, sign)
    clock.now = datetime(2026, 3, 2, 0, 0, 0, tzinfo=UTC).timestamp()
    await ledger.sign("tron:d", {"usdt": 100}, sign)
    assert sign.calls == 4


async def test_assets_are_counted_separately(db: aiosqlite.Connection) -> None:
    ledger = SpendLedger(db, LIMITS, Clock(NOON))
    sign = Signer()
    await ledger.sign("k1", {"wei": 10**18, "usdt": 100}, sign)
    await ledger.sign("k2", {"wei": 10**18, "usdt": 100}, sign)
    # usdt has room for 50 more, wei for 10**18: one over refuses the whole transaction
    with pytest.raises(LimitExceededError, match="usdt"):
        await ledger.sign("k3", {"wei": 1, "usdt": 51}, sign)
    assert await ledger.day_total("2026-03-01", "wei") == 2 * 10**18  # nothing charged
    await ledger.sign("k3", {"wei": 10**18, "usdt": 50}, sign)
    assert await ledger.day_total("2026-03-01", "wei") == 3 * 10**18  # above 2**63: text


async def test_same_spend_is_charged_once(db: aiosqlite.Connection) -> None:
    ledger = SpendLedger(db, LIMITS, Clock(NOON))
    sign = Signer()
    await ledger.sign("evm:0xa:1:7", {"wei": 10**18}, sign)
    await ledger.sign("evm:0xa:1:7", {"wei": 10**18}, sign)  # signed again: no charge
    await ledger.sign("evm:0xa:1:7", {"wei": 10**18}, sign)
    assert await ledger.day_total("2026-03-01", "wei") == 10**18
    # a fee bump of the same nonce pays only the difference
    await ledger.sign("evm:0xa:1:7", {"wei": 10**18}, sign)
    await ledger.sign("evm:0xa:1:8", {"wei": 10**18}, sign)
    await ledger.sign("evm:0xa:1:8", {"wei": 10**18}, sign)
    assert await ledger.day_total("2026-03-01", "wei") == 2 * 10**18
    await ledger.sign("evm:0xa:1:9", {"wei": 10**18}, sign)  # a new nonce is a new spend
    with pytest.raises(LimitExceededError):
        await ledger.sign("evm:0xa:1:10", {"wei": 1}, sign)
    assert sign.calls == 7


async def test_fee_bump_charges_the_difference(db: aiosqlite.Connection) -> None:
    ledger = SpendLedger(db, LIMITS, Clock(NOON))
    sign = Signer()
    await ledger.sign("evm:0xa:1:7", {"wei": 4 * 10**17}, sign)
    await ledger.sign("evm:0xa:1:7", {"wei": 9 * 10**17}, sign)
    await ledger.sign("evm:0xa:1:7", {"wei": 2 * 10**17}, sign)  # lower: nothing more
    assert await ledger.day_total("2026-03-01", "wei") == 9 * 10**17


async def test_totals_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "walletd.db"
    conn = await open_db(path, MIGRATIONS)
    ledger = SpendLedger(conn, LIMITS, Clock(NOON))
    await ledger.sign("tron:a", {"usdt": 100}, Signer())
    await ledger.sign("tron:b", {"usdt": 100}, Signer())
    await conn.close()
    conn = await open_db(path, MIGRATIONS)
    try:
        ledger = SpendLedger(conn, LIMITS, Clock(NOON + 3600))
        with pytest.raises(LimitExceededError):
            await ledger.sign("tron:c", {"usdt": 51}, Signer())
        await ledger.sign("tron:c", {"usdt": 50}, Signer())
    finally:
        await conn.close()


async def test_a_failed_signature_charges_nothing(db: aiosqlite.Connection) -> None:
    ledger = SpendLedger(db, LIMITS, Clock(NOON))

    def broken() -> Signed:
        raise RuntimeError("signer unplugged")

    with pytest.raises(RuntimeError):
        await ledger.sign("tron:a", {"usdt": 100}, broken)
    assert await ledger.day_total("2026-03-01", "usdt") == 0


async def test_existing_database_gains_the_table(tmp_path: Path) -> None:
    path = tmp_path / "walletd.db"
    conn = await open_db(path, MIGRATIONS[:1])  # a walletd.db from before chain accounts
    await conn.close()
    conn = await open_db(path, MIGRATIONS)
    try:
        async with conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        assert row is not None and row[0] == len(MIGRATIONS)  # every migration ran
        await SpendLedger(conn, LIMITS, Clock(NOON)).sign("k", {"usdt": 1}, Signer())
    finally:
        await conn.close()
