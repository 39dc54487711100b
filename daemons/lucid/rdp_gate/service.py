"""io.lucid.RdpGate1: thin adapter over `RdpGate`; who calls comes from the bus daemon.

Wait and End take no arguments: the caller's unix uid and pid come from the bus daemon
(``GetConnectionCredentials``), the rest from /proc (`lucid.rdp_gate.procs`). Any local
user may call them (the device's bus policy must allow it); they only ever act on the
caller's own xrdp session.
"""

from __future__ import annotations

import pwd
from collections.abc import Callable
from typing import Any

from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from lucid.rdp_gate.client import GateSessionInfo
from lucid.rdp_gate.gate import RdpGate
from lucid.runtime.bus import Caller, ContractService
from lucid.runtime.contracts import RDP_GATE
from lucid.runtime.errors import NotAuthorizedError, error_from_dbus

DBUS = ("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")


async def _dbus(bus: MessageBus, member: str, arg: str) -> Any:
    reply = await bus.call(
        Message(
            destination=DBUS[0],
            path=DBUS[1],
            interface=DBUS[2],
            member=member,
            signature="s",
            body=[arg],
        )
    )
    if reply is None or reply.message_type == MessageType.ERROR:
        text = str(reply.body[0]) if reply and reply.body else "no reply"
        raise error_from_dbus((reply.error_name if reply else None) or "", text)
    return reply.body[0]


async def unix_credentials(bus: MessageBus, sender: str) -> tuple[int, int]:
    """(uid, pid) of the connection ``sender``, as the bus daemon saw them at connect."""
    creds = await _dbus(bus, "GetConnectionCredentials", sender)
    try:
        return int(creds["UnixUserID"].value), int(creds["ProcessID"].value)
    except KeyError as err:
        raise NotAuthorizedError(f"the bus daemon does not know {sender}'s {err}") from err


async def name_owner_user(bus: MessageBus, bus_name: str) -> str:
    """The user name of the process that owns ``bus_name``."""
    owner = await _dbus(bus, "GetNameOwner", bus_name)
    uid = int(await _dbus(bus, "GetConnectionUnixUser", str(owner)))
    return pwd.getpwuid(uid).pw_name


class RdpGateService(ContractService):
    contract = RDP_GATE

    def __init__(
        self, bus: MessageBus, gate: RdpGate, connection_info: Callable[[], dict[str, str]]
    ) -> None:
        super().__init__(bus)
        self._gate = gate
        self._connection_info = connection_info

    async def _who(self, caller: Caller) -> tuple[int, str, int]:
        uid, pid = await unix_credentials(self.bus, caller.sender)
        try:
            user = pwd.getpwuid(uid).pw_name
        except KeyError as err:
            raise NotAuthorizedError(f"uid {uid} has no user name") from err
        return uid, user, pid

    async def wait(self, caller: Caller) -> tuple[str, str]:
        uid, user, pid = await self._who(caller)
        return await self._gate.wait(uid, user, pid)

    async def end(self, caller: Caller) -> None:
        uid, _user, pid = await self._who(caller)
        await self._gate.end(uid, pid)

    async def list_sessions(self, caller: Caller) -> list[GateSessionInfo]:
        return self._gate.sessions()

    async def get_connection_info(self, caller: Caller) -> dict[str, str]:
        return self._connection_info()
