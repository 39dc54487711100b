"""``lucid up`` / ``lucid down``: the daemon set on a private bus with embedded defaults.

State layout under ``--state DIR``: ``lucid.toml`` (written once, then yours to edit),
``state/`` (daemon databases, keys, ciphertext store), ``run/`` (bus socket and address,
pid, logs). The plaintext spool lives in RAM (``/dev/shm``). On the device systemd units do
this job instead (see systemd/).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
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
from lucid.cli.connect import address_file
from lucid.cli.desktop import Desktop, start_desktop
from lucid.cli.desktop_source import run_desktop_source
from lucid.runtime.bus import connect
from lucid.runtime.config import Config, PathsConfig, dump_config, load_config
from lucid.runtime.contracts import (
    ADMIN_UI,
    CHAIN_CLIENT,
    CHUNKER,
    ENCRYPTOR,
    GATEKEEPER,
    MERKLE,
    RECORDER,
    WALLETD,
)
from lucid.runtime.errors import LucidError
from lucid.runtime.supervisor import DaemonSet, start_private_bus, stop_process

#: What `lucid up` runs, in start order (gatekeeper before the recorder that asks it).
#: chain-client's embedded default ledger is "local": it starts its own anvil (docs/anchoring.md).
APPLIANCE = (WALLETD, GATEKEEPER, RECORDER, CHUNKER, ENCRYPTOR, MERKLE, CHAIN_CLIENT, ADMIN_UI)


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


@dataclass
class Running:
    state: Path
    config: Config
    address: str
    bus: MessageBus
    daemons: DaemonSet


@asynccontextmanager
async def running_appliance(state: Path) -> AsyncIterator[Running]:
    """Start bus and daemons for ``state``; stop everything on exit."""
    state = state.resolve()
    cfg_path = prepare_state(state)
    run = state / "run"
    bus_proc, address = await start_private_bus(run)
    daemons = DaemonSet(
        [c.daemon for c in APPLIANCE], run, {"LUCID_BUS": address, "LUCID_CONFIG": str(cfg_path)}
    )
    bus: MessageBus | None = None
    try:
        await daemons.start_all()
        bus = await connect(address)
        address_file(state).write_text(address + "\n")
        yield Running(state, load_config(cfg_path, environ={}), address, bus, daemons)
    finally:
        address_file(state).unlink(missing_ok=True)
        if bus is not None:
            bus.disconnect()
        await daemons.close()
        await stop_process(bus_proc)


async def _serve(state: Path, desktop_wanted: bool) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    desktop: Desktop | None = None
    async with running_appliance(state) as app:
        (app.state / "run" / "up.pid").write_text(f"{os.getpid()}\n")
        try:
            url = (await AdminUiClient(app.bus).get_status())["url"]
            _greet(app, state, url)
            (app.state / "run" / "ready").write_text("ready\n")
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
            (app.state / "run" / "ready").unlink(missing_ok=True)
            (app.state / "run" / "up.pid").unlink(missing_ok=True)
            if desktop is not None:
                desktop.stop()
    print("lucid: down")
    return 0


def _greet(app: Running, state: Path, url: str) -> None:
    print(f"lucid: appliance up, state {app.state}")
    print(f"lucid: web page {url}")
    code = app.config.paths.state_dir / "gatekeeper" / "setup-code"
    if code.exists():
        print(f"lucid: claim the device there with the setup code: {code.read_text().strip()}")
        print(f"lucid: (it is also in {code})")
    print(f"lucid: bus {app.address}  (other commands: --state {state})")
    (app.state / "run" / "url").write_text(url + "\n")


def up(state: Path, detach: bool = False, desktop: bool = False) -> int:
    state = state.resolve()
    pid_file = state / "run" / "up.pid"
    if pid_file.exists() and _alive(int(pid_file.read_text())):
        raise LucidError(f"an appliance is already running with state {state}")
    if not detach:
        return asyncio.run(_serve(state, desktop))
    (state / "run").mkdir(parents=True, exist_ok=True)
    (state / "run" / "ready").unlink(missing_ok=True)
    argv = [sys.executable, "-m", "lucid.cli", "up", "--state", str(state)]
    if desktop:
        argv.append("--desktop")
    with open(state / "run" / "up.log", "ab") as log:
        proc = subprocess.Popen(
            argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + 120
    while not (state / "run" / "ready").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise LucidError(f"the appliance did not start; see {state / 'run' / 'up.log'}")
        time.sleep(0.1)
    print(f"lucid: appliance up in the background (pid {proc.pid}), state {state}")
    return 0


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
