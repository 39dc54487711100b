"""Passkey enrollment: the device setup code once, one-time codes from admin-ui, roles."""

from __future__ import annotations

import json

import pytest
from dbus_fast.aio import MessageBus

from lucid.evidence.softpasskey import SoftPasskey
from lucid.gatekeeper.client import GatekeeperClient
from lucid.gatekeeper.credentials import CODE_ALPHABET
from lucid.runtime.errors import (
    ConflictError,
    InvalidArgumentError,
    NotAuthorizedError,
)
from tests.conftest import LucidEnv
from tests.gatekeeper.conftest import ORIGIN, enroll, setup_code


async def test_setup_code_makes_the_owner_once(gatekeeper_env: LucidEnv, bus: MessageBus) -> None:
    ds = await gatekeeper_env.start("walletd", "gatekeeper")
    gk = GatekeeperClient(bus)
    code_file = gatekeeper_env.state / "gatekeeper" / "setup-code"
    assert code_file.stat().st_mode & 0o077 == 0
    code = setup_code(gatekeeper_env)
    log = ds.log_path("gatekeeper").read_text()
    assert code not in log  # every local user may read logs: only the 0600 file's path
    assert "setup-code" in log
    assert set(code) <= set(CODE_ALPHABET) and not code.startswith("-")
    with pytest.raises(NotAuthorizedError):
        await enroll(gk, "alice", "wrong-" + code)
    await enroll(gk, "alice", code, "Ed25519")
    assert not code_file.exists()
    with pytest.raises(NotAuthorizedError):  # spent
        await enroll(gk, "mallory", code)
    accounts = json.loads(await gk.list_accounts())
    assert [(a["account"], a["role"]) for a in accounts] == [("alice", "owner")]
    assert [c["alg"] for c in accounts[0]["credentials"]] == ["Ed25519"]
    await ds.stop("gatekeeper")
    await ds.start("gatekeeper")
    assert not code_file.exists()  # an owner exists: no new setup code


async def test_enrollment_codes_are_one_time_and_carry_the_role(
    gatekeeper_env: LucidEnv, bus: MessageBus, admin_ui: GatekeeperClient
) -> None:
    await gatekeeper_env.start("walletd", "gatekeeper")
    gk = GatekeeperClient(bus)
    await enroll(gk, "alice", setup_code(gatekeeper_env))
    with pytest.raises(NotAuthorizedError):
        await gk.create_enrollment("bob", "admin")  # admin-ui only
    with pytest.raises(InvalidArgumentError):
        await admin_ui.create_enrollment("bob", "root")
    code = await admin_ui.create_enrollment("bob", "auditor")
    with pytest.raises(NotAuthorizedError):  # the code is bob's, not carol's
        await enroll(gk, "carol", code)
    await enroll(gk, "bob", code)
    with pytest.raises(NotAuthorizedError):  # used
        await enroll(gk, "bob", code)
    # A second passkey for an existing account needs a code too.
    with pytest.raises(NotAuthorizedError):
        await enroll(gk, "alice", "")
    await enroll(gk, "alice", await admin_ui.create_enrollment("alice", "owner"), "Ed25519")
    roles = {
        a["account"]: (a["role"], len(a["credentials"]))
        for a in json.loads(await gk.list_accounts())
    }
    assert roles == {"alice": ("owner", 2), "bob": ("auditor", 1)}


async def test_registration_is_verified(
    gatekeeper_env: LucidEnv, bus: MessageBus, admin_ui: GatekeeperClient
) -> None:
    await gatekeeper_env.start("walletd", "gatekeeper")
    gk = GatekeeperClient(bus)
    code = setup_code(gatekeeper_env)
    key = SoftPasskey.generate()
    options = await gk.begin_registration("alice")
    with pytest.raises(InvalidArgumentError, match="origin"):
        await gk.complete_registration("alice", key.register(options, "http://evil"), code)
    with pytest.raises(InvalidArgumentError, match="no registration"):  # another account's
        await gk.complete_registration("bob", key.register(options, ORIGIN), code)
    with pytest.raises(InvalidArgumentError):
        await gk.begin_registration("not a name")
    await gk.complete_registration("alice", key.register(options, ORIGIN), code)
    # The same passkey cannot be registered again, not even for another account.
    again = await gk.begin_registration("bob")
    fresh = SoftPasskey(key.alg, bytes.fromhex(json.loads(key.to_json())["private_key"]), b"x" * 16)
    with pytest.raises(ConflictError):
        await gk.complete_registration(
            "bob", fresh.register(again, ORIGIN), await admin_ui.create_enrollment("bob", "admin")
        )
