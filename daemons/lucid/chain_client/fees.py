"""EIP-1559 fee policy: what to offer for a new transaction, and how to bump a stuck one.

New transaction: tip = the median of the recent blocks' ``tip_percentile`` rewards,
clamped to ``[min_tip, max_tip]``; max fee = 2 x the next block's base fee + tip (room for
six full blocks of base-fee growth), capped at ``max_fee``. If even the cap cannot pay the
next base fee plus the tip, nothing is signed (`FeeCapError`) and the anchorer waits.
Replacement (same nonce, not mined after ``replace_after_blocks``): both fees x 1.125 + 1
wei (what nodes require of a replacement), or the fresh quote if higher, capped again.
This module does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from lucid.chain_client.errors import FeeCapError

GWEI = 10**9


@dataclass(frozen=True)
class FeePolicy:
    max_fee: int  # wei per gas: never sign above this
    max_tip: int  # wei per gas
    min_tip: int  # wei per gas


@dataclass(frozen=True)
class Fees:
    max_fee: int
    tip: int


def _median(values: list[int]) -> int:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0


def quote(policy: FeePolicy, base_fees: list[int], tips: list[int]) -> Fees:
    """Fees for a new transaction from ``eth_feeHistory`` (last base fee = next block's).

    Raises:
        FeeCapError: the cap cannot pay the next block's base fee plus the tip.
    """
    base = base_fees[-1] if base_fees else 0
    tip = min(policy.max_tip, max(policy.min_tip, _median(tips)))
    if base + tip > policy.max_fee:
        raise FeeCapError(
            f"next base fee {base / GWEI:.3f} gwei + tip {tip / GWEI:.3f} gwei is above "
            f"chain_client.max_fee_per_gas ({policy.max_fee / GWEI:.3f} gwei)"
        )
    return Fees(max_fee=min(policy.max_fee, 2 * base + tip), tip=tip)


def bump(policy: FeePolicy, old: Fees, fresh: Fees) -> Fees | None:
    """Fees for a replacement of a transaction sent with `old`; None if the cap allows none."""
    tip = max(fresh.tip, old.tip + old.tip // 8 + 1)
    max_fee = max(fresh.max_fee, old.max_fee + old.max_fee // 8 + 1)
    if max_fee > policy.max_fee:
        max_fee = policy.max_fee
    tip = min(tip, max_fee)
    if max_fee < old.max_fee + old.max_fee // 8 + 1 or tip < old.tip + old.tip // 8 + 1:
        return None  # a capped bump would be rejected as an underpriced replacement
    return Fees(max_fee=max_fee, tip=tip)
