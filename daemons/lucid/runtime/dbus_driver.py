"""The bus daemon's own interface (org.freedesktop.DBus) and signature helpers.

Shared by the service and client halves of lucid.runtime.bus and by the caller checks
(lucid.runtime.principals). Knows no daemon and no contract.
"""

from __future__ import annotations

import re
from typing import Any

from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus
from dbus_fast.signature import SignatureTree

from lucid.runtime.errors import error_from_dbus

DBUS = ("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")
INTROSPECTABLE = "org.freedesktop.DBus.Introspectable"


def snake(name: str) -> str:
    """``StartSession`` -> ``start_session`` (handler and client method names)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


async def driver_call(bus: MessageBus, member: str, signature: str, body: list[Any]) -> Any:
    """Call ``member`` of the bus daemon; its single return value (or None).

    Raises:
        BusError: the named error the bus daemon answered (lucid.runtime.errors).
    """
    reply = await bus.call(
        Message(
            destination=DBUS[0],
            path=DBUS[1],
            interface=DBUS[2],
            member=member,
            signature=signature,
            body=body,
        )
    )
    if reply is None or reply.message_type == MessageType.ERROR:
        text = reply.body[0] if reply and reply.body else "no reply"
        raise error_from_dbus((reply.error_name if reply else None) or "", str(text))
    return reply.body[0] if reply.body else None


def top_types(signature: str) -> list[str]:
    """Split a D-Bus signature into its complete top-level types."""
    return [t.signature for t in SignatureTree(signature).types]
