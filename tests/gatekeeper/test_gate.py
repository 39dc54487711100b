"""The domain on an injected clock: expiry happens exactly when it is due."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lucid.evidence.approvals import default_policy
from lucid.gatekeeper.audit import AuditLog
from lucid.gatekeeper.gate import Gatekeeper
from lucid.gatekeeper.schema import MIGRATIONS
from lucid.runtime.db import open_db
from tests.evidence.approval_helpers import DEVICE
from tests.gatekeeper.conftest import SCOPE
from tests.gatekeeper.test_audit import FakeClock


class Harness:
    def __init__(self, gate: Gatekeeper, clock: FakeClock, signals: list[tuple[str, ...]]) -> None:
        self.gate, self.clock, self.signals = gate, clock, signals


async def _device_key() -> bytes:
    return DEVICE


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    db = await open_db(tmp_path / "gatekeeper.db", MIGRATIONS)
    clock = FakeClock()
    signals: list[tuple[str, ...]] = []
    audit = AuditLog(tmp_path / "spool", clock, rotate_s=3600, segment_s=1)
    gate = Gatekeeper(
        db, tmp_path, audit, lambda *a: signals.append(a), clock, device_key=_device_key
    )
    assert await gate.start(default_policy()) is not None  # no owner: a setup code
    yield Harness(gate, clock, signals)
    gate.close()
    await db.close()


async def _file(h: Harness, session: str, **scope: object) -> None:
    await h.gate.request_session(
        json.dumps({"id": session, "user": "u", "target": "t", "requested_scope": SCOPE | scope})
    )


async def _allow_passwords(h: Harness) -> None:
    policy = json.loads(h.gate.get_policy()[0])
    await h.gate.set_policy(json.dumps(policy | {"allow_password_approval": True}), "test")


async def test_pending_request_expires_on_time(harness: Harness) -> None:
    h = harness
    await _file(h, "s1")
    h.clock.advance(299.999)  # the default request_timeout_s is 300
    await h.gate.tick()
    assert (await h.gate.get_grant("s1"))["state"] == "pending"
    h.clock.advance(0.001)
    await h.gate.tick()
    assert (await h.gate.get_grant("s1"))["state"] == "expired"
    assert h.signals == [("RequestFiled", "s1"), ("RequestDecided", "s1", "expired")]


async def test_grant_expires_at_ttl_or_max_duration(harness: Harness) -> None:
    h = harness
    await _allow_passwords(h)
    for session in ("unused", "used"):
        await _file(h, session)
        assert await h.gate.decide_with_password(session, "carol", "approve", "") == "approved"
    h.clock.advance(100)
    await h.gate.mark_active("used")  # max_duration_s 600 from now, capped by ttl_s 600
    h.clock.advance(499.999)
    await h.gate.tick()
    assert (await h.gate.get_grant("used"))["state"] == "active"
    h.clock.advance(0.001)  # approved_at + ttl_s
    await h.gate.tick()
    assert (await h.gate.get_grant("unused"))["state"] == "expired"
    assert (await h.gate.get_grant("used"))["state"] == "expired"
    ended = [s for s in h.signals if s[0] == "GrantEnded"]
    assert sorted(ended) == [("GrantEnded", "unused", "expired"), ("GrantEnded", "used", "expired")]


async def test_active_grant_ends_at_max_duration(harness: Harness) -> None:
    h = harness
    await _allow_passwords(h)
    await _file(h, "short", max_duration_s=60)
    await h.gate.decide_with_password("short", "carol", "approve", "")
    h.clock.advance(10)
    await h.gate.mark_active("short")
    h.clock.advance(59.999)
    await h.gate.tick()
    assert (await h.gate.get_grant("short"))["state"] == "active"
    h.clock.advance(0.001)  # started_at + max_duration_s
    await h.gate.tick()
    assert (await h.gate.get_grant("short"))["state"] == "expired"
    assert h.signals[-1] == ("GrantEnded", "short", "expired")
