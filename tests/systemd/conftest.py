"""Fixtures for the systemd/ tests: a scratch root with Lucid installed, a policy-checked bus."""

from __future__ import annotations

import dataclasses
import os
import select
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.systemd.helpers import (
    HOST_BINARIES,
    POLICY_DIR,
    SYSUSERS_CONF,
    UNIT_DIR,
    VENV_PYTHON,
    SysRoot,
    describe,
    run,
    tool,
)

HOST_UNITS = Path("/usr/lib/systemd/system")
HOST_BUS_CONFIG = Path("/usr/share/dbus-1/system.conf")
NOBODY = 65534
BUS_START_TIMEOUT = 10.0  # seconds


def install_sysusers(root: Path) -> subprocess.CompletedProcess[str]:
    """Apply systemd/sysusers.d/lucid.conf to ``root`` (notices and worse go to stderr)."""
    return run(
        [tool("systemd-sysusers"), f"--root={root}", str(SYSUSERS_CONF)],
        env={"SYSTEMD_LOG_LEVEL": "notice"},
    )


@pytest.fixture(scope="session")
def sysroot(tmp_path_factory: pytest.TempPathFactory) -> SysRoot:
    """A root directory as the Lucid image would have it, for the tools' --root=.

    - /etc/passwd and /etc/group: the host's (a Debian 12 base system), then
      systemd-sysusers with systemd/sysusers.d/lucid.conf;
    - /opt/lucid/venv/bin/python: a copy of the real interpreter (systemd-analyze verify
      checks that ExecStart's binary exists and is executable, inside the root), and so
      copies of xrdp, xrdp-sesman and nft;
    - /usr/lib/systemd/system: the host's units (dbus.service, the targets…) plus ours.
    """
    root = tmp_path_factory.mktemp("sysroot")
    (root / "etc").mkdir()
    for table in ("passwd", "group"):
        shutil.copy(Path("/etc") / table, root / "etc" / table)
    result = install_sysusers(root)
    assert result.returncode == 0 and not result.stderr, describe(result)

    python = root / VENV_PYTHON.lstrip("/")
    python.parent.mkdir(parents=True)
    shutil.copy2(os.path.realpath(sys.executable), python)
    for binary, package in HOST_BINARIES.items():  # what the RDP host's units run
        if not Path(binary).exists():
            pytest.fail(f"{binary} is not installed: apt-get install {package}")
        (root / binary.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(binary, root / binary.lstrip("/"))

    units = root / "usr/lib/systemd/system"
    shutil.copytree(HOST_UNITS, units, symlinks=True)
    for unit in UNIT_DIR.iterdir():
        shutil.copy(unit, units / unit.name)
    return SysRoot(root)


@dataclasses.dataclass(frozen=True)
class PolicyBus:
    """A dbus-daemon with the system bus's default policy and the Lucid policy files."""

    address: str
    stderr: Path
    """What dbus-daemon printed while loading its configuration (it prints the address after)."""


def bus_config(socket: Path, policy_dir: Path) -> str:
    """dbus-daemon configuration: the distribution's system bus policy, our files, a socket.

    The <policy> and <limit> elements come from the real /usr/share/dbus-1/system.conf, so
    the Lucid files punch their holes into the same default-deny as on the device; what
    starts processes or touches the host (user, fork, pidfile, listen, includes) is left out.
    """
    if not HOST_BUS_CONFIG.exists():
        pytest.fail(f"{HOST_BUS_CONFIG} is missing: apt-get install dbus-system-bus-common")
    system = ET.parse(HOST_BUS_CONFIG).getroot()
    kept = [el for el in system if el.tag in ("policy", "limit")]
    assert any(el.get("context") == "default" for el in kept), "no default policy in system.conf"
    body = "\n".join(ET.tostring(el, encoding="unicode") for el in kept)
    return f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <auth>EXTERNAL</auth>
  <listen>unix:path={socket}</listen>
{body}
  <includedir>{policy_dir}</includedir>
</busconfig>
"""


def start_policy_bus(sysroot: SysRoot, policy_src: Path, workdir: Path) -> subprocess.Popen[str]:
    """Start dbus-daemon on ``policy_src``'s *.conf (``read_address`` waits until it listens).

    It runs as nobody, like the real bus runs unprivileged (as root it would also try to
    raise its fd limit and complain where it may not), in a private mount namespace whose
    /etc/passwd and /etc/group are the scratch root's: the lucid-* users and groups the
    policies name exist there, as on the device, without touching the host's.
    """
    workdir.chmod(0o755)
    policy_dir = workdir / "system.d"
    policy_dir.mkdir()
    for conf in policy_src.glob("*.conf"):
        shutil.copy(conf, policy_dir / conf.name)
    sockdir = workdir / "socket"
    sockdir.mkdir()
    os.chown(sockdir, NOBODY, NOBODY)
    config = workdir / "bus.conf"
    config.write_text(bus_config(sockdir / "bus", policy_dir))
    stderr = (workdir / "stderr").open("w")
    in_namespace = (
        'm=$1; "$m" --bind "$2" /etc/passwd; "$m" --bind "$3" /etc/group; shift 3; exec "$@"'
    )
    argv = [
        tool("unshare"), "--mount", "--propagation", "private", "--",
        "sh", "-ec", in_namespace, "sh",
        tool("mount"), str(sysroot.path / "etc/passwd"), str(sysroot.path / "etc/group"),
        tool("setpriv"), f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--",
        tool("dbus-daemon"), f"--config-file={config}", "--nofork", "--print-address",
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True)
    stderr.close()
    return proc


def read_address(proc: subprocess.Popen[str], stderr: Path) -> str | None:
    """The address dbus-daemon prints once it listens; None if it exited instead."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], BUS_START_TIMEOUT)
    if not ready:
        proc.kill()
        proc.wait()
        pytest.fail(
            f"dbus-daemon printed no address in {BUS_START_TIMEOUT} s: {stderr.read_text()}"
        )
    line = proc.stdout.readline().strip()
    if not line:  # end of file: it exited
        proc.wait(timeout=BUS_START_TIMEOUT)
        return None
    return line


@pytest.fixture(scope="session")
def policy_bus(sysroot: SysRoot) -> Iterator[PolicyBus]:
    # Not under tmp_path: pytest's base directory is root-only, and nobody runs the bus.
    workdir = Path(tempfile.mkdtemp(prefix="lucid-bus-"))
    try:
        proc = start_policy_bus(sysroot, POLICY_DIR, workdir)
        address = read_address(proc, workdir / "stderr")
        if address is None:
            pytest.fail(f"dbus-daemon refused the policies:\n{(workdir / 'stderr').read_text()}")
        try:
            yield PolicyBus(address, workdir / "stderr")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    finally:
        shutil.rmtree(workdir)
