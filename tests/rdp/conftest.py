"""The RDP host under test: real xrdp + sesman, the Lucid daemons, users, and xfreerdp.

`rdp_host` starts, all on loopback: a private dbus-daemon whose socket session users can
reach; walletd, gatekeeper, recorder, chunker, encryptor, merkle and rdp_gate as processes
(rdp_gate's sesman proxy on the port xrdp dials, 3350); xrdp on a free port and sesman
behind the proxy on another, both from the project's rdp/ files (`lucid.rdp_gate.xrdp`).
An owner passkey is enrolled so tests approve through gatekeeper's signed path. `rdp_users`
makes local users with passwords (useradd) and removes them and their processes after.
A client is ``xfreerdp`` on its own Xvfb display; it never exits on a refused login, so
tests read outcomes from the server side: rdp_gate's sessions, the users' processes, the
recorder and merkle.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from dbus_fast.aio import MessageBus

from lucid.evidence.bundle import open_bundle
from lucid.evidence.keyfile import RecipientKey
from lucid.evidence.playback import decrypt_stream
from lucid.evidence.softpasskey import SoftPasskey
from lucid.gatekeeper.client import GatekeeperClient
from lucid.merkle.client import MerkleClient
from lucid.rdp_gate.client import RdpGateClient
from lucid.rdp_gate.tls import ensure_certificate
from lucid.rdp_gate.xrdp import XrdpSettings, XrdpStack, sesman_dial_port, start_xrdp
from lucid.runtime.supervisor import DaemonSet, start_private_bus
from tests.conftest import LucidEnv, wait_for
from tests.gatekeeper.conftest import admin_ui, approve, owner, set_policy
from tests.recorder.conftest import start_xvfb, stop_process

__all__ = ["admin_ui"]  # a fixture, re-exported for the tests here

DAEMONS = ("walletd", "gatekeeper", "recorder", "chunker", "encryptor", "merkle", "rdp_gate")
DESKTOP = "xlogo"  # what an approved session runs (x11-apps); tests look for this process
TIMEOUT = 90.0  # generous: two cores, several X servers, an encoder


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "rdp: end-to-end tests of the RDP host (xrdp, root)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _open_dir(prefix: str) -> Path:
    """A temporary directory every user can traverse (session users read files in it)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o755)
    return path


@pytest.fixture
async def bus_address() -> AsyncIterator[str]:
    """Like the shared one, but in a directory session users can reach (the start script
    calls rdp_gate on this bus as the session's user)."""
    directory = _open_dir("lucid-rdp-bus-")
    proc, address = await start_private_bus(directory / "bus", session_users=True)
    os.chmod(directory / "bus", 0o755)
    yield address
    proc.terminate()
    await proc.wait()
    shutil.rmtree(directory, ignore_errors=True)


# -- users --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RdpUser:
    name: str
    password: str

    @property
    def uid(self) -> int:
        return pwd.getpwnam(self.name).pw_uid


