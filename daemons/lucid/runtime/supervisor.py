"""Start a private dbus-daemon and a set of Lucid daemons as real processes.

This is what ``lucid up`` / ``lucid demo`` and the tests use off the device (on the device
systemd does this job). Each daemon gets its own sd_notify socket, so "ready" means the
daemon itself said ``READY=1``; a daemon that exits unexpectedly is restarted after a short
delay (like ``Restart=on-failure``). It does not know what any daemon does.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import pwd
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from lucid.runtime.errors import LucidError
from lucid.runtime.log import open_log
from lucid.runtime.policy import appliance_bus_config

log = logging.getLogger(__name__)

#: A bus that lets every user own and call everything: for tests of a daemon's own caller
#: checks only (what a method refuses when the bus policy would not have stopped the call).
PERMISSIVE_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>lucid</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="false"/>
    <allow receive_sender="*"/>
  </policy>
  <limit name="max_incoming_unix_fds">64</limit>
</busconfig>
"""


class SupervisorError(LucidError):
    """A daemon or the private bus did not start."""


_PR_SET_PDEATHSIG = 1


def detach_child() -> None:
    """``preexec_fn`` for children: own session (a terminal's Ctrl-C reaches only the
    supervisor, which then stops them in order) and SIGTERM when the supervisor dies."""
    os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


async def stop_process(proc: asyncio.subprocess.Process, timeout_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``; quiet if it already exited."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


async def start_private_bus(
    directory: Path, *, session_users: bool = False, config: str | None = None
) -> tuple[asyncio.subprocess.Process, str]:
    """Start ``dbus-daemon`` listening on ``directory/bus``; return (process, address).

    The bus has the device's rules (lucid.runtime.policy) with every daemon running as this
    process's user: only that user owns ``io.lucid.*`` names, whether their daemon runs or
    not. ``session_users`` lets any local user connect (and call what the contracts open to
    anyone); ``config`` replaces the whole configuration (``{socket}`` is filled in).
    """
    directory.mkdir(parents=True, exist_ok=True)
    sock = directory / "bus"
    with contextlib.suppress(FileNotFoundError):
        sock.unlink()
    conf = directory / "bus.conf"
    user = pwd.getpwuid(os.getuid()).pw_name
    conf.write_text(
        config.format(socket=sock)
        if config is not None
        else appliance_bus_config(sock, user, session_users=session_users)
    )
    # dbus-daemon's own warnings (e.g. it cannot raise its fd limit as non-root) go to a log.
    log_file = open_log(directory / "dbus-daemon.log")  # handed to the child (0640)
    try:
        proc = await asyncio.create_subprocess_exec(
            "dbus-daemon",
            f"--config-file={conf}",
            "--nofork",
            "--print-address",
            stdout=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
            stderr=log_file,
            preexec_fn=detach_child,
        )
    except FileNotFoundError as err:
        raise SupervisorError("dbus-daemon is not installed (apt-get install dbus)") from err
    finally:
        log_file.close()
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 10)
    except TimeoutError as err:
        proc.kill()
        raise SupervisorError("dbus-daemon did not start within 10 s") from err
    address = line.decode().strip()
    if not address:
        raise SupervisorError(f"dbus-daemon exited with status {await proc.wait()}")
    return proc, address


@dataclass
class _Child:
    name: str
    proc: asyncio.subprocess.Process | None = None
    notify: socket.socket | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    expected_exit: bool = False
    restarts: int = 0


