"""The work-credit rule (docs/payouts.md): from uptime and sessions served to a USDT amount.

Pure arithmetic on integers, so a third party can recompute any payout from its inputs.
This module does not read heartbeats or sessions itself, and does not know about TRON.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the payload shape only; the bus library is not imported at run time
    from lucid.merkle.client import SealInfo


@dataclass(frozen=True)
class CreditRule:
    """Parameters of the rule (config section ``tron_node``)."""

    epoch_s: int  # epoch n covers unix time [n * epoch_s, (n + 1) * epoch_s)
    heartbeats_per_epoch: int  # uptime samples per epoch
    credits_uptime: int  # credits for a full epoch of uptime
    credits_per_session: int
    max_sessions: int  # sessions counted per epoch
    usdt_per_credit: int  # USDT base units (1e-6 USDT) per credit
    exclude_sessions: tuple[str, ...] = ()  # session id prefixes that are not served sessions

    def __post_init__(self) -> None:
        if self.epoch_s <= 0 or self.heartbeats_per_epoch <= 0:
            raise ValueError("epoch_s and heartbeats_per_epoch must be positive")
        if min(self.credits_uptime, self.credits_per_session, self.max_sessions) < 0:
            raise ValueError("credits and max_sessions must not be negative")
        if self.usdt_per_credit < 0:
            raise ValueError("usdt_per_credit must not be negative")

    def epoch_at(self, t: float) -> int:
        """The epoch that unix time ``t`` falls in."""
        return int(t // self.epoch_s)

    def bounds(self, epoch: int) -> tuple[int, int]:
        """[start, end) of ``epoch`` in unix seconds."""
        return epoch * self.epoch_s, (epoch + 1) * self.epoch_s

    def slot_at(self, t: float) -> int:
        """The global heartbeat slot of unix time ``t`` (slot // heartbeats_per_epoch = epoch)."""
        return int(t * self.heartbeats_per_epoch // self.epoch_s)

    def slots(self, epoch: int) -> tuple[int, int]:
        """[first, end) heartbeat slots of ``epoch``."""
        return epoch * self.heartbeats_per_epoch, (epoch + 1) * self.heartbeats_per_epoch

    def served(self, sessions: Iterable[SealInfo], epoch: int) -> int:
        """Sessions merkle sealed within ``epoch`` (state sealed, id not excluded)."""
        start, end = self.bounds(epoch)
        count = 0
        for s in sessions:
            sid = s.get("session", "")
            if s.get("state") != "sealed" or any(sid.startswith(p) for p in self.exclude_sessions):
                continue
            try:
                sealed_at = float(s.get("sealed_at", ""))
            except ValueError:
                continue
            if start <= sealed_at < end:
                count += 1
        return count

    def credits(self, epoch: int, heartbeats: int, sessions: int) -> Credits:
        """Apply the rule to one epoch's inputs.

        Args:
            epoch: the epoch.
            heartbeats: distinct heartbeat slots recorded in it (clamped to the slot count).
            sessions: sessions served in it.
        Returns:
            The inputs and every intermediate value, for the ledger and for auditors.
        """
        beats = max(0, min(heartbeats, self.heartbeats_per_epoch))
        counted = max(0, min(sessions, self.max_sessions))
        uptime_credits = self.credits_uptime * beats // self.heartbeats_per_epoch
        session_credits = self.credits_per_session * counted
        total = uptime_credits + session_credits
        start, end = self.bounds(epoch)
        return Credits(
            epoch=epoch,
            start=start,
            end=end,
            heartbeats=beats,
            heartbeats_per_epoch=self.heartbeats_per_epoch,
            sessions=max(0, sessions),
            uptime_credits=uptime_credits,
            session_credits=session_credits,
            credits=total,
            amount=total * self.usdt_per_credit,
        )


@dataclass(frozen=True)
class Credits:
    epoch: int
    start: int
    end: int
    heartbeats: int
    heartbeats_per_epoch: int
    sessions: int
    uptime_credits: int
    session_credits: int
    credits: int
    amount: int  # USDT base units

    def as_dict(self) -> dict[str, int]:
        return {
            "epoch": self.epoch,
            "start": self.start,
            "end": self.end,
            "heartbeats": self.heartbeats,
            "heartbeats_per_epoch": self.heartbeats_per_epoch,
            "sessions": self.sessions,
            "uptime_credits": self.uptime_credits,
            "session_credits": self.session_credits,
            "credits": self.credits,
            "amount": self.amount,
        }
