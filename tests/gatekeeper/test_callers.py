"""Restricted methods check the caller by bus-name ownership."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest
from dbus_fast.aio import MessageBus

from lucid.gatekeeper.client import GatekeeperClient
from lucid.runtime.errors import BusError, NotAuthorizedError
from tests.conftest import LucidEnv
from tests.gatekeeper.conftest import request

Call = Callable[[GatekeeperClient], Awaitable[object]]

RESTRICTED: dict[str, tuple[str, Call]] = {
    "SetPolicy": ("admin_ui", lambda c: c.set_policy("{}")),
    "DecideWithPassword": ("admin_ui", lambda c: c.decide_with_password("s1", "a", "approve")),
    "CreateEnrollment": ("admin_ui", lambda c: c.create_enrollment("bob", "admin")),
    "MarkActive": ("recorder", lambda c: c.mark_active("s1")),
    "MarkEnded": ("recorder", lambda c: c.mark_ended("s1")),
    "GetSessionPolicy": ("merkle", lambda c: c.get_session_policy("s1")),
}


@pytest.mark.parametrize("method", sorted(RESTRICTED))
async def test_restricted_methods_check_the_caller(
    method: str,
    gatekeeper_env: LucidEnv,
    bus: MessageBus,
    admin_ui: GatekeeperClient,
    recorder: GatekeeperClient,
    merkle: GatekeeperClient,
) -> None:
    await gatekeeper_env.start("walletd", "gatekeeper")
    await request(GatekeeperClient(bus), "s1")
    allowed, call = RESTRICTED[method]
    peers = {"admin_ui": admin_ui, "recorder": recorder, "merkle": merkle}
    for name, client in [("anyone", GatekeeperClient(bus)), *peers.items()]:
        if name == allowed:
            continue
        with pytest.raises(NotAuthorizedError, match=allowed):
            await call(client)
    try:
        await call(peers[allowed])
    except BusError as err:  # past the caller check, the domain may still refuse the call
        assert "may call" not in str(err), f"{method} refused its own caller: {err}"


async def test_deny_and_revoke_record_who_the_caller_is(
    gatekeeper_env: LucidEnv, bus: MessageBus, admin_ui: GatekeeperClient
) -> None:
    """The console cannot decide "as owner1": it is recorded as console:<unix user>. Only
    admin-ui, which authenticated the web account, names one."""
    await gatekeeper_env.start("walletd", "gatekeeper")
    console = GatekeeperClient(bus)
    for session in ("s1", "s2"):
        await request(console, session)
    with pytest.raises(NotAuthorizedError, match="console:root"):
        await console.deny("s1", "owner1", "")
    assert json.loads(await console.get_request("s1"))["state"] == "pending"
    await console.deny("s1", "", "")
    assert json.loads(await console.get_request("s1"))["reason"] == "by console:root"
    await admin_ui.deny("s2", "owner1", "")
    assert json.loads(await console.get_request("s2"))["reason"] == "by owner1"
