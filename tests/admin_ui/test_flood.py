"""The flood replay (`tests.admin_ui.flood`) with small counts: admin-ui keeps answering, the
limits hold, slow clients are cut off, and its peak memory stays within the stated bound."""

from __future__ import annotations

import pytest

from tests.admin_ui.conftest import Ui
from tests.admin_ui.flood import MEMORY_BOUND_MB, Counts, Limits, Target, replay

LIMITS = Limits(attempts=3, attempts_all=12, per_login_streams=3)
COUNTS = Counts(
    setup_guesses=60,
    logins=30,
    enrollments=30,
    right_logins=16,
    slow_headers=8,
    slow_bodies=8,
    router_errors=60,
    malformed=60,
    streams=12,
)


@pytest.fixture
def ui_settings() -> dict[str, str]:
    return {
        "login_attempts": str(LIMITS.attempts),
        "login_attempts_all": str(LIMITS.attempts_all),
        "max_streams_per_login": str(LIMITS.per_login_streams),
        "header_timeout_s": "2",  # the slow clients are cut off soon (not a pass criterion)
        "body_timeout_s": "2",
    }


async def test_admin_ui_survives_the_floods(ui: Ui) -> None:
    target = Target(ui.base, ui.origin, ui.daemons.pid("admin_ui"), ui.setup_code())
    report = await replay(target, COUNTS, log=lambda _line: None)
    assert not report.failures(LIMITS), report.summary()
    # what the floods got: refusals, not evaluations
    assert report.statuses["setup guesses"][429] >= COUNTS.setup_guesses - LIMITS.attempts
    assert report.statuses["wrong enrollments"][429] >= COUNTS.enrollments - LIMITS.attempts
    assert report.statuses["right logins (hashing)"][200] >= 1  # the owner still gets in
    assert report.statuses["404 bursts"] == {404: COUNTS.router_errors}
    assert report.statuses["405 bursts"] == {405: COUNTS.router_errors}
    assert set(report.statuses["413 bursts"]) == {413}
    assert report.statuses["streams"][200] == LIMITS.per_login_streams
    assert report.peak_mb - report.rss_before_mb <= MEMORY_BOUND_MB
