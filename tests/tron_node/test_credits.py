"""The credit rule of docs/payouts.md, on numbers worked out by hand."""

from __future__ import annotations

import pytest

from lucid.tron_node.credits import CreditRule
from tests.tron_node.helpers import RULE


def test_full_uptime_and_sessions() -> None:
    c = RULE.credits(7, heartbeats=10, sessions=3)
    assert (c.uptime_credits, c.session_credits, c.credits) == (100, 30, 130)
    assert c.amount == 130 * 10_000  # 1.3 USDT
    assert (c.start, c.end) == (700, 800)


def test_partial_uptime_rounds_down_and_sessions_are_capped() -> None:
    rule = CreditRule(
        epoch_s=86400,
        heartbeats_per_epoch=1440,
        credits_uptime=100,
        credits_per_session=10,
        max_sessions=100,
        usdt_per_credit=10_000,
    )
    c = rule.credits(0, heartbeats=1439, sessions=250)
    assert c.uptime_credits == 99  # 100 * 1439 // 1440
    assert c.session_credits == 1000  # 100 sessions counted, not 250
    assert c.sessions == 250  # the input is kept for the ledger
    assert c.amount == 1099 * 10_000


def test_heartbeats_beyond_the_slot_count_are_clamped() -> None:
    assert RULE.credits(1, heartbeats=25, sessions=0).uptime_credits == 100
    assert RULE.credits(1, heartbeats=0, sessions=0).amount == 0


def test_sessions_served_counts_sealed_sessions_sealed_in_the_epoch() -> None:
    sessions = [
        {"session": "s-a", "state": "sealed", "sealed_at": "700.000"},  # first instant: in
        {"session": "s-b", "state": "sealed", "sealed_at": "799.999"},
        {"session": "s-c", "state": "sealed", "sealed_at": "800.000"},  # next epoch
        {"session": "s-d", "state": "failed", "sealed_at": "750.000"},  # not sealed
        {"session": "gatekeeper-x", "state": "sealed", "sealed_at": "750.000"},  # audit stream
        {"session": "s-e", "state": "sealed", "sealed_at": "bogus"},
    ]
    assert RULE.served(sessions, 7) == 2
    assert RULE.served(sessions, 8) == 1


def test_epochs_and_slots_line_up() -> None:
    assert RULE.epoch_at(799.99) == 7 and RULE.epoch_at(800) == 8
    assert RULE.slot_at(805) == 80 and RULE.slots(8) == (80, 90)
    assert RULE.slot_at(799.99) // RULE.heartbeats_per_epoch == 7


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        CreditRule(0, 10, 1, 1, 1, 1)
    with pytest.raises(ValueError):
        CreditRule(100, 10, -1, 1, 1, 1)
