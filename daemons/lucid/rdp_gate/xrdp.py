"""Start xrdp and xrdp-sesman from the project's configuration (rdp/), off the device.

`start_xrdp` renders ``rdp/xrdp.ini``, ``rdp/sesman.ini`` and ``rdp/startwm.sh`` into a run
directory, prepares ``/run/xrdp`` as Debian's ``socksetup`` does, and starts both in the
foreground (``-n``): sesman as root (it starts sessions as their users), xrdp as the
``xrdp`` user when it exists. The tests and ``lucid up`` use it; on the device systemd runs
the same two commands on the rendered files.

Fixed paths of xrdp 0.9 this has to live with (docs/rdp.md): xrdp dials sesman on the port
in ``/etc/xrdp/sesman.ini`` (`sesman_dial_port`) — rdp_gate's login proxy listens there and
this sesman listens on ``sesman_port`` behind it — and ``/run/xrdp/sockdir`` is shared by
every session. Only one such stack can run on a machine at a time.

This module starts no rdp_gate: the stack is useless (every login fails) until rdp_gate's
proxy listens on the dial port.
"""

from __future__ import annotations

import asyncio
import configparser
import contextlib
import grp
import logging
import os
import pwd
import signal
import string
from dataclasses import dataclass, field
from pathlib import Path

from lucid.rdp_gate.tls import DeviceCertificate
from lucid.runtime.errors import LucidError
from lucid.runtime.supervisor import detach_child

log = logging.getLogger(__name__)

CONFIG_ENV = "LUCID_RDP_CONFIG"  # where rdp/ is, when not next to the sources
INSTALLED_CONFIG = Path("/usr/share/lucid/rdp")
XRDP_ETC_SESMAN = Path("/etc/xrdp/sesman.ini")
RUN_XRDP = Path("/run/xrdp")
START_TIMEOUT_S = 15.0


class XrdpError(LucidError):
    """xrdp or sesman could not be started."""


def config_source() -> Path:
    """The directory with the project's xrdp files (``rdp/`` of the source tree)."""
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    tree = Path(__file__).resolve().parents[3] / "rdp"
    return tree if tree.is_dir() else INSTALLED_CONFIG


