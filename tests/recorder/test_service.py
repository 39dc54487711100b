"""The recorder over the bus: named errors for a missing display and a full spool."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dbus_fast.aio import MessageBus

from lucid.cli.desktop import start_desktop
from lucid.recorder.client import RecorderClient, RecordingInfo
from lucid.runtime.errors import (
    ConflictError,
    DisplayUnavailableError,
    NotApprovedError,
    NotFoundError,
)
from tests.conftest import LucidEnv, wait_for


async def test_missing_display_is_a_named_error(lucid: LucidEnv, bus: MessageBus) -> None:
    await lucid.start("recorder")
    recorder = RecorderClient(bus)
    with pytest.raises(DisplayUnavailableError, match=":987"):
        await recorder.start_session("nodisplay", ":987", "")
    with pytest.raises(NotFoundError):
        await recorder.get_session("nodisplay")
    assert not (lucid.spool / "nodisplay").exists()


async def test_session_ids_are_single_use(lucid: LucidEnv, bus: MessageBus) -> None:
    await lucid.start("recorder")
    desktop = start_desktop(320, 240)
    try:
        recorder = RecorderClient(bus)
        await recorder.start_session("once", desktop.display, "")
        with pytest.raises(ConflictError):
            await recorder.start_session("once", desktop.display, "")
        await recorder.stop_session("once")
        info = await recorder.get_session("once")
        assert info["state"] == "ended" and info["complete"] == "true"
        assert info["encoder"] == "libx264"  # no V4L2 M2M encoder on this machine
        assert (lucid.spool / "once" / "session.end").exists()
        # GetSession and ListSessions give exactly the RecordingInfo shape
        assert set(info) == RecordingInfo.__required_keys__
        assert [set(s) for s in await recorder.list_sessions()] == [set(info)]
    finally:
        desktop.stop()


async def test_full_spool_fails_the_session_loudly(
    lucid: LucidEnv, bus: MessageBus, small_fs: Callable[[Path, str], Path]
) -> None:
    small_fs(lucid.spool, "192k")
    ds = await lucid.start("recorder")
    failures: list[list[Any]] = []
    recorder = RecorderClient(bus)
    await recorder.on_signal("SessionFailed", failures.append)
    desktop = start_desktop(640, 480)
    try:
        await recorder.start_session("full", desktop.display, "")
        await wait_for(lambda: failures, 60, "SessionFailed")
    finally:
        desktop.stop()
    session, error, _message = failures[0]
    assert session == "full"
    assert error == "io.lucid.Error.StorageFull"
    info = await recorder.get_session("full")
    assert info["state"] == "failed" and info["complete"] == "false"
    assert info["error"] == "io.lucid.Error.StorageFull"
    log = ds.log_path("recorder").read_text()
    assert "StorageFull" in log or "full" in log.lower()
    assert "Traceback" not in log


async def test_default_deny_without_a_grant(lucid: LucidEnv, bus: MessageBus) -> None:
    lucid.set("recorder", "require_grant", "true")
    await lucid.start("walletd", "gatekeeper", "recorder")
    desktop = start_desktop(320, 240)
    try:
        recorder = RecorderClient(bus)
        with pytest.raises(NotApprovedError, match="no request"):
            await recorder.start_session("unasked", desktop.display, "")
        from lucid.gatekeeper.client import GatekeeperClient

        await GatekeeperClient(bus).request_session(
            {
                "id": "asked",
                "user": "u",
                "source": "",
                "target": "u",
                "requested_scope": {
                    "ttl_s": 60,
                    "max_duration_s": 60,
                    "clipboard": False,
                    "file_transfer": False,
                    "drives": False,
                },
            }
        )
        with pytest.raises(NotApprovedError, match="pending"):
            await recorder.start_session("asked", desktop.display, "")
    finally:
        desktop.stop()
    assert not (lucid.spool / "unasked").exists() and not (lucid.spool / "asked").exists()
