"""A daemon's restart window, seen from its clients (real dbus-daemon, real walletd).

A call the bus could not deliver (the name had no owner) is sent again once the daemon is
back; a daemon that never came back, or that this client never reached, is a named error.
"""

from __future__ import annotations

import asyncio
import signal

import pytest
from dbus_fast.aio import MessageBus

from lucid.runtime.errors import UnavailableError
from lucid.walletd.client import WalletdClient
from tests.conftest import LucidEnv, wait_for


async def _gone(client: WalletdClient) -> None:
    async def absent() -> bool:
        return not await client.is_running()

    await wait_for(absent, 30, "walletd to leave the bus")


async def test_a_call_in_the_restart_window_waits_for_the_daemon(
    lucid: LucidEnv, bus: MessageBus
) -> None:
    ds = await lucid.start("walletd", restart=False)
    client = WalletdClient(bus)
    identity = await client.get_identity()
    await ds.kill("walletd", signal.SIGKILL)
    await _gone(client)
    pending = asyncio.create_task(client.get_identity())  # the name has no owner now
    await asyncio.sleep(0)
    assert not pending.done()
    await ds.start("walletd")  # "the supervisor restarts it"
    assert await pending == identity


async def test_kill9_under_the_supervisor_is_ridden_out(lucid: LucidEnv, bus: MessageBus) -> None:
    ds = await lucid.start("walletd")  # restarts what dies, after its restart delay
    client = WalletdClient(bus)
    identity = await client.get_identity()
    await ds.kill("walletd", signal.SIGKILL, restart=True)
    await _gone(client)
    results = await asyncio.gather(*(client.get_identity() for _ in range(20)))
    assert results == [identity] * 20
    assert ds.children["walletd"].restarts == 1


async def test_a_daemon_that_does_not_come_back_is_unavailable(
    lucid: LucidEnv, bus: MessageBus
) -> None:
    ds = await lucid.start("walletd", restart=False)
    client = WalletdClient(bus, restart_grace_s=0.3)
    await client.get_identity()
    await ds.kill("walletd", signal.SIGKILL)
    await _gone(client)
    with pytest.raises(UnavailableError, match=r"did not come back within 0\.3 s"):
        await client.get_identity()


async def test_a_daemon_never_reached_fails_at_once(bus: MessageBus) -> None:
    # An optional peer that does not run here must not stall its caller for the grace.
    client = WalletdClient(bus, restart_grace_s=3600)
    with pytest.raises(UnavailableError, match="walletd is not running"):
        await asyncio.wait_for(client.get_identity(), 30)  # guard only: it fails at once
