"""Who is calling: a bus connection's unix user, and which contract callers it may act as.

The interface XML names each method's callers (lucid.runtime.contracts). A caller matches

- a daemon (``admin_ui`` ...) when its connection runs as that daemon's unix user **and**
  owns that daemon's well-known name. The user comes from the bus daemon
  (``GetConnectionUnixUser``, the credentials of the socket), never from anything the caller
  says; owning the name alone is not enough, so a process that grabs a name in a daemon's
  restart window (where a lax bus would let it) is still refused;
- ``operator`` (the local console) when it runs as root, or as the appliance's own user
  under ``lucid up``;
- ``anyone`` always (the bus policy decides who gets that far).

Daemon users come in two layouts (``[bus] daemon_users``): ``per-daemon``, the device, where
daemon ``admin_ui`` runs as system user ``lucid-admin-ui``; and ``shared``, ``lucid up`` and
the tests, where every daemon runs as the same user as this process. A daemon whose user
does not exist matches no one. This module does not decide policy; it answers "who".
"""

from __future__ import annotations

import os
import pwd
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from dbus_fast.aio import MessageBus

from lucid.runtime.contracts import ALL, ANYONE, DAEMONS, OPERATOR, by_daemon
from lucid.runtime.dbus_driver import driver_call
from lucid.runtime.errors import BusError, NotAuthorizedError

PER_DAEMON = "per-daemon"
SHARED = "shared"
LAYOUTS = (PER_DAEMON, SHARED)
_CACHE_SIZE = 4096  # connections remembered (unique names are never reused on a bus)


def daemon_user(daemon: str) -> str:
    """The device's system user of ``daemon`` (``admin_ui`` -> ``lucid-admin-ui``)."""
    return "lucid-" + daemon.replace("_", "-")


@dataclass(frozen=True)
class Identity:
    """What the bus daemon says about a connection."""

    uid: int

    @property
    def user(self) -> str:
        """The account name, or ``uid N`` for a uid without one."""
        try:
            return pwd.getpwuid(self.uid).pw_name
        except KeyError:
            return f"uid {self.uid}"


class _Lru(OrderedDict[str, Any]):
    def remember(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > _CACHE_SIZE:
            self.popitem(last=False)


class Principals:
    """Resolve bus callers to contract callers, for one service's bus connection.

    Args:
        bus: the service's own connection (it asks the bus daemon).
        layout: ``per-daemon`` or ``shared`` (see the module docstring).
        own_uid: the uid daemons share in the ``shared`` layout (this process's by default).
    """

    def __init__(self, bus: MessageBus, layout: str, own_uid: int | None = None) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"daemon_users must be one of {', '.join(LAYOUTS)}, not {layout!r}")
        self.bus = bus
        self.layout = layout
        self.own_uid = os.getuid() if own_uid is None else own_uid
        self._uids: _Lru = _Lru()
        self._owned: _Lru = _Lru()  # (sender, name) seen owned; our daemons never release names

    async def identify(self, sender: str) -> Identity:
        """The unix user behind connection ``sender``.

        Raises:
            NotAuthorizedError: the bus cannot say (the caller is gone).
        """
        uid = self._uids.get(sender)
        if uid is None:
            try:
                uid = int(await driver_call(self.bus, "GetConnectionUnixUser", "s", [sender]))
            except BusError as err:
                raise NotAuthorizedError(f"cannot tell who {sender} is: {err}") from err
            self._uids.remember(sender, uid)
        return Identity(uid)

    def daemon_uid(self, daemon: str) -> int | None:
        """The uid daemon ``daemon`` runs as, or None if that user does not exist here."""
        if self.layout == SHARED:
            return self.own_uid
        try:
            return pwd.getpwnam(daemon_user(daemon)).pw_uid
        except KeyError:
            return None

    def is_operator(self, identity: Identity) -> bool:
        """Root, or the appliance's user when every daemon shares it (``lucid up``)."""
        return identity.uid == 0 or (self.layout == SHARED and identity.uid == self.own_uid)

    async def is_daemon(self, sender: str, identity: Identity, daemon: str) -> bool:
        """True if ``sender`` runs as ``daemon``'s user and owns its name right now."""
        if identity.uid != self.daemon_uid(daemon):
            return False
        name = by_daemon(daemon).bus_name
        key = f"{sender} {name}"
        if key in self._owned:
            return True
        try:
            owner = await driver_call(self.bus, "GetNameOwner", "s", [name])
        except BusError:  # NameHasNoOwner: nobody owns it right now
            return False
        if owner != sender:
            return False
        self._owned.remember(key, True)
        return True

    async def match(self, sender: str, callers: tuple[str, ...], member: str) -> str:
        """The first of ``callers`` that ``sender`` is; named daemons before ``operator``
        (so admin-ui acting for a web account is admin-ui even where its user is also the
        operator), the ``daemons`` wildcard last.

        Raises:
            NotAuthorizedError: ``sender`` is none of them (the message names who may call).
        """
        if ANYONE in callers:
            return ANYONE
        identity = await self.identify(sender)
        named = [c for c in callers if c not in (OPERATOR, DAEMONS)]
        for daemon in named:
            if await self.is_daemon(sender, identity, daemon):
                return daemon
        if OPERATOR in callers and self.is_operator(identity):
            return OPERATOR
        if DAEMONS in callers:
            for contract in ALL:
                if contract.daemon not in named and await self.is_daemon(
                    sender, identity, contract.daemon
                ):
                    return contract.daemon
        allowed = ", ".join("any Lucid daemon" if c == DAEMONS else c for c in callers)
        raise NotAuthorizedError(f"only {allowed} may call {member} (caller: {identity.user})")
