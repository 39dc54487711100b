"""The lifecycle every Lucid daemon shares.

connect to the bus -> build the service (open the db, wire the domain) -> export and own
the name -> ``READY=1`` -> ``WATCHDOG=1`` while the loop is healthy -> on SIGTERM/SIGINT
``STOPPING=1``, stop taking calls, let the current item finish, close everything.
Every background task belongs to the daemon's ``TaskGroup``. A ``LucidError`` during start-up
is one log line and exit status 1 (systemd restarts the unit); nothing here retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from dbus_fast.aio import MessageBus

from lucid.runtime.bus import ContractService, bus_address, connect
from lucid.runtime.config import Config, load_config
from lucid.runtime.errors import ConfigError, LucidError
from lucid.runtime.log import setup_logging
from lucid.runtime.notify import notify, watchdog_interval
from lucid.runtime.principals import Principals

STOP_GRACE_S = 10.0  # time the current item gets to finish after SIGTERM


@dataclass
class Runtime:
    """What a daemon's ``build`` gets: config, bus, logger, stop event, task spawning."""

    name: str
    config: Config
    bus: MessageBus
    log: logging.Logger
    stack: AsyncExitStack
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _group: asyncio.TaskGroup | None = None
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``coro`` in the daemon's task group; a crash in it stops the daemon."""
        if self._group is None:
            raise RuntimeError("spawn() before the daemon started")
        task = self._group.create_task(coro, name=f"{self.name}:{name}")
        self._tasks.append(task)
        return task

    async def sleep(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; return True if the daemon is stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)
        return self.stopping.is_set()

    async def pause(self, wake: asyncio.Event, seconds: float) -> None:
        """Wait until ``wake`` is set, the daemon stops, or ``seconds`` pass; clear ``wake``."""
        waiter = asyncio.ensure_future(wake.wait())
        stopper = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait({waiter, stopper}, timeout=seconds, return_when="FIRST_COMPLETED")
        finally:
            waiter.cancel()
            stopper.cancel()
            wake.clear()


Build = Callable[[Runtime], Awaitable[ContractService]]


async def serve(name: str, build: Build, config: Config | None = None) -> int:
    """Run daemon ``name`` until SIGTERM. Returns the process exit status."""
    log = setup_logging(name)
    try:
        cfg = config or load_config()
        bus = await connect(bus_address(cfg.bus.address))
    except LucidError as err:
        log.error("%s", err)
        return 1
    loop = asyncio.get_running_loop()
    async with AsyncExitStack() as stack:
        stack.callback(bus.disconnect)
        rt = Runtime(name=name, config=cfg, bus=bus, log=log, stack=stack)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, rt.stopping.set)
        try:
            async with asyncio.TaskGroup() as group:
                rt._group = group
                service = await build(rt)
                service.principals = principals_for(bus, cfg)
                service.export()
                await service.request_name()
                notify("READY=1")
                log.info("ready on %s", service.contract.bus_name)
                helpers = [rt.spawn(_watchdog(rt), "watchdog"), rt.spawn(_bus_watch(rt), "bus")]
                await rt.stopping.wait()
                for task in helpers:
                    task.cancel()
                notify("STOPPING=1")
                log.info("stopping")
                await service.drain()
                await _finish(rt)
        except* LucidError as group_err:
            for failure in group_err.exceptions:
                log.error("%s", failure)
            status = 1
        else:
            status = 0
    return status


def principals_for(bus: MessageBus, cfg: Config) -> Principals:
    """The caller checks of a service on ``bus`` (``[bus] daemon_users``).

    Raises:
        ConfigError: an unknown layout.
    """
    try:
        return Principals(bus, cfg.bus.daemon_users)
    except ValueError as err:
        raise ConfigError(f"config bus.daemon_users: {err}") from err


async def _finish(rt: Runtime) -> None:
    others = [t for t in rt._tasks if not t.done()]
    _done, pending = await asyncio.wait(others, timeout=STOP_GRACE_S) if others else (set(), set())
    for task in pending:
        task.cancel()


async def _watchdog(rt: Runtime) -> None:
    interval = watchdog_interval()
    if interval is None:
        return
    while not await rt.sleep(interval):
        notify("WATCHDOG=1")


async def _bus_watch(rt: Runtime) -> None:
    # A daemon that lost its bus is useless: stop so the service manager restarts it.
    await rt.bus.wait_for_disconnect()  # type: ignore[no-untyped-call]  # dbus-fast lacks hints
    if not rt.stopping.is_set():
        rt.log.error("lost the D-Bus connection; exiting")
        rt.stopping.set()


def warn_if_not_ram(rt: Runtime) -> None:
    """Log loudly when the plaintext spool is not RAM-backed (plaintext would hit a disk)."""
    from lucid.runtime.spool import RAM_FILESYSTEMS, filesystem_type

    fstype = filesystem_type(rt.config.paths.spool_dir)
    if fstype not in RAM_FILESYSTEMS:
        rt.log.warning(
            "spool %s is on %s, not tmpfs: plaintext reaches persistent storage; "
            "set paths.spool_dir to a tmpfs (e.g. /run/lucid/spool)",
            rt.config.paths.spool_dir,
            fstype,
        )


def main(name: str, build: Build) -> None:
    """Entry point for ``python -m lucid.<name>``."""
    try:
        status = asyncio.run(serve(name, build))
    except KeyboardInterrupt:
        status = 130
    sys.exit(status)
