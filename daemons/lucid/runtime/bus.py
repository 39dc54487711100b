"""D-Bus plumbing on dbus-fast: connect, export a contract, call a contract.

``ContractService`` dispatches incoming calls to ``async`` handlers named after the XML
methods (``StartSession`` -> ``start_session``) and hands each handler the ``Caller`` so it
can check who is calling; arguments and replies are checked against the XML signatures.
``ContractClient`` calls a contract with a cap on calls in flight and turns D-Bus error
names back into Lucid exceptions. Signals are wake-up hints only: receivers re-read their
own state (files, databases, method calls) and never trust a signal's payload as data.
This module does not know any daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

from lucid.runtime.contracts import ANYONE, Contract
from lucid.runtime.errors import (
    BusError,
    InternalError,
    InvalidArgumentError,
    NotAuthorizedError,
    UnavailableError,
    error_from_dbus,
)
from lucid.runtime.principals import Identity, Principals

log = logging.getLogger(__name__)

DBUS = ("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")
INTROSPECTABLE = "org.freedesktop.DBus.Introspectable"


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


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


async def _dbus_call(bus: MessageBus, member: str, signature: str, body: list[Any]) -> Any:
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


@dataclass
class Caller:
    """Who sent a method call. ``fds`` are file descriptors passed with it (caller owns none).

    ``principal`` is the contract caller the dispatcher matched (``admin_ui``, ``operator``,
    ``anyone`` ...; lucid.runtime.principals) and ``uid`` the caller's unix user as the bus
    daemon reports it; both are set before a handler runs.
    """

    bus: MessageBus
    sender: str
    fds: list[int] = field(default_factory=list)
    principal: str = ""
    uid: int = -1
    principals: Principals | None = None

    @property
    def user(self) -> str:
        """The caller's account name (for records such as ``console:root``)."""
        return Identity(self.uid).user

    async def owns(self, bus_name: str) -> bool:
        """True if the caller currently owns ``bus_name`` (bus policy limits who can)."""
        try:
            owner = await _dbus_call(self.bus, "GetNameOwner", "s", [bus_name])
        except BusError:
            return False
        return bool(owner == self.sender)

    async def require(self, *contracts: Contract) -> None:
        """Raise ``NotAuthorizedError`` unless the caller is one of ``contracts``' daemons:
        their unix user and owner of their name (the dispatcher already enforced the XML's
        callers; this narrows a method that several callers share)."""
        names = tuple(c.daemon for c in contracts)
        if self.principal in names:
            return
        if self.principals is None:
            raise NotAuthorizedError(f"only {', '.join(names)} may call this method")
        await self.principals.match(self.sender, names, "this method")


Handler = Callable[..., Awaitable[Any]]


