"""The exporting half of lucid.runtime.bus: ``ContractService`` and the ``Caller`` it hands
each handler. Calls are dispatched from the interface XML, and who may call each method
(``io.lucid.Callers``) is checked before the handler runs (lucid.runtime.principals).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from lucid.runtime.contracts import ANYONE, Contract
from lucid.runtime.dbus_driver import INTROSPECTABLE, snake, top_types
from lucid.runtime.errors import (
    BusError,
    InternalError,
    InvalidArgumentError,
    NotAuthorizedError,
    UnavailableError,
)
from lucid.runtime.principals import Identity, Principals

log = logging.getLogger("lucid.runtime.bus")


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
            handler = getattr(self, snake(name), None)
            if handler is None or not asyncio.iscoroutinefunction(handler):
                raise RuntimeError(f"{type(self).__name__} lacks async {snake(name)} for {name}")
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
                    for a, t in zip(args, top_types(msg.signature), strict=True)
                ]
            result = await self._handlers[msg.member or ""](caller, *args)
            body = (
                []
                if out_signature == ""
                else (list(result) if len(top_types(out_signature)) > 1 else [result])
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
