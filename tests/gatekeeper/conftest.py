"""Helpers for gatekeeper tests: soft passkeys as authenticators, admin-ui as a bus name."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from dbus_fast.aio import MessageBus

from lucid.evidence.approvals import SessionPolicy
from lucid.evidence.softpasskey import SoftPasskey, SoftPasskeyAlg
from lucid.gatekeeper.client import GatekeeperClient
from lucid.runtime.bus import connect
from lucid.walletd.client import WalletdClient
from tests.conftest import LucidEnv

ORIGIN = "http://localhost"
SCOPE: dict[str, Any] = {
    "ttl_s": 600,
    "max_duration_s": 600,
    "clipboard": True,
    "file_transfer": False,
    "drives": False,
}


@pytest.fixture
def gatekeeper_env(lucid: LucidEnv) -> LucidEnv:
    lucid.set("gatekeeper", "tick_s", "0.1")
    return lucid


async def _named(address: str, name: str) -> MessageBus:
    conn = await connect(address)
    await conn.request_name(name)
    return conn


@pytest.fixture
async def admin_ui(bus_address: str) -> AsyncIterator[GatekeeperClient]:
    """A client on a connection that owns io.lucid.AdminUi1 (as the web daemon would)."""
    conn = await _named(bus_address, "io.lucid.AdminUi1")
    yield GatekeeperClient(conn)
    conn.disconnect()


@pytest.fixture
async def recorder(bus_address: str) -> AsyncIterator[GatekeeperClient]:
    conn = await _named(bus_address, "io.lucid.Recorder1")
    yield GatekeeperClient(conn)
    conn.disconnect()


@pytest.fixture
async def merkle(bus_address: str) -> AsyncIterator[GatekeeperClient]:
    conn = await _named(bus_address, "io.lucid.Merkle1")
    yield GatekeeperClient(conn)
    conn.disconnect()


def setup_code(lucid: LucidEnv) -> str:
    return (lucid.state / "gatekeeper" / "setup-code").read_text().strip()


async def enroll(
    client: GatekeeperClient, account: str, code: str, alg: SoftPasskeyAlg = "ES256"
) -> SoftPasskey:
    key = SoftPasskey.generate(alg)
    options = await client.begin_registration(account)
    await client.complete_registration(account, key.register(options, ORIGIN), code)
    return key


async def owner(
    client: GatekeeperClient, lucid: LucidEnv, alg: SoftPasskeyAlg = "ES256"
) -> SoftPasskey:
    """Register account "alice" as the owner with the device setup code."""
    return await enroll(client, "alice", setup_code(lucid), alg)


async def request(
    client: GatekeeperClient, session: str, user: str = "u1", target: str = "t1", **scope: Any
) -> str:
    body = {"id": session, "user": user, "source": "10.0.0.5", "target": target}
    return await client.request_session(body | {"requested_scope": SCOPE | scope})


async def approve(
    client: GatekeeperClient,
    session: str,
    account: str,
    key: SoftPasskey,
    *,
    decision: str = "approve",
    scope: dict[str, Any] | None = None,
) -> str:
    document, options = await client.begin_approval(
        session, account, decision, json.dumps(scope) if scope else ""
    )
    return await client.complete_approval(session, document, key.assert_(options, ORIGIN))


async def set_policy(admin: GatekeeperClient, **changes: Any) -> dict[str, Any]:
    policy = json.loads((await admin.get_policy())[0])
    policy.pop("version")
    ceiling = changes.pop("scope_ceiling", {})
    policy["scope_ceiling"] |= ceiling
    policy |= changes
    await admin.set_policy(policy)
    return dict(json.loads((await admin.get_policy())[0]))


async def verified_policy(bus: MessageBus, merkle: GatekeeperClient, session: str) -> SessionPolicy:
    """The session policy merkle would seal for ``session``, checked as ``lucid verify`` does
    for a recording on this device (walletd's key) that started when the grant was made."""
    policy = SessionPolicy.from_dict(json.loads(await merkle.get_session_policy(session)))
    device = bytes.fromhex((await WalletdClient(bus).get_identity())["ed25519"])
    start = policy.grant.approved_at
    policy.verify(session, device, start, start)
    return policy
