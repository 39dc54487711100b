"""Which boot of the appliance this is: the bus daemon's id (``org.freedesktop.DBus.GetId``).

A bus daemon makes a new id each time it starts: at every boot of the device (the system
bus) and at every ``lucid up`` (its private bus), but not when gatekeeper alone restarts.
Requests remember it so that those of an earlier boot can be expired at startup
(lucid.gatekeeper.requests).
"""

from __future__ import annotations

from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from lucid.runtime.errors import UnavailableError


async def appliance_boot(bus: MessageBus) -> str:
    """The bus daemon's id (32 hex digits).

    Raises:
        UnavailableError: the bus did not answer.
    """
    reply = await bus.call(
        Message(
            destination="org.freedesktop.DBus",
            path="/org/freedesktop/DBus",
            interface="org.freedesktop.DBus",
            member="GetId",
        )
    )
    if reply is None or reply.message_type == MessageType.ERROR or not reply.body:
        raise UnavailableError("the bus did not say its id (org.freedesktop.DBus.GetId)")
    return str(reply.body[0])
