"""Grants end: revocation, expiry of requests and grants (the timer), approval windows."""

from __future__ import annotations

import json

import pytest
from dbus_fast.aio import MessageBus

from lucid.gatekeeper.client import GatekeeperClient
from lucid.runtime.errors import ConflictError, NotApprovedError
from tests.conftest import LucidEnv, wait_for
from tests.gatekeeper.conftest import SCOPE, approve, owner, request, set_policy, verified_policy


async def _signals(gk: GatekeeperClient, member: str) -> list[list[str]]:
    seen: list[list[str]] = []
    await gk.on_signal(member, seen.append)
    return seen


async def test_revoke_ends_a_grant(
    gatekeeper_env: LucidEnv, bus: MessageBus, recorder: GatekeeperClient
) -> None:
    await gatekeeper_env.start("walletd", "gatekeeper")
    gk = GatekeeperClient(bus)
    key = await owner(gk, gatekeeper_env)
    ended = await _signals(gk, "GrantEnded")
    await request(gk, "s1")
    with pytest.raises(ConflictError):  # nothing granted yet: deny it instead
        await gk.revoke("s1", "", "")
    await approve(gk, "s1", "alice", key)
    await recorder.mark_active("s1")
    await gk.revoke("s1", "", "suspicious")
    await wait_for(lambda: ended, 30, "GrantEnded")
    assert ended == [["s1", "revoked"]]
    grant = await gk.get_grant("s1")
    assert grant["state"] == "revoked" and grant["scope"] == "null"
    with pytest.raises(NotApprovedError):
        await recorder.mark_active("s1")
    await recorder.mark_ended("s1")  # the recorder stopping afterwards is fine
    assert (await gk.get_grant("s1"))["state"] == "revoked"


async def test_requests_and_grants_expire(
    gatekeeper_env: LucidEnv,
    bus: MessageBus,
    admin_ui: GatekeeperClient,
    recorder: GatekeeperClient,
) -> None:
    await gatekeeper_env.start("walletd", "gatekeeper")
    gk = GatekeeperClient(bus)
    key = await owner(gk, gatekeeper_env)
    decided = await _signals(gk, "RequestDecided")
    ended = await _signals(gk, "GrantEnded")
    await set_policy(admin_ui, request_timeout_s=1, scope_ceiling={"ttl_s": 2, "max_duration_s": 1})

    await request(gk, "waits")
    await wait_for(lambda: ["waits", "expired"] in decided, 60, "the request to expire")
    assert (await gk.get_grant("waits"))["state"] == "expired"

    await request(gk, "unused")
    await approve(gk, "unused", "alice", key)
    await wait_for(lambda: ["unused", "expired"] in ended, 60, "the unused grant to expire")

    await request(gk, "running")
    await approve(gk, "running", "alice", key)
    await recorder.mark_active("running")
    grant = await gk.get_grant("running")
    assert grant["max_end_at"] <= grant["expires_at"]
    await wait_for(lambda: ["running", "expired"] in ended, 60, "the active grant to expire")
    assert (await gk.get_grant("running"))["state"] == "expired"
    with pytest.raises(ConflictError):
        await gk.revoke("running", "", "")


async def test_approval_window_approves_the_same_user_and_target(
    gatekeeper_env: LucidEnv,
    bus: MessageBus,
    admin_ui: GatekeeperClient,
    merkle: GatekeeperClient,
) -> None:
    await gatekeeper_env.start("walletd", "gatekeeper")
    gk = GatekeeperClient(bus)
    key = await owner(gk, gatekeeper_env)
    await set_policy(admin_ui, approval_window_s=600)
    await request(gk, "first", user="u1", target="t1")
    await approve(gk, "first", "alice", key, scope=_scope(clipboard=False))
    decided = await _signals(gk, "RequestDecided")

    await request(gk, "again", user="u1", target="t1", clipboard=True, ttl_s=300)
    grant = await gk.get_grant("again")
    assert grant["state"] == "approved"
    assert json.loads(grant["scope"]) == _scope(clipboard=False, ttl_s=300)
    await wait_for(lambda: ["again", "approved"] in decided, 30, "RequestDecided")
    policy = await verified_policy(bus, merkle, "again")
    assert policy.grant.via_window == "first"

    await request(gk, "other-target", user="u1", target="t2")
    await request(gk, "other-user", user="u2", target="t1")
    assert (await gk.get_grant("other-target"))["state"] == "pending"
    assert (await gk.get_grant("other-user"))["state"] == "pending"

    await set_policy(admin_ui, approval_window_s=600, approvers_required=1)  # a new version
    await request(gk, "new-policy", user="u1", target="t1")
    assert (await gk.get_grant("new-policy"))["state"] == "pending"


def _scope(**changes: object) -> dict[str, object]:
    return SCOPE | changes
