"""``lucid up``'s private bus holds the device's rules, and the real daemons check callers.

Issue 9's attacks, replayed: a process of another unix user (``nobody``) tries to own the
daemons' names — running, crashed, or never started — and to call what only a daemon or the
console may call. On ``lucid up``'s bus the policy refuses it (AccessDenied); on a lax bus,
where the policy would let it through, the daemons themselves refuse it (NotAuthorized).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from dbus_fast import Message

from lucid.gatekeeper.client import GatekeeperClient
from lucid.runtime.bus import connect
from lucid.runtime.contracts import (
    ALL,
    ANYONE,
    ENCRYPTOR,
    GATEKEEPER,
    RDP_GATE,
    TRON_NODE,
    by_daemon,
)
from lucid.runtime.errors import NotAuthorizedError
from tests.conftest import LucidEnv
from tests.runtime.probes import NOBODY, PROBE, bus_in, probe, spec

ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"
NOT_AUTHORIZED = NotAuthorizedError.name
SERVICE_UNKNOWN = "org.freedesktop.DBus.Error.ServiceUnknown"


@pytest.fixture
async def rdp_bus(open_dir: Path) -> AsyncIterator[str]:
    """``lucid up --rdp-port``'s bus: session users may connect."""
    async for address in bus_in(open_dir, session_users=True):
        yield address


@pytest.fixture
async def local_bus(open_dir: Path) -> AsyncIterator[str]:
    """``lucid up``'s bus without the RDP host."""
    async for address in bus_in(open_dir):
        yield address


async def _start(root: Path, address: str, *names: str) -> LucidEnv:
    lucid = LucidEnv(root, address)
    await lucid.start(*names)
    return lucid


async def _close(lucid: LucidEnv) -> None:
    for ds in lucid.sets:
        await ds.close()
    shutil.rmtree(lucid.spool.parent, ignore_errors=True)


async def test_without_the_rdp_host_other_users_cannot_even_connect(local_bus: str) -> None:
    outcome = await probe(local_bus, NOBODY, [spec(by_daemon("walletd"), "GetIdentity")])
    assert outcome["calls"][0].startswith("connect:"), outcome


async def test_session_users_own_no_lucid_name_and_call_only_public_methods(
    rdp_bus: str, tmp_path: Path
) -> None:
    lucid = await _start(tmp_path, rdp_bus, "walletd", "encryptor")
    try:
        # Running, never started (tron-node, rdp_gate ...), and crashed (encryptor, below).
        for contract in ALL:
            outcome = await probe(rdp_bus, NOBODY, [], own=contract.bus_name)
            assert outcome["own"] == ACCESS_DENIED, contract.bus_name
        await lucid.sets[0].kill("encryptor", signal.SIGKILL)
        outcome = await probe(
            rdp_bus, NOBODY, [spec(by_daemon("walletd"), "OpenDataKey")], own=ENCRYPTOR.bus_name
        )
        assert outcome == {"own": ACCESS_DENIED, "calls": [ACCESS_DENIED]}
        for contract in ALL:
            calls = [spec(contract, m) for m in contract.methods]
            outcome = await probe(rdp_bus, NOBODY, calls)
            for call, got in zip(calls, outcome["calls"], strict=True):
                if ANYONE in contract.methods[call["member"]].callers:
                    assert got != ACCESS_DENIED, call  # through the bus (rdp_gate is not up)
                elif contract.daemon == "walletd":
                    assert got == ACCESS_DENIED, call
                else:  # nothing owns the name: the bus says so before its policy applies
                    assert got in (ACCESS_DENIED, SERVICE_UNKNOWN), call
    finally:
        await _close(lucid)


