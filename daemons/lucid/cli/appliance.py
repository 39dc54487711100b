"""``lucid up`` / ``lucid down``: the daemon set on a private bus with embedded defaults.

State layout under ``--state DIR``: ``lucid.toml`` (written once, then yours to edit),
``state/`` (daemon databases, keys, ciphertext store), ``run/`` (bus socket and address,
pid, logs). The plaintext spool lives in RAM (``/dev/shm``). On the device systemd units do
this job instead (see systemd/).

With ``--rdp-port`` it also runs the RDP host: rdp_gate (its login proxy on the port xrdp
dials for sesman) and xrdp + sesman from the project's ``rdp/`` files on 127.0.0.1, with
``run/`` open to session users (their start script calls rdp_gate on this bus). That needs
root, like xrdp's sesman itself. Any local user with a password (uid >= 1000) can connect;
the session waits for approval (docs/rdp.md).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from dbus_fast.aio import MessageBus

from lucid.admin_ui.client import AdminUiClient
from lucid.cli.connect import address_file, connect_cli
from lucid.cli.desktop import Desktop, start_desktop
from lucid.cli.desktop_source import run_desktop_source
from lucid.rdp_gate.tls import ensure_certificate
from lucid.rdp_gate.xrdp import XrdpSettings, XrdpStack, sesman_dial_port, start_xrdp
from lucid.runtime.bus import connect
from lucid.runtime.config import Config, PathsConfig, dump_config, load_config
from lucid.runtime.contracts import (
    ADMIN_UI,
    CHAIN_CLIENT,
    CHUNKER,
    ENCRYPTOR,
    GATEKEEPER,
    MERKLE,
    RDP_GATE,
    RECORDER,
    WALLETD,
)
from lucid.runtime.errors import LucidError
from lucid.runtime.log import open_log
from lucid.runtime.supervisor import DaemonSet, start_private_bus, stop_process

#: What `lucid up` runs, in start order (gatekeeper before the recorder that asks it).
#: chain-client's embedded default ledger is "local": it starts its own anvil (docs/anchoring.md).
APPLIANCE = (WALLETD, GATEKEEPER, RECORDER, CHUNKER, ENCRYPTOR, MERKLE, CHAIN_CLIENT, ADMIN_UI)


#: What an approved RDP session runs under `lucid up`, first one installed (a terminal as the
#: user; `make setup` installs xterm). The device image runs /etc/X11/Xsession instead.
RDP_DESKTOPS = ("xterm", "xlogo")


def _spool_for(state: Path) -> Path:
    tag = hashlib.sha256(str(state.resolve()).encode()).hexdigest()[:12]
    return Path("/dev/shm") / f"lucid-{tag}" / "spool"


def prepare_state(state: Path, overrides: dict[str, dict[str, object]] | None = None) -> Path:
    """Create ``state`` and its ``lucid.toml`` (embedded defaults) if missing; return the file."""
    state = state.resolve()
    state.mkdir(parents=True, exist_ok=True)
    cfg_path = state / "lucid.toml"
    if not cfg_path.exists() or overrides:
        base = load_config(cfg_path) if cfg_path.exists() else Config()
        cfg = dataclasses.replace(
            base, paths=PathsConfig(state_dir=state / "state", spool_dir=_spool_for(state))
        )
        if not cfg_path.exists():  # first run: a web port, and passkeys bound to its origin
            port = _web_port(cfg.admin_ui.port)
            cfg = dataclasses.replace(
                cfg,
                admin_ui=dataclasses.replace(cfg.admin_ui, port=port),
                gatekeeper=dataclasses.replace(
                    cfg.gatekeeper, origins=(f"http://localhost:{port}",)
                ),
            )
        for section, values in (overrides or {}).items():
            cfg = dataclasses.replace(
                cfg, **{section: dataclasses.replace(getattr(cfg, section), **values)}
            )
        cfg_path.write_text(dump_config(cfg))
    return cfg_path


def _web_port(preferred: int) -> int:
    """``preferred`` if it is free on 127.0.0.1, else a free port the kernel picks."""
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise LucidError("no free TCP port on 127.0.0.1 for the web page")


def _free_port(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _rdp_overrides(rdp_port: int) -> dict[str, dict[str, object]]:
    """Check that the RDP host can run here; the rdp_gate config for it."""
    if os.geteuid() != 0:
        raise LucidError("the RDP host needs root (xrdp's sesman starts sessions as their users)")
    for tool in ("xrdp", "xrdp-sesman", "Xvnc"):
        if shutil.which(tool) is None:
            raise LucidError(f"{tool} is not installed: run `make setup`")
    dial = sesman_dial_port()
    sesman = dial + 1
    for port, what in ((rdp_port, "the RDP port"), (dial, "sesman's port"), (sesman, "sesman")):
        if not _free_port(port):
            raise LucidError(
                f"port {port} ({what}) is in use on 127.0.0.1: stop what holds it "
                "(a system xrdp? `systemctl stop xrdp xrdp-sesman`) or pick another --rdp-port"
            )
    return {"rdp_gate": {"rdp_port": rdp_port, "scp_port": dial, "sesman_port": sesman}}


@dataclass
class Running:
    state: Path
    config: Config
    address: str
    bus: MessageBus
    daemons: DaemonSet
    rdp: XrdpStack | None = None


@asynccontextmanager
async def running_appliance(state: Path, rdp_port: int = 0) -> AsyncIterator[Running]:
    """Start bus and daemons for ``state`` (and the RDP host if ``rdp_port``); stop all on exit."""
    state = state.resolve()
    cfg_path = prepare_state(state, _rdp_overrides(rdp_port) if rdp_port else None)
    run = state / "run"
    names = [c.daemon for c in APPLIANCE]
    if rdp_port:
        _check_reachable(state)
        names.insert(names.index(ADMIN_UI.daemon), RDP_GATE.daemon)
        run.mkdir(parents=True, exist_ok=True)
        os.chmod(run, 0o755)  # session users reach the bus socket and the xrdp config in here
    else:
        run.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(run, 0o700)  # only the appliance's user reaches its bus
    bus_proc, address = await start_private_bus(run, session_users=bool(rdp_port))
    daemons = DaemonSet(names, run, {"LUCID_BUS": address, "LUCID_CONFIG": str(cfg_path)})
    bus: MessageBus | None = None
    rdp: XrdpStack | None = None
    try:
        await daemons.start_all()
        config = load_config(cfg_path, environ={})
        if rdp_port:
            rdp = await _start_rdp(config, run, address)
        bus = await connect(address)
        address_file(state).write_text(address + "\n")
        yield Running(state, config, address, bus, daemons, rdp)
    finally:
        address_file(state).unlink(missing_ok=True)
        if bus is not None:
            bus.disconnect()
        if rdp is not None:
            await rdp.stop()
        await daemons.close()
        await stop_process(bus_proc)


def _check_reachable(state: Path) -> None:
    """xrdp's user and the session users must traverse every directory down to ``state``."""
    for directory in (state, *state.parents):
        if directory.exists() and not directory.stat().st_mode & 0o001:
            raise LucidError(
                f"the RDP host needs {directory} searchable by every user (xrdp and session "
                f"users read {state / 'run'}): chmod o+x {directory}, or use another --state"
            )


