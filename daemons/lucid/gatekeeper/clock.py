"""Time as gatekeeper keeps it: integer milliseconds since the epoch, from an injected clock.

Documents carry RFC 3339 UTC with milliseconds (docs/approvals.md); the database keeps the
same instants as integers, so ``expires_at - approved_at`` is exact. This module reads no
clock itself: `Clock` is passed in (tests drive it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from lucid.evidence.timestamps import parse_timestamp

Clock = Callable[[], float]
"""Returns Unix time in seconds (``time.time`` in the daemon)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now_ms(clock: Clock) -> int:
    """The clock's time in whole milliseconds (rounded: ``ms / 1000`` maps back to ``ms``)."""
    return round(clock() * 1000)


def stamp(ms: int) -> str:
    """``ms`` as RFC 3339 UTC with milliseconds, e.g. ``2026-11-22T02:15:30.123Z``."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def stamp_or_empty(ms: int | None) -> str:
    """`stamp`, or ``""`` for no time."""
    return "" if ms is None else stamp(ms)


def parse_ms(text: str, what: str) -> int:
    """Milliseconds of an RFC 3339 UTC time (``FormatError`` if it is not one)."""
    delta = parse_timestamp(text, what) - _EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000
