"""Recorder1.AddAuditEvent, rdp_gate's way into a recording's audit stream: who, what shape."""

from __future__ import annotations

import json

import pytest
from dbus_fast.aio import MessageBus

from lucid.cli.desktop import start_desktop
from lucid.recorder.client import RecorderClient
from lucid.runtime import spool
from lucid.runtime.bus import connect
from lucid.runtime.contracts import RDP_GATE
from lucid.runtime.errors import ConflictError, InvalidArgumentError, NotAuthorizedError
from tests.conftest import LucidEnv

REFUSED = [
    ("session.stop", "{}"),  # the recorder's own events cannot be forged
    ("keys", "{}"),
    ("display.lost", "{}"),
    ("Clipboard.Blocked", "{}"),
    ("clipboard..blocked", "{}"),
    ("clipboard.blocked", '{"t": "2020-01-01T00:00:00.000Z"}'),
    ("clipboard.blocked", '{"producer": "walletd"}'),
    ("clipboard.blocked", "[1, 2]"),
    ("clipboard.blocked", "not json"),
    ("clipboard.blocked", '{"bytes": NaN}'),
    ("clipboard.blocked", json.dumps({"padding": "x" * 5000})),  # room for metadata only
]


async def test_only_rdp_gate_adds_events_and_only_small_metadata(
    lucid: LucidEnv, bus: MessageBus
) -> None:
    await lucid.start("recorder")
    desktop = start_desktop(320, 240, moving=False)
    gate_bus = await connect(lucid.bus_address)
    try:
        recorder = RecorderClient(bus)
        await recorder.start_session("events", desktop.display, "")
        with pytest.raises(NotAuthorizedError):
            await recorder.add_audit_event("events", "clipboard.blocked", "{}")

        await gate_bus.request_name(RDP_GATE.bus_name)  # this connection is rdp_gate now
        as_gate = RecorderClient(gate_bus)
        fields = {"direction": "to_session", "bytes": 3, "sha256": "ab" * 32}
        await as_gate.add_audit_event("events", "clipboard.transfer", json.dumps(fields))
        for kind, text in REFUSED:
            with pytest.raises(InvalidArgumentError):
                await as_gate.add_audit_event("events", kind, text)
        with pytest.raises(ConflictError):
            await as_gate.add_audit_event("nosuchsession", "clipboard.blocked", "{}")
        await recorder.stop_session("events")
        with pytest.raises(ConflictError):
            await as_gate.add_audit_event("events", "clipboard.blocked", "{}")
    finally:
        gate_bus.disconnect()
        desktop.stop()

    stream = lucid.spool / "events" / "audit.0"
    lines = b"".join(p.read_bytes() for _, p in sorted(spool.list_segments(stream).items()))
    events = [json.loads(line) for line in lines.splitlines()]
    added = [e for e in events if e["type"].startswith("clipboard.")]
    assert len(added) == 1 and added[0]["producer"] == "rdp_gate", events
    assert {k: added[0][k] for k in fields} == fields and "t" in added[0]
    assert [e["type"] for e in events].count("session.stop") == 1