def user_pids(uid: int, name: str | None = None) -> list[int]:
    """Processes of ``uid`` (optionally only those whose command name is ``name``)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if entry.stat().st_uid != uid:
                continue
            stat = (entry / "stat").read_text()
            if stat[stat.rindex(")") + 2 :].split()[0] == "Z":
                continue
            if name is None or stat[stat.index("(") + 1 : stat.rindex(")")] == name:
                out.append(int(entry.name))
    return out


def _kill_user_processes(uid: int) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in user_pids(uid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        for _ in range(50):
            if not user_pids(uid):
                return
            time.sleep(0.1)


@pytest.fixture
def rdp_users() -> Iterator[list[RdpUser]]:
    """Two fresh local users with passwords; they and their processes go afterwards."""
    users = [RdpUser(f"lucidt{secrets.token_hex(3)}", secrets.token_urlsafe(12)) for _ in (1, 2)]
    for user in users:
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", user.name], check=True)
        subprocess.run(["chpasswd"], input=f"{user.name}:{user.password}\n", text=True, check=True)
    try:
        yield users
    finally:
        for user in users:
            with contextlib.suppress(KeyError):
                _kill_user_processes(user.uid)
            subprocess.run(["userdel", "-r", "-f", user.name], check=False, capture_output=True)


# -- the client ---------------------------------------------------------------------------


@dataclass
class RdpClient:
    """xfreerdp on its own Xvfb display."""

    display: str
    xvfb: subprocess.Popen[bytes]
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        stop_process(self.proc)
        stop_process(self.xvfb)


# -- the host -----------------------------------------------------------------------------


@dataclass
class RdpHost:
    lucid: LucidEnv
    daemons: DaemonSet
    stack: XrdpStack
    port: int
    bus: MessageBus
    gate: RdpGateClient
    gatekeeper: GatekeeperClient
    admin: GatekeeperClient
    key: SoftPasskey
    auditor: RecipientKey
    run_dir: Path
    clients: list[RdpClient] = field(default_factory=list)

    def connect(self, user: RdpUser, *extra: str) -> RdpClient:
        """Start xfreerdp for ``user`` (returns at once; the login proceeds on its own)."""
        display, xvfb = start_xvfb(1024, 768)
        log = self.run_dir / f"xfreerdp-{user.name}-{len(self.clients)}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [
                    "xfreerdp",
                    f"/v:127.0.0.1:{self.port}",
                    f"/u:{user.name}",
                    f"/p:{user.password}",
                    "/cert:ignore",
                    "/size:800x600",
                    "-clipboard",
                    *extra,
                ],
                env={**os.environ, "DISPLAY": display},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )
        client = RdpClient(display, xvfb, proc, log)
        self.clients.append(client)
        return client

    async def sessions(self) -> list[dict[str, str]]:
        return await self.gate.list_sessions()

    async def session_of(self, user: RdpUser, state: str = "waiting") -> dict[str, str]:
        """Wait until rdp_gate has a session of ``user`` in ``state``; return it."""
        found: dict[str, str] = {}

        async def seen() -> bool:
            for s in await self.sessions():
                if s["user"] == user.name and s["state"] == state:
                    found.update(s)
                    return True
            return False

        await self.until(seen, f"a {state} session of {user.name}")
        return found

    async def until(self, predicate: Callable[[], object], what: str) -> None:
        """`wait_for` with the server logs in the failure message."""
        try:
            await wait_for(predicate, TIMEOUT, what)
        except pytest.fail.Exception as err:
            raise pytest.fail.Exception(f"{err}\n{self.logs()}") from None

    async def state(self, session: str) -> dict[str, str]:
        return next(s for s in await self.sessions() if s["session"] == session)

    async def wait_state(self, session: str, state: str) -> dict[str, str]:
        async def reached() -> bool:
            return (await self.state(session))["state"] == state

        await self.until(reached, f"session {session} {state}")
        return await self.state(session)

    async def approve(self, session: str, **scope: Any) -> str:
        """Approve as "alice"; ``scope`` changes the requested scope (e.g. clipboard=True)."""
        granted = None
        if scope:
            request = json.loads(await self.gatekeeper.get_request(session))
            granted = request["request"]["requested_scope"] | scope
        return await approve(self.gatekeeper, session, "alice", self.key, scope=granted)

    async def sealed_audit(self, session: str, directory: Path) -> str:
        """The audit stream of ``session``'s sealed recording, decrypted (waits for the seal)."""
        merkle = MerkleClient(self.bus)

        async def sealed() -> bool:
            return any(
                s["session"] == session and s["state"] == "sealed"
                for s in await merkle.list_sessions()
            )

        await self.until(sealed, f"{session} sealed")
        bundle = directory / f"{session}.lucid"
        with bundle.open("wb") as fh:
            await merkle.export_bundle(session, fh.fileno())
        with open_bundle(bundle) as opened:
            return b"".join(decrypt_stream(opened, self.auditor, "audit.0")).decode()

    def desktop_pids(self, user: RdpUser) -> list[int]:
        return user_pids(user.uid, DESKTOP)

    def x_alive(self, info: dict[str, str]) -> bool:
        return Path(f"/proc/{info['x_pid']}").exists() and bool(
            user_pids(pwd.getpwnam(info["user"]).pw_uid, "Xvnc")
        )

    def window_names(self, user: RdpUser, display: str) -> list[str]:
        """Names of the windows on a session's display (read as root with the user's cookie)."""
        done = subprocess.run(
            ["xwininfo", "-root", "-children"],
            env={
                **os.environ,
                "DISPLAY": display,
                "XAUTHORITY": f"{pwd.getpwnam(user.name).pw_dir}/.Xauthority",
            },
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return [line.split('"')[1] for line in done.stdout.splitlines() if line.count('"') >= 2]

    def logs(self) -> str:
        """Server logs, for failure messages."""
        parts = []
        paths = [self.stack.sesman_log, self.daemons.log_path("rdp_gate")]
        paths += [c.log for c in self.clients]
        for path in paths:
            with contextlib.suppress(OSError):
                text = "\n".join(
                    line for line in path.read_text().splitlines() if "[DEBUG]" not in line
                )
                parts.append(f"--- {path}\n" + text[-3000:])
        return "\n".join(parts)


@pytest.fixture
async def rdp_host(
    lucid: LucidEnv, bus: MessageBus, bus_address: str, admin_ui: GatekeeperClient
) -> AsyncIterator[RdpHost]:
    for tool in ("xrdp", "xrdp-sesman", "Xvnc", "xfreerdp", "Xvfb", DESKTOP, "dbus-send"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: run `make setup`")
    if os.geteuid() != 0:
        pytest.fail("the RDP tests start sesman and make users: they need root")
    run_dir = _open_dir("lucid-rdp-run-")
    auditor = RecipientKey.generate()
    sesman_port, port = _free_port(), _free_port()
    lucid.set("walletd", "recipients", auditor.public.hex())
    lucid.set("recorder", "require_grant", "true")
    lucid.set("gatekeeper", "tick_s", "0.2")
    lucid.set("rdp_gate", "scp_port", str(sesman_dial_port()))
    lucid.set("rdp_gate", "sesman_port", str(sesman_port))
    lucid.set("rdp_gate", "rdp_port", str(port))
    lucid.set("rdp_gate", "device_name", "lucid-test-device")
    lucid.set("rdp_gate", "poll_s", "0.2")
    lucid.set("rdp_gate", "outcome_show_s", "3")
    lucid.set("chunker", "flush_seconds", "1")
    daemons = await lucid.start(*DAEMONS)
    stack: XrdpStack | None = None
    host: RdpHost | None = None
    try:
        cert = ensure_certificate(lucid.state / "rdp_gate" / "tls")
        stack = await start_xrdp(
            run_dir,
            cert,
            XrdpSettings(
                port=port,
                sesman_port=sesman_port,
                bus_address=bus_address,
                desktop=f"{DESKTOP} -geometry 300x200+50+50",
                log_level="DEBUG",
            ),
        )
        gatekeeper = GatekeeperClient(bus)
        key = await owner(gatekeeper, lucid)
        host = RdpHost(
            lucid,
            daemons,
            stack,
            port,
            bus,
            RdpGateClient(bus),
            gatekeeper,
            admin_ui,
            key,
            auditor,
            run_dir,
        )
        yield host
    finally:
        if host is not None:
            for client in host.clients:
                client.stop()
        if stack is not None:
            await stack.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


async def policy(host: RdpHost, **changes: Any) -> dict[str, Any]:
    """Change gatekeeper's policy (as admin-ui would)."""
    return await set_policy(host.admin, **changes)


async def settle(seconds: float) -> None:
    await asyncio.sleep(seconds)
