"""``lucid status``: one line per daemon (ok, degraded, off) and what a degraded one lacks;
exit status 1 when any is degraded. `lucid up` prints the degraded ones the same way once
chain-client has settled (lucid.runtime.health)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from dbus_fast.aio import MessageBus

from lucid.chain_client.client import ChainClientClient
from lucid.cli.appliance import APPLIANCE
from lucid.cli.connect import connect_cli
from lucid.runtime.bus import ContractClient
from lucid.runtime.contracts import CHAIN_CLIENT, RDP_GATE, TRON_NODE, Contract
from lucid.runtime.health import DEGRADED, DaemonHealth, Probe, check_all

SETTLE_S = 30.0  # how long `lucid up` waits for chain-client to leave "starting" before saying
SETTLE_POLL_S = 0.25


def _client(bus: MessageBus, contract: Contract) -> ContractClient:
    return ChainClientClient(bus) if contract is CHAIN_CLIENT else Probe(bus, contract)


async def appliance_health(bus: MessageBus, rdp: bool | None = None) -> list[DaemonHealth]:
    """Every daemon of the appliance, then the optional ones (RDP host, tron-node).

    ``rdp``: True if the RDP host must run (``lucid up --rdp-port``); None: optional.
    """
    required = [c.daemon for c in APPLIANCE]
    if rdp:
        required.append(RDP_GATE.daemon)
    contracts = (*APPLIANCE, RDP_GATE, TRON_NODE)
    return await check_all((_client(bus, c) for c in contracts), required)


async def settled_health(bus: MessageBus, rdp: bool) -> list[DaemonHealth]:
    """`appliance_health` once every daemon has settled (or after ``SETTLE_S``)."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        found = await appliance_health(bus, rdp)
        if all(d.settled for d in found) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(SETTLE_POLL_S)


def report_degraded(found: list[DaemonHealth], say: Callable[[str], None]) -> None:
    """One ``degraded:`` line per degraded daemon, or one line saying all is well."""
    bad = [d for d in found if d.state == DEGRADED]
    for d in bad:
        say(f"degraded: {d.daemon}: {d.detail}  (lucid status shows every daemon)")
    if not bad:
        running = sum(d.running for d in found)
        anchoring = next((d.detail for d in found if d.daemon == CHAIN_CLIENT.daemon), "")
        say(f"all {running} daemons running; {anchoring}" if anchoring else "all daemons running")


async def status(state: Path | None) -> int:
    """Print each daemon's state; 1 if any daemon is degraded."""
    bus = await connect_cli(state)
    try:
        found = await appliance_health(bus)
    finally:
        bus.disconnect()
    print(f"{'DAEMON':<13} {'STATE':<9} DETAIL")
    for d in found:
        print(d.line())
    return 1 if any(d.state == DEGRADED for d in found) else 0
