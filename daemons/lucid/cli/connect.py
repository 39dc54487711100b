"""How CLI commands find the bus of a running appliance."""

from __future__ import annotations

import os
from pathlib import Path

from dbus_fast.aio import MessageBus

from lucid.runtime.bus import connect
from lucid.runtime.errors import UnavailableError


def address_file(state: Path) -> Path:
    return state / "run" / "bus.address"


async def connect_cli(state: Path | None) -> MessageBus:
    """Connect to the bus of ``lucid up --state STATE``, else ``$LUCID_BUS``, else the system bus.

    Raises:
        UnavailableError: no appliance is running there.
    """
    address = None
    if state is not None:
        try:
            address = address_file(state).read_text().strip()
        except FileNotFoundError:
            raise UnavailableError(
                f"no appliance is running with state {state} (start one: lucid up --state {state})"
            ) from None
    return await connect(address or os.environ.get("LUCID_BUS") or None)
