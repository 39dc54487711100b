"""Passkey registration refuses Ed25519 keys the strict rule refuses (lucid.evidence.ed25519).

py_webauthn accepts a "none"-attested credential whose Ed25519 key is the identity point;
under it a forged signature (R = identity, S = 0) verifies for any message in OpenSSL, so
such a key must never reach the credential table."""

from __future__ import annotations

import pytest
from dbus_fast.aio import MessageBus

from lucid.evidence.softpasskey import SoftPasskey
from lucid.gatekeeper.client import GatekeeperClient
from lucid.runtime.errors import InvalidArgumentError
from tests.conftest import LucidEnv
from tests.evidence.test_strict_ed25519 import ForgingPasskey
from tests.gatekeeper.conftest import ORIGIN, setup_code


async def test_small_order_ed25519_key_is_refused_at_registration(
    gatekeeper_env: LucidEnv, bus: MessageBus
) -> None:
    await gatekeeper_env.start("walletd", "gatekeeper")
    gk = GatekeeperClient(bus)
    code = setup_code(gatekeeper_env)
    forger = ForgingPasskey("Ed25519", b"\x01" * 32, b"forged-credential")
    options = await gk.begin_registration("alice")
    with pytest.raises(InvalidArgumentError, match="small order"):
        await gk.complete_registration("alice", forger.register(options, ORIGIN), code)
    # The refusal used nothing up: a genuine Ed25519 passkey registers with the same code.
    key = SoftPasskey.generate("Ed25519")
    options = await gk.begin_registration("alice")
    await gk.complete_registration("alice", key.register(options, ORIGIN), code)