async def _start_rdp(config: Config, run: Path, address: str) -> XrdpStack:
    desktop = next((d for d in RDP_DESKTOPS if shutil.which(d)), RDP_DESKTOPS[-1])
    cert = ensure_certificate(config.paths.daemon_state("rdp_gate") / "tls")
    return await start_xrdp(
        run / "xrdp",
        cert,
        XrdpSettings(
            port=config.rdp_gate.rdp_port,
            sesman_port=config.rdp_gate.sesman_port,
            bus_address=address,
            desktop=desktop,
        ),
    )


async def _serve(state: Path, desktop_wanted: bool, rdp_port: int) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    desktop: Desktop | None = None
    health: asyncio.Future[None] | None = None
    async with running_appliance(state, rdp_port) as app:
        (app.state / "run" / "up.pid").write_text(f"{os.getpid()}\n")
        try:
            url = (await AdminUiClient(app.bus).get_status())["url"]
            _greet(app, state, url)
            (app.state / "run" / "ready").write_text("ready\n")
            health = asyncio.ensure_future(_say_health(app))
            if desktop_wanted:
                desktop = start_desktop()
                print(
                    f"lucid: demo desktop {desktop.display} (type into it: DISPLAY="
                    f"{desktop.display} xdotool type hello — key counts reach the audit stream)"
                )
                await run_desktop_source(
                    app.bus, desktop.display, url, stop, lambda text: print(f"lucid: {text}")
                )
            await stop.wait()
        finally:
            if health is not None:
                health.cancel()
            (app.state / "run" / "ready").unlink(missing_ok=True)
            (app.state / "run" / "up.pid").unlink(missing_ok=True)
            if desktop is not None:
                desktop.stop()
    print("lucid: down")
    return 0