def sesman_dial_port(path: Path = XRDP_ETC_SESMAN) -> int:
    """The port xrdp 0.9 dials for sesman: ``ListenPort`` of ``/etc/xrdp/sesman.ini``."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    with contextlib.suppress(OSError, configparser.Error):
        parser.read(path)
        return parser.getint("Globals", "ListenPort", fallback=3350)
    return 3350


@dataclass(frozen=True)
class XrdpSettings:
    """What varies between the device, ``lucid up`` and a test.

    ``desktop`` is what the start script runs once a session is approved (a command line);
    ``bus_address`` the D-Bus the start script calls rdp_gate on ("" = the system bus).
    """

    port: int  # xrdp's RDP port
    address: str = "127.0.0.1"
    sesman_port: int = 3351
    bus_address: str = ""
    desktop: str = "/etc/X11/Xsession"
    log_level: str = "INFO"
    syslog: bool = False
    xrdp_user: str = "xrdp"  # run xrdp as this user if it exists and we are root


@dataclass
class XrdpStack:
    """A running xrdp + sesman pair; `stop` ends both (and every session under sesman)."""

    config_dir: Path
    log_dir: Path
    settings: XrdpSettings
    processes: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)

    @property
    def xrdp_log(self) -> Path:
        return self.log_dir / "xrdp.log"

    @property
    def sesman_log(self) -> Path:
        return self.log_dir / "sesman.log"

    async def stop(self, timeout_s: float = 10.0) -> None:
        for name in ("xrdp", "sesman"):
            proc = self.processes.pop(name, None)
            if proc is None or proc.returncode is not None:
                continue
            # each runs in its own process group (detach_child): its forks go with it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout_s)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()


def render(
    source: Path, config_dir: Path, log_dir: Path, cert: DeviceCertificate, settings: XrdpSettings
) -> None:
    """Write ``xrdp.ini``, ``sesman.ini``, ``startwm.sh`` and ``session.env`` into ``config_dir``.

    The directory must be readable by session users (the start script runs as them).
    """
    values = {
        "address": settings.address,
        "port": str(settings.port),
        "certificate": str(cert.cert),
        "key_file": str(cert.key),
        "log_dir": str(log_dir),
        "log_level": settings.log_level,
        "syslog": "true" if settings.syslog else "false",
        "sesman_port": str(settings.sesman_port),
        "config_dir": str(config_dir),
    }
    config_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
    os.chmod(config_dir, 0o755)
    for name in ("xrdp.ini", "sesman.ini"):
        text = string.Template((source / name).read_text()).substitute(values)
        (config_dir / name).write_text(text)
        os.chmod(config_dir / name, 0o644)
    script = config_dir / "startwm.sh"
    script.write_bytes((source / "startwm.sh").read_bytes())
    os.chmod(script, 0o755)
    env = config_dir / "session.env"
    env.write_text(
        "# Read by startwm.sh (shell syntax); written by lucid.rdp_gate.xrdp.\n"
        f"LUCID_BUS={_shell_quote(settings.bus_address)}\n"
        f"LUCID_DESKTOP={_shell_quote(settings.desktop)}\n"
    )
    os.chmod(env, 0o644)


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def _copy_certificate(
    cert: DeviceCertificate, directory: Path, gid: int | None
) -> DeviceCertificate:
    directory.mkdir(mode=0o750, parents=True, exist_ok=True)
    copy = DeviceCertificate(directory / "cert.pem", directory / "key.pem")
    fd = os.open(copy.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "wb") as fh:
        fh.write(cert.key.read_bytes())
    copy.cert.write_bytes(cert.cert.read_bytes())
    os.chmod(copy.cert, 0o644)
    if gid is not None:
        for path in (directory, copy.key):
            os.chown(path, -1, gid)
    return copy


def _prepare_run_dirs(xrdp_gid: int | None) -> None:
    # Debian's /usr/share/xrdp/socksetup, which its units run before xrdp starts.
    RUN_XRDP.mkdir(parents=True, exist_ok=True)
    sockdir = RUN_XRDP / "sockdir"
    sockdir.mkdir(exist_ok=True)
    if os.geteuid() == 0 and xrdp_gid is not None:
        os.chown(RUN_XRDP, 0, xrdp_gid)
        os.chown(sockdir, 0, xrdp_gid)
    os.chmod(RUN_XRDP, 0o2775)
    os.chmod(sockdir, 0o3777)


async def _listening(hosts: tuple[str, ...], port: int) -> bool:
    for host in hosts:
        try:
            _reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True
    return False


async def _start(
    name: str,
    argv: list[str],
    log_file: Path,
    ready: tuple[tuple[str, ...], int],
    user: str | None = None,
) -> asyncio.subprocess.Process:
    with open(log_file, "ab") as out:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                preexec_fn=detach_child,
                user=user,
                group=user,
                extra_groups=[] if user else None,
            )
        except FileNotFoundError as err:
            raise XrdpError(f"{argv[0]} is not installed (apt-get install xrdp)") from err
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT_S
    while not await _listening(*ready):
        if proc.returncode is not None or loop.time() > deadline:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise XrdpError(f"{name} did not start listening on port {ready[1]}; see {log_file}")
        await asyncio.sleep(0.1)
    return proc


async def start_xrdp(
    run_dir: Path, cert: DeviceCertificate, settings: XrdpSettings, source: Path | None = None
) -> XrdpStack:
    """Render the configuration into ``run_dir`` and start sesman, then xrdp.

    Args:
        run_dir: gets ``config/`` (must be readable by session users: make ``run_dir``
            traversable) and ``logs/`` (xrdp.log, sesman.log, the processes' output).
        cert: the device certificate (`lucid.rdp_gate.tls.ensure_certificate`).
        settings: ports, bus, desktop command.
        source: the project's xrdp files (default `config_source`).
    Raises:
        XrdpError: a binary is missing or did not start listening.
    Returns:
        The running stack; the caller owns it and must `XrdpStack.stop` it.
    """
    if settings.sesman_port == sesman_dial_port():
        raise XrdpError(
            f"sesman_port {settings.sesman_port} is the port xrdp dials "
            f"({XRDP_ETC_SESMAN}): rdp_gate's proxy must sit there, sesman elsewhere"
        )
    xrdp_user: str | None = None
    xrdp_gid: int | None = None
    with contextlib.suppress(KeyError):
        if os.geteuid() == 0 and settings.xrdp_user:
            xrdp_gid = grp.getgrnam(settings.xrdp_user).gr_gid
            pwd.getpwnam(settings.xrdp_user)
            xrdp_user = settings.xrdp_user
    config_dir, log_dir = run_dir / "config", run_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    # xrdp reads the pair as its own user; the state directory is not open to it
    served = _copy_certificate(cert, run_dir / "tls", xrdp_gid)
    render(source or config_source(), config_dir, log_dir, served, settings)
    if xrdp_gid is not None:
        os.chown(log_dir, -1, xrdp_gid)
        os.chmod(log_dir, 0o2775)
    _prepare_run_dirs(xrdp_gid)
    stack = XrdpStack(config_dir, log_dir, settings)
    try:
        stack.processes["sesman"] = await _start(
            "xrdp-sesman",
            ["xrdp-sesman", "-n", "-c", str(config_dir / "sesman.ini")],
            log_dir / "sesman.out",
            (("::1", "127.0.0.1"), settings.sesman_port),
        )
        stack.processes["xrdp"] = await _start(
            "xrdp",
            ["xrdp", "-n", "-c", str(config_dir / "xrdp.ini")],
            log_dir / "xrdp.out",
            ((settings.address,), settings.port),
            user=xrdp_user,
        )
    except BaseException:
        await stack.stop()
        raise
    log.info(
        "xrdp listens on %s:%d (sesman on %d)",
        settings.address,
        settings.port,
        settings.sesman_port,
    )
    return stack