class DaemonSet:
    """Run ``python -m lucid.<name>`` for each name with a shared environment."""

    def __init__(
        self,
        names: list[str],
        run_dir: Path,
        env: dict[str, str],
        *,
        restart: bool = True,
        restart_delay_s: float = 0.5,
    ) -> None:
        self.names = names
        self.run_dir = run_dir
        self.env = env
        self.restart = restart
        self.restart_delay_s = restart_delay_s
        self.children = {n: _Child(n) for n in names}
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._closing = False

    def log_path(self, name: str) -> Path:
        return self.run_dir / "logs" / f"{name}.log"

    async def start_all(self, timeout_s: float = 60.0) -> None:
        for name in self.names:
            await self.start(name, timeout_s)

    async def start(self, name: str, timeout_s: float = 60.0) -> None:
        """Start ``name`` and wait until it reports READY=1."""
        child = self.children[name]
        child.ready.clear()
        child.expected_exit = False
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        sock_path = self.run_dir / f"notify-{name}.sock"
        with contextlib.suppress(FileNotFoundError):
            sock_path.unlink()
        if child.notify is not None:
            asyncio.get_running_loop().remove_reader(child.notify.fileno())
            child.notify.close()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        sock.bind(str(sock_path))
        sock.setblocking(False)
        child.notify = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._on_notify, child)
        # Every child runs as this process's user: the caller checks must know (principals).
        shared = {"LUCID__BUS__DAEMON_USERS": "shared"}
        env = dict(os.environ) | shared | self.env | {"NOTIFY_SOCKET": str(sock_path)}
        env.pop("WATCHDOG_USEC", None)
        with open_log(self.log_path(name)) as logf:  # 0640: not for every local user
            child.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                f"lucid.{name}",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=logf,
                stderr=logf,
                env=env,
                preexec_fn=detach_child,
            )
        self._watchers[name] = asyncio.get_running_loop().create_task(self._watch(child))
        try:
            await asyncio.wait_for(child.ready.wait(), timeout_s)
        except TimeoutError as err:
            raise SupervisorError(
                f"{name} did not become ready within {timeout_s:g} s; see {self.log_path(name)}"
            ) from err

    def _on_notify(self, child: _Child) -> None:
        assert child.notify is not None
        try:
            data = child.notify.recv(4096)
        except BlockingIOError:
            return
        if b"READY=1" in data.split(b"\n"):
            child.ready.set()

    async def _watch(self, child: _Child) -> None:
        assert child.proc is not None
        proc = child.proc
        status = await proc.wait()
        if self._closing or child.expected_exit or not self.restart or child.proc is not proc:
            return
        child.restarts += 1
        log.warning("%s exited with status %s; restarting", child.name, status)
        await asyncio.sleep(self.restart_delay_s)
        if not self._closing and child.proc is proc:
            try:
                await self.start(child.name)
            except SupervisorError as err:
                log.error("%s", err)

    def pid(self, name: str) -> int:
        proc = self.children[name].proc
        if proc is None or proc.returncode is not None:
            raise SupervisorError(f"{name} is not running")
        return proc.pid

    async def kill(self, name: str, sig: int = signal.SIGKILL, restart: bool = False) -> None:
        """Send ``sig``; with restart=False the set will not bring it back by itself."""
        child = self.children[name]
        child.expected_exit = not restart
        if child.proc is not None and child.proc.returncode is None:
            child.ready.clear()
            child.proc.send_signal(sig)
            await child.proc.wait()

    async def wait_ready(self, name: str, timeout_s: float = 60.0) -> None:
        await asyncio.wait_for(self.children[name].ready.wait(), timeout_s)

    async def stop(self, name: str, timeout_s: float = 20.0) -> int | None:
        child = self.children[name]
        child.expected_exit = True
        proc = child.proc
        if proc is None or proc.returncode is not None:
            return proc.returncode if proc else None
        proc.terminate()
        try:
            return await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            log.error("%s ignored SIGTERM for %g s; killing it", name, timeout_s)
            proc.kill()
            return await proc.wait()

    async def close(self) -> dict[str, int | None]:
        """Stop every daemon (reverse order); returns their exit statuses."""
        self._closing = True
        statuses = {}
        for name in reversed(self.names):
            statuses[name] = await self.stop(name)
        for child in self.children.values():
            if child.notify is not None:
                asyncio.get_running_loop().remove_reader(child.notify.fileno())
                child.notify.close()
                child.notify = None
        for task in self._watchers.values():
            task.cancel()
        return statuses
