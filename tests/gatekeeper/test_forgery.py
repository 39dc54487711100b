"""An approval without a valid passkey assertion is refused, even sent straight over the bus.

The test connection plays a compromised web process: it can call every public method, and
holds a real passkey's signatures where that helps the attack, but never the approver's
signature over the exact document gatekeeper issued.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from dbus_fast.aio import MessageBus

from lucid.evidence.approvals import (
    Policy,
    Request,
    Scope,
    approval_challenge,
    approval_document,
    b64u,
    from_b64u,
)
from lucid.evidence.softpasskey import SoftPasskey
from lucid.gatekeeper.client import GatekeeperClient
from lucid.runtime.errors import InvalidArgumentError, NotAuthorizedError
from tests.conftest import LucidEnv
from tests.gatekeeper.conftest import ORIGIN, approve, enroll, owner, request, set_policy


def _with_challenge(options: str, challenge: bytes) -> dict[str, Any]:
    parsed = dict(json.loads(options))
    parsed["challenge"] = b64u(challenge)
    return parsed


async def _refused(gk: GatekeeperClient, session: str, document: str, credential: Any) -> str:
    with pytest.raises(InvalidArgumentError) as info:
        await gk.complete_approval(session, document, credential)
    return str(info.value)


async def test_forged_approvals_are_refused(
    gatekeeper_env: LucidEnv, bus: MessageBus, admin_ui: GatekeeperClient
) -> None:
    await gatekeeper_env.start("walletd", "gatekeeper")
    gk = GatekeeperClient(bus)
    alice = await owner(gk, gatekeeper_env)
    bob = await enroll(gk, "bob", await admin_ui.create_enrollment("bob", "admin"))
    await request(gk, "s1")
    await request(gk, "s2")

    # A forged signature.
    document, options = await gk.begin_approval("s1", "alice")
    credential = alice.assert_(options, ORIGIN)
    signature = bytearray(from_b64u(credential["response"]["signature"], "signature"))
    signature[-1] ^= 0x01
    credential["response"]["signature"] = b64u(bytes(signature))
    assert "signature" in await _refused(gk, "s1", document, credential)
    # The document is spent: not even a valid assertion revives it (replay).
    assert "used" in await _refused(gk, "s1", document, alice.assert_(options, ORIGIN))

    # An assertion by a passkey not registered for the account: bob's, and an unknown one.
    for stranger in (bob, SoftPasskey.generate("Ed25519")):
        document, options = await gk.begin_approval("s1", "alice")
        unrestricted = dict(json.loads(options))
        unrestricted.pop("allowCredentials")
        message = await _refused(gk, "s1", document, stranger.assert_(unrestricted, ORIGIN))
        assert "not registered for alice" in message

    # A document with a changed scope, signed by the real key: not what gatekeeper issued.
    document, options = await gk.begin_approval("s1", "alice", "approve", json.dumps(_narrow()))
    changed = json.loads(document)
    changed["scope"]["file_transfer"] = True
    forged = alice.assert_(_with_challenge(options, approval_challenge(changed)), ORIGIN)
    assert "differs" in await _refused(gk, "s1", json.dumps(changed), forged)

    # A challenge for another request: s2's assertion with s1's document, and s2's document.
    doc1, _ = await gk.begin_approval("s1", "alice")
    doc2, options2 = await gk.begin_approval("s2", "alice")
    for_s2 = alice.assert_(options2, ORIGIN)
    assert "challenge" in await _refused(gk, "s1", doc1, for_s2)
    assert "for session s2" in await _refused(gk, "s1", doc2, for_s2)

    # A document gatekeeper never issued (fresh nonce), validly signed.
    policy, _ = await gk.get_policy()
    row = json.loads(await gk.get_request("s1"))
    invented = approval_document(
        Request.from_dict(row["request"]),
        "approve",
        Scope.from_dict(row["request"]["requested_scope"]),
        Policy.from_dict(json.loads(policy)),
        "alice",
        "passkey",
        row["request"]["requested_at"],
        device=bytes.fromhex(json.loads(doc1)["device"]),
    )
    signed = alice.assert_(_with_challenge(options2, approval_challenge(invented)), ORIGIN)
    assert "not issued" in await _refused(gk, "s1", json.dumps(invented), signed)

    # A wrong origin, and no user verification while the policy requires it.
    document, options = await gk.begin_approval("s1", "alice")
    assert "origin" in await _refused(gk, "s1", document, alice.assert_(options, "http://evil"))
    document, options = await gk.begin_approval("s1", "alice")
    unverified = alice.assert_(options, ORIGIN, user_verified=False)
    assert "verif" in await _refused(gk, "s1", document, unverified)

    # Not JSON at all.
    document, _ = await gk.begin_approval("s1", "alice")
    await _refused(gk, "s1", document, "{not json")

    after = json.loads(await gk.get_request("s1"))
    assert after["state"] == "pending" and after["approvals"] == []
    assert (await gk.get_grant("s1"))["state"] == "pending"
    assert await approve(gk, "s1", "alice", alice) == "approved"  # the real thing still works


async def test_replayed_approval_does_not_count_twice(
    gatekeeper_env: LucidEnv, bus: MessageBus, admin_ui: GatekeeperClient
) -> None:
    await gatekeeper_env.start("walletd", "gatekeeper")
    gk = GatekeeperClient(bus)
    alice = await owner(gk, gatekeeper_env)
    await set_policy(admin_ui, approvers_required=2)
    await request(gk, "s1")
    document, options = await gk.begin_approval("s1", "alice")
    credential = alice.assert_(options, ORIGIN)
    assert await gk.complete_approval("s1", document, credential) == "pending"
    assert "used" in await _refused(gk, "s1", document, credential)
    assert (await gk.get_grant("s1"))["state"] == "pending"


async def test_only_owner_and_admin_passkeys_approve(
    gatekeeper_env: LucidEnv, bus: MessageBus, admin_ui: GatekeeperClient
) -> None:
    await gatekeeper_env.start("walletd", "gatekeeper")
    gk = GatekeeperClient(bus)
    await owner(gk, gatekeeper_env)
    for role in ("auditor", "viewer"):
        await enroll(gk, role, await admin_ui.create_enrollment(role, role))
        await request(gk, f"s-{role}")
        with pytest.raises(NotAuthorizedError):
            await gk.begin_approval(f"s-{role}", role)


def _narrow() -> dict[str, Any]:
    return {
        "ttl_s": 60,
        "max_duration_s": 60,
        "clipboard": False,
        "file_transfer": False,
        "drives": False,
    }
