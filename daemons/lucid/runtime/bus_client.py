"""The calling half of lucid.runtime.bus: ``ContractClient``, with a cap on calls in
flight, D-Bus error names turned back into Lucid exceptions, and daemons' restart windows
ridden out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from lucid.runtime.contracts import Contract
from lucid.runtime.dbus_driver import DBUS, driver_call, top_types
from lucid.runtime.errors import BusError, UnavailableError, error_from_dbus

log = logging.getLogger("lucid.runtime.bus")


SignalCallback = Callable[[list[Any]], None]


#: Replies from the bus daemon itself meaning the call reached no handler (the name had no
#: owner), so sending it again cannot run anything twice.
NOT_DELIVERED = frozenset(
    {"org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner"}
)
#: Seconds a client waits for a daemon it has talked to before to come back on the bus: more
#: than a supervisor's restart delay (0.5 s off the device, RestartSec on it) plus startup.
RESTART_GRACE_S = 20.0
_OWNER_POLL_S = (0.05, 0.1, 0.2, 0.5)  # NameHasOwner back-off between NameOwnerChanged hints


class ContractClient:
    """Typed access to one daemon's contract. Subclasses add one coroutine per method.

    A daemon's restart window is ridden out: a call the bus could not deliver (the name had
    no owner) is sent again once the name is owned again, for up to ``restart_grace_s``, if
    this client has had a reply from the daemon before. A daemon this client never reached
    fails at once (it may simply not run here: an optional peer must not stall its callers).
    A reply lost because the daemon died while handling the call (NoReply) is not resent:
    the call may have run; callers that know it is safe to repeat do so themselves.
    """

    contract: Contract

    def __init__(
        self,
        bus: MessageBus,
        max_in_flight: int = 64,
        timeout_s: float = 30.0,
        restart_grace_s: float = RESTART_GRACE_S,
    ) -> None:
        self.bus = bus
        self._slots = asyncio.Semaphore(max_in_flight)
        self._timeout = timeout_s
        self._grace = restart_grace_s
        self._reached = False  # a reply came from the daemon: its absence is a restart window
        self._signal_handlers: list[Callable[[Message], bool]] = []

    async def call(self, member: str, *args: Any, fds: list[int] | None = None) -> Any:
        """Call ``member`` with ``args``; returns None, the single value, or a list.

        Waits out the daemon's restart window (see the class docstring).

        Raises:
            UnavailableError: the daemon is not on the bus (or did not come back within
                ``restart_grace_s``), died before replying, or did not answer in time.
            BusError: the named error the daemon sent.
        """
        method = self.contract.methods[member]
        body = list(args)
        if fds:
            body = [
                fds.index(a) if t == "h" else a
                for a, t in zip(args, top_types(method.in_signature), strict=True)
            ]
        deadline: float | None = None
        while True:
            reply = await self._send(member, method.in_signature, body, fds or [])
            if reply.message_type != MessageType.ERROR or reply.error_name not in NOT_DELIVERED:
                break
            daemon, name = self.contract.daemon, self.contract.bus_name
            if not self._reached:
                raise UnavailableError(f"{daemon} is not running ({name} has no owner on the bus)")
            loop = asyncio.get_running_loop()
            if deadline is None:
                deadline = loop.time() + self._grace
                log.warning("%s left the bus; %s waits for it to come back", daemon, member)
            if not await self._wait_for_owner(deadline):
                raise UnavailableError(
                    f"{daemon} left the bus and did not come back within {self._grace:g} s "
                    f"({name} has no owner); see its log"
                )
        if reply.sender != DBUS[0]:  # from the daemon itself, not the bus on its behalf
            self._reached = True
        if reply.message_type == MessageType.ERROR:
            text = str(reply.body[0]) if reply.body else reply.error_name or ""
            raise error_from_dbus(reply.error_name or "", text)
        n_out = len(top_types(method.out_signature)) if method.out_signature else 0
        if n_out == 0:
            return None
        if n_out == 1:
            return reply.body[0]
        return list(reply.body)

    async def _send(self, member: str, signature: str, body: list[Any], fds: list[int]) -> Message:
        """One attempt: a fresh message (own serial), a slot, the reply (error replies too)."""
        msg = Message(
            destination=self.contract.bus_name,
            path=self.contract.path,
            interface=self.contract.interface,
            member=member,
            signature=signature,
            body=body,
            unix_fds=fds,
        )
        async with self._slots:
            try:
                reply = await asyncio.wait_for(self.bus.call(msg), self._timeout)
            except TimeoutError as err:
                raise UnavailableError(
                    f"{self.contract.daemon} did not answer {member} within {self._timeout:g} s"
                ) from err
            except (OSError, EOFError) as err:
                raise UnavailableError(f"lost the bus while calling {member}: {err}") from err
        if reply is None:
            raise UnavailableError(f"no reply from {self.contract.daemon} to {member}")
        return reply

    async def _wait_for_owner(self, deadline: float) -> bool:
        """Wait until the contract's name has an owner; False if ``deadline`` (loop time)
        passes first. NameOwnerChanged wakes it early; NameHasOwner decides."""
        loop = asyncio.get_running_loop()
        name = self.contract.bus_name
        owned = asyncio.Event()

        def hint(msg: Message) -> bool:
            if (
                msg.message_type == MessageType.SIGNAL
                and msg.member == "NameOwnerChanged"
                and msg.interface == DBUS[2]
                and msg.body[:1] == [name]
            ):
                owned.set()
            return False

        rule = (
            f"type='signal',sender='{DBUS[0]}',interface='{DBUS[2]}',"
            f"member='NameOwnerChanged',arg0='{name}'"
        )
        self.bus.add_message_handler(hint)
        try:
            await driver_call(self.bus, "AddMatch", "s", [rule])
            try:
                attempt = 0
                while True:
                    owned.clear()
                    if await self.is_running():
                        return True
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        return False
                    pause = _OWNER_POLL_S[min(attempt, len(_OWNER_POLL_S) - 1)]
                    attempt += 1
                    with contextlib.suppress(TimeoutError):  # NameHasOwner decides next turn
                        await asyncio.wait_for(owned.wait(), min(pause, remaining))
            finally:
                try:
                    await driver_call(self.bus, "RemoveMatch", "s", [rule])
                except (BusError, OSError, EOFError) as err:  # the bus went: the rule with it
                    log.debug("RemoveMatch %s: %s", rule, err)
        except (OSError, EOFError) as err:
            raise UnavailableError(f"lost the bus while waiting for {name}: {err}") from err
        finally:
            self.bus.remove_message_handler(hint)

    async def on_signal(self, member: str, callback: SignalCallback) -> None:
        """Call ``callback(args)`` for each ``member`` signal of this contract."""
        if member not in self.contract.signals:
            raise RuntimeError(f"{member} is not a signal of {self.contract.interface}")
        # sender= a well-known name: the bus delivers only what its current owner sends (a
        # look-alike signal from another connection is not routed here).
        rule = (
            f"type='signal',sender='{self.contract.bus_name}',"
            f"interface='{self.contract.interface}',"
            f"path='{self.contract.path}',member='{member}'"
        )
        await driver_call(self.bus, "AddMatch", "s", [rule])

        def handler(msg: Message) -> bool:
            if (
                msg.message_type == MessageType.SIGNAL
                and msg.interface == self.contract.interface
                and msg.path == self.contract.path
                and msg.member == member
            ):
                try:
                    callback(list(msg.body))
                except Exception:
                    log.exception("signal handler for %s failed", member)
            return False

        self.bus.add_message_handler(handler)
        self._signal_handlers.append(handler)

    async def is_running(self) -> bool:
        """True if some process owns the contract's name right now."""
        return bool(await driver_call(self.bus, "NameHasOwner", "s", [self.contract.bus_name]))