async def _say_health(app: Running) -> None:
    """Once chain-client has settled: a line per degraded daemon (or that all run)."""
    from lucid.cli.status import report_degraded, settled_health

    try:
        found = await settled_health(app.bus, rdp=app.rdp is not None)
    except LucidError as err:  # the bus went away: the appliance is stopping
        print(f"lucid: daemon states unknown: {err}", flush=True)
        return
    report_degraded(found, lambda text: print(f"lucid: {text}", flush=True))


def _greet(app: Running, state: Path, url: str) -> None:
    print(f"lucid: appliance up, state {app.state}")
    print(f"lucid: web page {url}")
    _print_setup_code(app.config.paths.state_dir)
    if app.rdp is not None:
        cert = ensure_certificate(app.config.paths.daemon_state("rdp_gate") / "tls")
        print(
            f"lucid: RDP host 127.0.0.1:{app.config.rdp_gate.rdp_port}: connect with any RDP "
            "client as a local user with a password (uid >= 1000); the session waits for approval"
        )
        print(f"lucid: RDP certificate SHA-256 {cert.fingerprint}")
    print(f"lucid: bus {app.address}  (other commands: --state {state})")
    (app.state / "run" / "url").write_text(url + "\n")


def _print_setup_code(state_dir: Path) -> None:
    """Say where the setup code is; show the code itself only on a terminal (stdout may be
    a log file, e.g. ``up.log`` under ``--detach``, which more users may read)."""
    code = state_dir / "gatekeeper" / "setup-code"
    if not code.exists():
        return
    if sys.stdout.isatty():
        print(f"lucid: claim the device there with the setup code: {code.read_text().strip()}")
        print(f"lucid: (it is also in {code})")
    else:
        print(f"lucid: claim the device there with the setup code in {code}")


def up(state: Path, detach: bool = False, desktop: bool = False, rdp_port: int = 0) -> int:
    state = state.resolve()
    pid_file = state / "run" / "up.pid"
    if pid_file.exists() and _alive(int(pid_file.read_text())):
        raise LucidError(f"an appliance is already running with state {state}")
    if not detach:
        return asyncio.run(_serve(state, desktop, rdp_port))
    (state / "run").mkdir(parents=True, exist_ok=True)
    (state / "run" / "ready").unlink(missing_ok=True)
    argv = [sys.executable, "-m", "lucid.cli", "up", "--state", str(state)]
    if desktop:
        argv.append("--desktop")
    if rdp_port:
        argv += ["--rdp-port", str(rdp_port)]
    with open_log(state / "run" / "up.log") as log:
        proc = subprocess.Popen(
            argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + 120
    while not (state / "run" / "ready").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise LucidError(f"the appliance did not start; see {state / 'run' / 'up.log'}")
        time.sleep(0.1)
    print(f"lucid: appliance up in the background (pid {proc.pid}), state {state}")
    _print_setup_code(state / "state")
    asyncio.run(_say_health_of(state, rdp=bool(rdp_port)))
    return 0


async def _say_health_of(state: Path, rdp: bool) -> None:
    """`_say_health` for ``up --detach``: asked from here, over the appliance's bus."""
    from lucid.cli.status import report_degraded, settled_health

    bus = await connect_cli(state)
    try:
        found = await settled_health(bus, rdp)
    finally:
        bus.disconnect()
    report_degraded(found, lambda text: print(f"lucid: {text}"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def down(state: Path) -> int:
    pid_file = state.resolve() / "run" / "up.pid"
    try:
        pid = int(pid_file.read_text())
    except FileNotFoundError:
        raise LucidError(f"no appliance is running with state {state}") from None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 120
    while _alive(pid):
        if time.monotonic() > deadline:
            raise LucidError(f"appliance (pid {pid}) did not stop within 120 s")
        time.sleep(0.1)
    print("lucid: down")
    return 0