async def test_daemons_refuse_squatters_and_strangers_themselves(
    lax_bus: str, tmp_path: Path
) -> None:
    """What review did against a lax bus, now refused by the daemons' own checks."""
    lucid = await _start(
        tmp_path, lax_bus, "walletd", "gatekeeper", "recorder", "chunker", "encryptor", "merkle"
    )
    try:
        walletd, gatekeeper = by_daemon("walletd"), by_daemon("gatekeeper")
        recorder, merkle = by_daemon("recorder"), by_daemon("merkle")
        # tron-node is not running: a stranger takes its name and asks for a TRX transfer.
        outcome = await probe(
            lax_bus, NOBODY, [spec(walletd, "SignTronTransaction")], own=TRON_NODE.bus_name
        )
        assert outcome == {"own": "ok", "calls": [NOT_AUTHORIZED]}
        # The encryptor crashed: a stranger takes its name in the restart window.
        await lucid.sets[0].kill("encryptor", signal.SIGKILL)
        outcome = await probe(
            lax_bus,
            NOBODY,
            [spec(walletd, "OpenDataKey"), spec(walletd, "CreateDataKey")],
            own=ENCRYPTOR.bus_name,
        )
        assert outcome == {"own": "ok", "calls": [NOT_AUTHORIZED] * 2}
        # Evidence export around the web page's auditor-only rule.
        outcome = await probe(
            lax_bus, NOBODY, [spec(merkle, "GetManifest"), spec(merkle, "ExportBundle")]
        )
        assert outcome["calls"] == [NOT_AUTHORIZED] * 2
        # merkle crashed: device-key signatures over a message of the stranger's choice.
        await lucid.sets[0].kill("merkle", signal.SIGKILL)
        outcome = await probe(lax_bus, NOBODY, [spec(walletd, "SignManifest")], own=merkle.bus_name)
        assert outcome == {"own": "ok", "calls": [NOT_AUTHORIZED]}
        # A fake rdp_gate writes a login event into a session's signed audit stream.
        outcome = await probe(
            lax_bus, NOBODY, [spec(recorder, "AddAuditEvent")], own=RDP_GATE.bus_name
        )
        assert outcome == {"own": "ok", "calls": [NOT_AUTHORIZED]}
        # No name at all: revoke "as owner1", stop or start recordings, export evidence.
        calls = [
            spec(gatekeeper, "Revoke"),
            spec(gatekeeper, "Deny"),
            spec(gatekeeper, "SetPolicy"),
            spec(recorder, "StartSession"),
            spec(recorder, "StopSession"),
        ]
        outcome = await probe(lax_bus, NOBODY, calls)
        assert outcome["calls"] == [NOT_AUTHORIZED] * len(calls)
    finally:
        await _close(lucid)


async def test_session_users_reach_rdp_gates_public_methods(rdp_bus: str) -> None:
    """A session's start script (any local user) calls Wait and End, and nothing else."""
    owner = await connect(rdp_bus)  # the appliance's user, standing in for rdp_gate
    try:
        await owner.request_name(RDP_GATE.bus_name)
        calls = [spec(RDP_GATE, m) for m in RDP_GATE.methods]
        outcome = await probe(rdp_bus, NOBODY, calls)
        reached = "org.freedesktop.DBus.Error.UnknownMethod"  # the bare owner answered
        assert outcome["calls"] == [
            reached if ANYONE in RDP_GATE.methods[c["member"]].callers else ACCESS_DENIED
            for c in calls
        ]
    finally:
        owner.disconnect()


async def test_session_users_receive_no_lucid_signals(rdp_bus: str) -> None:
    """Session ids, states and reasons stay with the appliance: a session user who listens
    to every signal gets none of a Lucid daemon's, only other broadcasts."""
    root = Path(__file__).resolve().parents[2]
    listener = await asyncio.create_subprocess_exec(
        sys.executable,
        str(PROBE),
        rdp_bus,
        str(NOBODY),
        "[]",
        "--listen",
        "Marker",
        stdout=asyncio.subprocess.PIPE,
        cwd=root,
        env=os.environ | {"PYTHONPATH": str(root)},
    )
    assert listener.stdout is not None
    assert (await asyncio.wait_for(listener.stdout.readline(), 60)).strip() == b"ready"
    daemon, other = await connect(rdp_bus), await connect(rdp_bus)
    appliance_got: list[str] = []
    watcher = await connect(rdp_bus)
    try:
        await daemon.request_name(GATEKEEPER.bus_name)
        await GatekeeperClient(watcher).on_signal(
            "RequestFiled", lambda a: appliance_got.append(a[0])
        )
        daemon.send(
            Message.new_signal(GATEKEEPER.path, GATEKEEPER.interface, "RequestFiled", "s", ["s1"])
        )
        # Once the bus answered this, it has routed the signal above (one connection's
        # messages are handled in order); the marker from another connection comes after.
        await daemon.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member="GetId",
            )
        )
        other.send(Message.new_signal("/x", "org.example.Test", "Marker", "", []))
        out, _ = await asyncio.wait_for(listener.communicate(), 60)
        assert json.loads(out.splitlines()[-1]) == ["org.example.Test.Marker"]
        await watcher.call(
            Message(
                destination=daemon.unique_name,
                path="/",
                interface="org.freedesktop.DBus.Peer",
                member="Ping",
            )
        )
        assert appliance_got == ["s1"]  # the appliance's own clients still get it
    finally:
        for bus in (daemon, other, watcher):
            bus.disconnect()
        if listener.returncode is None:
            listener.kill()
