"""The bus plumbing against a real dbus-daemon: caps, errors, caller checks, fd passing."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest
from dbus_fast.aio import MessageBus

from lucid.runtime.bus import connect
from lucid.runtime.errors import NotAuthorizedError, UnavailableError
from lucid.runtime.notify import notify, watchdog_interval
from lucid.walletd.client import WalletdClient
from tests.conftest import LucidEnv


async def test_many_calls_in_flight_are_capped_not_dropped(
    lucid: LucidEnv, bus: MessageBus
) -> None:
    await lucid.start("walletd")
    client = WalletdClient(bus, max_in_flight=16)
    results = await asyncio.gather(*(client.get_identity() for _ in range(800)))
    assert len({r["ed25519"] for r in results}) == 1
    assert bus.connected


async def test_absent_daemon_is_unavailable(bus: MessageBus) -> None:
    with pytest.raises(UnavailableError):
        await WalletdClient(bus).get_identity()
    assert not await WalletdClient(bus).is_running()


async def test_caller_check_uses_name_ownership(lucid: LucidEnv, bus_address: str) -> None:
    await lucid.start("walletd")
    impostor = await connect(bus_address)
    try:
        with pytest.raises(NotAuthorizedError, match="only encryptor"):
            await WalletdClient(impostor).open_data_key("s")
    finally:
        impostor.disconnect()


async def test_unreachable_bus_is_a_named_error(tmp_path: Path) -> None:
    with pytest.raises(UnavailableError, match="cannot connect"):
        await connect(f"unix:path={tmp_path}/nobus")


def test_sd_notify_sends_datagrams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        assert notify("READY=1")
        assert server.recv(100) == b"READY=1"
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert not notify("READY=1")


def test_watchdog_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert watchdog_interval() is None
