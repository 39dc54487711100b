"""D-Bus plumbing on dbus-fast: connect, export a contract, call a contract.

``ContractService`` dispatches incoming calls to ``async`` handlers named after the XML
methods (``StartSession`` -> ``start_session``) and hands each handler the ``Caller`` so it
can check who is calling; arguments and replies are checked against the XML signatures.
``ContractClient`` calls a contract with a cap on calls in flight and turns D-Bus error
names back into Lucid exceptions. Signals are wake-up hints only: receivers re-read their
own state (files, databases, method calls) and never trust a signal's payload as data.
This module connects; ``bus_service`` and ``bus_client`` hold the two halves, re-exported
here. It does not know any daemon.
"""

from __future__ import annotations

import os

from dbus_fast import BusType
from dbus_fast.aio import MessageBus

from lucid.runtime.bus_client import ContractClient, SignalCallback
from lucid.runtime.bus_service import Caller, ContractService
from lucid.runtime.errors import UnavailableError


def bus_address(configured: str = "") -> str | None:
    """The bus to use: config, then ``LUCID_BUS``, then None (the system bus)."""
    return configured or os.environ.get("LUCID_BUS") or None


async def connect(address: str | None = None) -> MessageBus:
    """Connect to ``address`` (a D-Bus address string) or the system bus.

    Raises:
        UnavailableError: the bus cannot be reached.
    """
    try:
        if address:
            bus = MessageBus(bus_address=address, negotiate_unix_fd=True)
        else:
            bus = MessageBus(bus_type=BusType.SYSTEM, negotiate_unix_fd=True)
        return await bus.connect()
    except (OSError, EOFError) as err:
        where = address or "the system bus"
        raise UnavailableError(f"cannot connect to D-Bus at {where}: {err}") from err


__all__ = [
    "Caller",
    "ContractClient",
    "ContractService",
    "SignalCallback",
    "bus_address",
    "connect",
]
