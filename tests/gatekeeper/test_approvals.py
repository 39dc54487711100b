"""Approvals over the real bus: default deny, passkey-signed approvals, N approvers, password."""

from __future__ import annotations

import json

import pytest
from dbus_fast.aio import MessageBus

from lucid.evidence.softpasskey import SoftPasskeyAlg
from lucid.gatekeeper.client import GatekeeperClient
from lucid.runtime.errors import (
    ConflictError,
    InvalidArgumentError,
    NotApprovedError,
    NotAuthorizedError,
    NotFoundError,
)
from tests.conftest import LucidEnv, wait_for
from tests.gatekeeper.conftest import (
    SCOPE,
    approve,
    enroll,
    owner,
    request,
    set_policy,
    verified_policy,
)


async def test_default_deny(
    gatekeeper_env: LucidEnv,
    bus: MessageBus,
    merkle: GatekeeperClient,
    recorder: GatekeeperClient,
) -> None:
    await gatekeeper_env.start("walletd", "gatekeeper")
    gk = GatekeeperClient(bus)
    await owner(gk, gatekeeper_env)
    assert await request(gk, "s1") == "s1"
    grant = await gk.get_grant("s1")
    assert grant == {"state": "pending", "scope": "null", "expires_at": "", "max_end_at": ""}
    with pytest.raises(NotApprovedError):
        await recorder.mark_active("s1")
    with pytest.raises(NotApprovedError):
        await merkle.get_session_policy("s1")
    assert (await gk.get_grant("s1"))["state"] == "pending"
    listed = json.loads(await gk.list_requests("pending"))
    assert [r["id"] for r in listed] == ["s1"]
    assert json.loads(await gk.get_request("s1"))["pending_until"]
    with pytest.raises(NotFoundError):
        await gk.get_grant("nope")
    with pytest.raises(ConflictError):
        await request(gk, "s1")  # the id is taken
    with pytest.raises(InvalidArgumentError):
        await gk.request_session({"user": "u", "target": "t", "requested_scope": {"ttl_s": 1}})
    generated = await gk.request_session({"user": "u", "target": "t", "requested_scope": SCOPE})
    assert generated.startswith("s-")
    assert (await gk.get_grant(generated))["state"] == "pending"


@pytest.mark.parametrize("alg", ["ES256", "Ed25519"])
async def test_passkey_approval_makes_a_verifiable_session_policy(
    alg: SoftPasskeyAlg,
    gatekeeper_env: LucidEnv,
    bus: MessageBus,
    merkle: GatekeeperClient,
    recorder: GatekeeperClient,
) -> None:
    await gatekeeper_env.start("walletd", "gatekeeper")
    gk = GatekeeperClient(bus)
    key = await owner(gk, gatekeeper_env, alg)
    await request(gk, "s1", clipboard=True, file_transfer=True)
    scope = {"ttl_s": 300, "max_duration_s": 120, "clipboard": False, "file_transfer": True}
    assert await approve(gk, "s1", "alice", key, scope=scope | {"drives": True}) == "approved"
    grant = await gk.get_grant("s1")
    assert grant["state"] == "approved" and grant["expires_at"] and not grant["max_end_at"]
    assert json.loads(grant["scope"]) == scope | {"drives": True}
    policy = await verified_policy(bus, merkle, "s1")
    assert [a.account for a in policy.approvals] == ["alice"]
    assert policy.policy_hash.hex() == (await gk.get_policy())[1]
    await recorder.mark_active("s1")
    await recorder.mark_active("s1")  # a recorder restart resumes: still fine
    active = await gk.get_grant("s1")
    assert active["state"] == "active" and active["max_end_at"]
    await recorder.mark_ended("s1")
    assert (await gk.get_grant("s1"))["state"] == "ended"
    await verified_policy(bus, merkle, "s1")


async def test_two_approvers_are_two_accounts(
    gatekeeper_env: LucidEnv,
    bus: MessageBus,
    admin_ui: GatekeeperClient,
    merkle: GatekeeperClient,
) -> None:
    await gatekeeper_env.start("walletd", "gatekeeper")
    gk = GatekeeperClient(bus)
    alice = await owner(gk, gatekeeper_env)
    bob = await enroll(gk, "bob", await admin_ui.create_enrollment("bob", "admin"), "Ed25519")
    await set_policy(admin_ui, approvers_required=2)
    await request(gk, "s1")
    wide = {"ttl_s": 600, "max_duration_s": 600, "clipboard": True}
    assert await approve(gk, "s1", "alice", alice, scope=wide | _flags(True)) == "pending"
    with pytest.raises(ConflictError):  # the same account cannot count twice
        await approve(gk, "s1", "alice", alice)
    assert (await gk.get_grant("s1"))["state"] == "pending"
    narrow = {"ttl_s": 60, "max_duration_s": 900, "clipboard": False}
    assert await approve(gk, "s1", "bob", bob, scope=narrow | _flags(True)) == "approved"
    granted = json.loads((await gk.get_grant("s1"))["scope"])
    assert granted == {"ttl_s": 60, "max_duration_s": 600, "clipboard": False} | _flags(True)
    policy = await verified_policy(bus, merkle, "s1")
    assert sorted(a.account for a in policy.approvals) == ["alice", "bob"]


def _flags(value: bool) -> dict[str, bool]:
    return {"file_transfer": value, "drives": value}


async def test_password_approval_only_when_allowed_and_from_admin_ui(
    gatekeeper_env: LucidEnv,
    bus: MessageBus,
    admin_ui: GatekeeperClient,
    merkle: GatekeeperClient,
) -> None:
    await gatekeeper_env.start("walletd", "gatekeeper")
    gk = GatekeeperClient(bus)
    await request(gk, "s1")
    with pytest.raises(NotAuthorizedError, match="admin_ui"):
        await gk.decide_with_password("s1", "carol", "approve")
    with pytest.raises(NotAuthorizedError, match="password"):
        await admin_ui.decide_with_password("s1", "carol", "approve")
    await set_policy(admin_ui, allow_password_approval=True)
    assert await admin_ui.decide_with_password("s1", "carol", "approve") == "approved"
    policy = await verified_policy(bus, merkle, "s1")
    (record,) = policy.approvals
    assert record.webauthn is None and record.document["approver"]["method"] == "password"
    await request(gk, "s2")
    assert await admin_ui.decide_with_password("s2", "carol", "deny") == "denied"


async def test_deny_and_signed_deny(
    gatekeeper_env: LucidEnv, bus: MessageBus, merkle: GatekeeperClient
) -> None:
    await gatekeeper_env.start("walletd", "gatekeeper")
    gk = GatekeeperClient(bus)
    key = await owner(gk, gatekeeper_env)
    decided: list[list[str]] = []
    await gk.on_signal("RequestDecided", decided.append)
    await request(gk, "s1")
    await gk.deny("s1", "", "not now")
    grant = await gk.get_grant("s1")
    assert grant["state"] == "denied" and grant["scope"] == "null"
    assert json.loads(await gk.get_request("s1"))["reason"] == "not now"
    with pytest.raises(ConflictError):
        await gk.deny("s1", "", "again")
    with pytest.raises(ConflictError):
        await approve(gk, "s1", "alice", key)
    await request(gk, "s2")
    assert await approve(gk, "s2", "alice", key, decision="deny") == "denied"
    with pytest.raises(NotApprovedError):
        await merkle.get_session_policy("s2")
    await wait_for(lambda: len(decided) >= 2, 30, "two RequestDecided signals")
    assert decided == [["s1", "denied"], ["s2", "denied"]]
