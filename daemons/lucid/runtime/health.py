"""Whether each daemon runs and can do its job: one state per daemon, said the same way by
`lucid up`, `lucid status` and the Device page.

A daemon is ``ok`` (running), ``degraded`` (running but it cannot do its job, or a daemon
the appliance needs is not running) or ``off`` (an optional daemon that does not run here).
A client that can say more than "running" implements `DescribesHealth` (chain-client says
whether it anchors). This module does not decide which daemons are required.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from dbus_fast.aio import MessageBus

from lucid.runtime.bus import ContractClient
from lucid.runtime.contracts import Contract
from lucid.runtime.errors import BusError

OK, DEGRADED, OFF = "ok", "degraded", "off"


@runtime_checkable
class DescribesHealth(Protocol):
    async def health(self) -> tuple[str, bool, bool]:
        """(one phrase for a person, degraded?, settled?) of a running daemon."""
        ...


@dataclass(frozen=True)
class DaemonHealth:
    daemon: str
    bus_name: str
    running: bool
    state: str  # OK | DEGRADED | OFF
    detail: str = ""  # e.g. "anchoring: anvil missing (…)"; "" when there is nothing to add
    settled: bool = True  # False while the daemon is still starting its job

    def line(self) -> str:
        """``daemon  state  detail`` for a terminal."""
        detail = self.detail or ("running" if self.running else "not running")
        return f"{self.daemon:<13} {self.state:<9} {detail}"


async def check(client: ContractClient, required: bool) -> DaemonHealth:
    """One daemon's health; a bus error while asking counts as "not running"."""
    contract = client.contract
    try:
        running = bool(await client.is_running())
    except BusError:
        running = False
    if not running:
        state = DEGRADED if required else OFF
        detail = "not running" + ("" if required else " (optional here)")
        return DaemonHealth(contract.daemon, contract.bus_name, False, state, detail)
    if not isinstance(client, DescribesHealth):
        return DaemonHealth(contract.daemon, contract.bus_name, True, OK)
    try:
        detail, degraded, settled = await client.health()
    except BusError as err:
        detail, degraded, settled = f"running, but its status is unavailable: {err}", True, True
    state = DEGRADED if degraded else OK
    return DaemonHealth(contract.daemon, contract.bus_name, True, state, detail, settled)


async def check_all(
    clients: Iterable[ContractClient], required: Iterable[str]
) -> list[DaemonHealth]:
    """Every client's daemon, in the given order; ``required`` names daemons that must run."""
    needed = frozenset(required)
    listed = list(clients)
    return list(await asyncio.gather(*(check(c, c.contract.daemon in needed) for c in listed)))


class Probe(ContractClient):
    """A client of any contract that only asks whether its daemon runs."""

    def __init__(self, bus: MessageBus, contract: Contract) -> None:
        super().__init__(bus)
        self.contract = contract