class ContractService:
    """Export ``contract`` on ``bus``; subclasses implement one coroutine per XML method.

    Each handler is ``async def method_name(self, caller: Caller, *args)``. Errors that are
    ``BusError`` go back under their name; anything else is logged here and returned as
    ``io.lucid.Error.Internal`` without details (tracebacks stay in the journal).
    """

    contract: Contract

    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus
        #: Set by lucid.runtime.daemon.serve from ``[bus] daemon_users`` before export; a
        #: service without it refuses every call that is not open to ``anyone``.
        self.principals: Principals | None = None
        self._handlers: dict[str, Handler] = {}
        for name in self.contract.methods:
            handler = getattr(self, _snake(name), None)
            if handler is None or not asyncio.iscoroutinefunction(handler):
                raise RuntimeError(f"{type(self).__name__} lacks async {_snake(name)} for {name}")
            self._handlers[name] = handler
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def export(self) -> None:
        """Start dispatching calls addressed to the contract's object path."""
        self.bus.add_message_handler(self._on_message)

    async def request_name(self) -> None:
        """Own the contract's well-known name (fails if another process owns it)."""
        from dbus_fast import RequestNameReply

        reply = await self.bus.request_name(self.contract.bus_name)
        if reply not in (RequestNameReply.PRIMARY_OWNER, RequestNameReply.ALREADY_OWNER):
            raise UnavailableError(f"{self.contract.bus_name} is already owned by another process")

    async def drain(self) -> None:
        """Stop taking calls and wait for handlers in flight to finish."""
        self._closed = True
        self.bus.remove_message_handler(self._on_message)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def emit(self, member: str, *args: Any) -> None:
        """Send signal ``member`` (must be in the XML, with matching arguments)."""
        signal = self.contract.signals.get(member)
        if signal is None:
            raise RuntimeError(f"{member} is not a signal of {self.contract.interface}")
        self.bus.send(
            Message.new_signal(
                self.contract.path, self.contract.interface, member, signal.signature, list(args)
            )
        )

    def _on_message(self, msg: Message) -> bool | Message:
        if msg.message_type != MessageType.METHOD_CALL or msg.path != self.contract.path:
            return False
        if msg.interface == INTROSPECTABLE and msg.member == "Introspect":
            return Message.new_method_return(msg, "s", [self._introspection()])
        if msg.interface not in (self.contract.interface, None):
            return False
        method = self.contract.methods.get(msg.member or "")
        if method is None:
            return False
        if msg.signature != method.in_signature:
            return Message.new_error(
                msg,
                InvalidArgumentError.name,
                f"{msg.member} takes ({method.in_signature}), got ({msg.signature})",
            )
        if self._closed:
            return Message.new_error(msg, UnavailableError.name, "daemon is stopping")
        task = asyncio.get_running_loop().create_task(self._dispatch(msg, method.out_signature))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _authorize(self, caller: Caller, member: str) -> None:
        callers = self.contract.methods[member].callers
        if self.principals is None:
            if ANYONE not in callers:
                raise NotAuthorizedError(f"{self.contract.daemon} has no caller checks set up")
            caller.principal = ANYONE
            return
        caller.principals = self.principals
        caller.uid = (await self.principals.identify(caller.sender)).uid
        caller.principal = await self.principals.match(caller.sender, callers, member)

    async def _dispatch(self, msg: Message, out_signature: str) -> None:
        caller = Caller(self.bus, msg.sender or "", list(msg.unix_fds or []))
        args = list(msg.body)
        try:
            await self._authorize(caller, msg.member or "")
            if "h" in (self.contract.methods[msg.member or ""].in_signature):
                if len(caller.fds) < msg.signature.count("h"):
                    raise InvalidArgumentError(
                        f"{msg.member} needs a file descriptor and none came with the call "
                        "(the caller's bus connection must negotiate unix fd passing)"
                    )
                args = [
                    caller.fds[a] if isinstance(a, int) and t == "h" else a
                    for a, t in zip(args, _top_types(msg.signature), strict=True)
                ]
            result = await self._handlers[msg.member or ""](caller, *args)
            body = (
                []
                if out_signature == ""
                else (list(result) if len(_top_types(out_signature)) > 1 else [result])
            )
            reply = Message.new_method_return(msg, out_signature, body)
        except BusError as err:
            reply = Message.new_error(msg, err.name, err.message)
        except Exception:
            log.exception("%s.%s failed", self.contract.interface, msg.member)
            reply = Message.new_error(msg, InternalError.name, f"{msg.member} failed; see the log")
        finally:
            for fd in caller.fds:
                _close_quietly(fd)
        try:
            self.bus.send(reply)
        except Exception as err:  # the caller went away; nothing to tell it
            log.warning("could not send reply to %s: %s", msg.sender, err)

    def _introspection(self) -> str:
        xml = self.contract.xml
        start = xml.find("<interface")
        end = xml.rfind("</interface>") + len("</interface>")
        return (
            '<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n'
            ' "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">\n'
            f'<node>\n  {xml[start:end]}\n  <interface name="{INTROSPECTABLE}">\n'
            '    <method name="Introspect"><arg name="xml" type="s" direction="out"/></method>\n'
            "  </interface>\n</node>\n"
        )


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError as err:  # already closed by the handler, which owns it once used
        log.debug("fd %d already closed: %s", fd, err)


def _top_types(signature: str) -> list[str]:
    """Split a D-Bus signature into its complete top-level types."""
    from dbus_fast.signature import SignatureTree

    return [t.signature for t in SignatureTree(signature).types]


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
                for a, t in zip(args, _top_types(method.in_signature), strict=True)
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
        n_out = len(_top_types(method.out_signature)) if method.out_signature else 0
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
            await _dbus_call(self.bus, "AddMatch", "s", [rule])
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
                    await _dbus_call(self.bus, "RemoveMatch", "s", [rule])
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
        await _dbus_call(self.bus, "AddMatch", "s", [rule])

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
        return bool(await _dbus_call(self.bus, "NameHasOwner", "s", [self.contract.bus_name]))
