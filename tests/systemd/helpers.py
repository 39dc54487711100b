"""What the tests of ``systemd/`` know about the Lucid daemons, and how they run the tools.

Fixtures live in ``conftest.py``. Every check runs the real tool (systemd-analyze,
systemd-sysusers, systemd-tmpfiles, dbus-daemon): a missing tool fails the test with the
Debian package that provides it, it never skips.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SYSTEMD_DIR = REPO / "systemd"
UNIT_DIR = SYSTEMD_DIR / "system"
POLICY_DIR = SYSTEMD_DIR / "dbus-1" / "system.d"
SYSUSERS_CONF = SYSTEMD_DIR / "sysusers.d" / "lucid.conf"
TMPFILES_CONF = SYSTEMD_DIR / "tmpfiles.d" / "lucid.conf"

# Where the device's image puts the venv that runs every daemon.
VENV_PYTHON = "/opt/lucid/venv/bin/python"
TARGET = "lucid.target"
SPOOL = "/run/lucid/spool"
STORE = "/var/lib/lucid/store"
# systemd-analyze security --threshold counts in tenths of the printed exposure (0.0-10.0).
MAX_EXPOSURE = 2.0


@dataclasses.dataclass(frozen=True)
class Daemon:
    """One Lucid daemon as its unit, bus policy and system user must describe it."""

    name: str
    """Python module ``lucid.<name>`` and directories ``lucid/<name>``; the user and unit are
    ``lucid-<name>`` with ``_`` as ``-`` (``admin_ui`` -> ``lucid-admin-ui``)."""
    bus_name: str
    """Well-known D-Bus name, also its interface; the object path is derived from it."""
    groups: tuple[str, ...] = ("lucid",)
    """Supplementary groups (unit and sysusers.d agree), in the order the unit lists them."""
    read_write: tuple[str, ...] = ()
    """ReadWritePaths= beyond its own state and runtime directories."""
    unit_extras: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    """[Service] settings this daemon has beyond the common template (key -> values). A key
    of the template's sandbox replaces its value; test_units.py allows that only for the
    network settings (see ``LAN_WEB_PAGE``), capabilities (``X_SESSIONS``), read-only homes
    and a narrower system call filter."""
    public_methods: tuple[str, ...] = ()
    """Methods of its own interface any local user may call (the bus policy's default
    context); everything else stays with group lucid."""
    max_exposure: float = MAX_EXPOSURE
    """Highest ``systemd-analyze security`` exposure its unit may have (see MAX_EXPOSURE)."""

    @property
    def unit(self) -> str:
        return f"{self.user}.service"

    @property
    def user(self) -> str:
        return "lucid-" + self.name.replace("_", "-")

    @property
    def object_path(self) -> str:
        return "/" + self.bus_name.replace(".", "/")

    @property
    def umask(self) -> str:
        # The spool's next stage must read and remove what this one wrote.
        return "0007" if "lucid-spool" in self.groups else "0077"


# A web page for the LAN: the host's network namespace, TCP over IPv4 and IPv6 besides D-Bus,
# and an IP firewall that passes loopback, link-local and private (RFC 1918, IPv6 ULA)
# addresses only; IPAddressDeny=any stays from the template.
LAN_WEB_PAGE: Mapping[str, tuple[str, ...]] = {
    "PrivateNetwork": ("no",),
    "RestrictAddressFamilies": ("AF_UNIX AF_INET AF_INET6",),
    "IPAddressAllow": ("localhost link-local 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7",),
}

# Other users' xrdp sessions, as rdp_gate handles them (docs/rdp.md): it finds the caller's X
# server in /proc (CAP_SYS_PTRACE: /proc/<pid>/cwd of another user's process), reads the
# session's X cookie in the user's home (CAP_DAC_READ_SEARCH, ProtectHome=read-only), draws
# on the display through the host's X sockets and ends the X server (CAP_KILL); it listens
# for xrdp and dials sesman on loopback only. The capabilities are ambient and the bounding
# set is the same; the filter also drops what CAP_SYS_PTRACE would read memory with, and
# InaccessiblePaths= keeps what CAP_DAC_READ_SEARCH must not read out of its namespace.
X_SESSION_CAPS = "CAP_DAC_READ_SEARCH CAP_KILL CAP_SYS_PTRACE"
RDP_GATE_HIDDEN_SECRETS = (
    "-/etc/shadow", "-/etc/shadow-", "-/etc/gshadow", "-/etc/gshadow-", "-/etc/ssh", "-/root",
)  # fmt: skip
X_SESSIONS: Mapping[str, tuple[str, ...]] = {
    "CapabilityBoundingSet": (X_SESSION_CAPS,),
    "AmbientCapabilities": (X_SESSION_CAPS,),
    "SystemCallFilter": (
        "@system-service",
        "~@privileged @resources",
        "~process_vm_readv process_vm_writev",
    ),
    "InaccessiblePaths": (
        "-/var/lib/lucid/walletd -/var/lib/lucid/recorder -/var/lib/lucid/chunker",
        "-/var/lib/lucid/encryptor -/var/lib/lucid/merkle -/var/lib/lucid/gatekeeper",
        "-/var/lib/lucid/admin_ui -/var/lib/lucid/tron_node -/var/lib/lucid/chain_client",
        f"-{SPOOL}",
        " ".join(RDP_GATE_HIDDEN_SECRETS),
    ),
    "ProtectHome": ("read-only",),
    "BindReadOnlyPaths": ("/tmp/.X11-unix",),
    "PrivateNetwork": ("no",),
    "RestrictAddressFamilies": ("AF_UNIX AF_INET AF_INET6",),
    "IPAddressAllow": ("localhost",),
}

DAEMONS: tuple[Daemon, ...] = (
    Daemon("walletd", "io.lucid.Walletd1"),
    Daemon(
        "recorder",
        "io.lucid.Recorder1",
        groups=("lucid", "lucid-spool", "video"),
        read_write=(SPOOL,),
        unit_extras={
            "BindReadOnlyPaths": ("/tmp/.X11-unix",),
            "BindPaths": ("-/dev/video11",),
            "DeviceAllow": ("char-video4linux rw",),
        },
    ),
    Daemon("chunker", "io.lucid.Chunker1", groups=("lucid", "lucid-spool"), read_write=(SPOOL,)),
    Daemon(
        "encryptor",
        "io.lucid.Encryptor1",
        groups=("lucid", "lucid-spool"),
        read_write=(SPOOL, STORE),
    ),
    Daemon("merkle", "io.lucid.Merkle1", groups=("lucid", "lucid-store")),
    # Writes its decision audit stream into the spool, as a producer session like the recorder.
    Daemon(
        "gatekeeper",
        "io.lucid.Gatekeeper1",
        groups=("lucid", "lucid-spool"),
        read_write=(SPOOL,),
    ),
    Daemon("admin_ui", "io.lucid.AdminUi1", unit_extras=LAN_WEB_PAGE),
    # A client of a TRON HTTP API on the device or the LAN (the same allow-list; no listener).
    Daemon("tron_node", "io.lucid.TronNode1", unit_extras=LAN_WEB_PAGE),
    # A client of an EVM JSON-RPC endpoint on the device or the LAN (the same allow-list).
    Daemon("chain_client", "io.lucid.ChainClient1", unit_extras=LAN_WEB_PAGE),
    # The RDP login gate: session users' start script calls Wait and End (it acts only on the
    # caller's own session); capabilities and loopback network of X_SESSIONS (exposure 1.8).
    Daemon("rdp_gate", "io.lucid.RdpGate1", unit_extras=X_SESSIONS, public_methods=("Wait", "End")),
)


@dataclasses.dataclass(frozen=True)
class HostUnit:
    """A unit of the RDP host that runs no Lucid daemon (xrdp, sesman, the port guard)."""

    unit: str
    max_exposure: float
    """Highest ``systemd-analyze security`` exposure; systemd/README.md says why."""


# The RDP host beside rdp_gate (docs/rdp.md, systemd/README.md "The RDP host").
XRDP = HostUnit("lucid-xrdp.service", MAX_EXPOSURE)
# Root, and whatever it sets binds every session it starts: a login service (7.3 measured;
# Debian's own xrdp-sesman.service has 9.6).
SESMAN = HostUnit("lucid-xrdp-sesman.service", 7.3)
GUARD = HostUnit("lucid-rdp-guard.service", MAX_EXPOSURE)
HOST_UNITS: tuple[HostUnit, ...] = (XRDP, SESMAN, GUARD)
NFT_RULESET = SYSTEMD_DIR / "nftables" / "lucid-rdp.nft"
TMPFILES_RDP_CONF = SYSTEMD_DIR / "tmpfiles.d" / "lucid-rdp.conf"
# Binaries the units run, copied into the scratch root (verify checks they exist there).
HOST_BINARIES = {
    "/usr/sbin/xrdp": "xrdp",
    "/usr/sbin/xrdp-sesman": "xrdp",
    "/usr/sbin/nft": "nftables",
}

# Debian 12 package of each external tool the tests run.
TOOL_PACKAGES = {
    "systemd-analyze": "systemd",
    "systemd-sysusers": "systemd",
    "systemd-tmpfiles": "systemd",
    "dbus-daemon": "dbus-daemon",
    "unshare": "util-linux",
    "setpriv": "util-linux",
    "mount": "mount",
    "nft": "nftables",
    "ip": "iproute2",
}


def tool(name: str) -> str:
    """Absolute path of an external tool; fails the test, naming the package, if missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: apt-get install {TOOL_PACKAGES[name]}")
    return path


def run(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a tool to completion, capturing stdout and stderr as text.

    SYSTEMD_* variables of the caller are dropped (SYSTEMD_UNIT_PATH and friends would change
    what the tools load); ``env`` adds to the rest.
    """
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SYSTEMD_")}
    clean.update(env or {})
    return subprocess.run(
        list(argv), capture_output=True, text=True, env=clean, timeout=120, check=False
    )


def describe(result: subprocess.CompletedProcess[str]) -> str:
    """Everything a failing assertion about a tool run should show."""
    return (
        f"$ {' '.join(result.args)}\nexit {result.returncode}\n"
        f"--- stdout\n{result.stdout}--- stderr\n{result.stderr}"
    )


UnitFile = dict[str, dict[str, list[str]]]
Credentials = tuple[int, int, list[int]]  # uid, gid, supplementary gids


def parse_unit(path: Path) -> UnitFile:
    """Sections of a unit file -> setting -> every value assigned, in order.

    Only the subset of the syntax these units use: no line continuations, no quoting.
    """
    sections: UnitFile = {}
    current: dict[str, list[str]] | None = None
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        assert not line.endswith("\\"), f"{path.name}:{number}: continuation lines not supported"
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}:{number}: setting outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}:{number}: not a setting: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def sysusers_lines(path: Path = SYSUSERS_CONF) -> list[list[str]]:
    """The sysusers.d lines as fields (the quoted GECOS field kept whole)."""
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            lines.append(shlex.split(line))
    return lines


@dataclasses.dataclass(frozen=True)
class SysRoot:
    """A scratch root file system: the host's users plus Lucid's, and the units installed."""

    path: Path

    def _rows(self, table: str) -> list[list[str]]:
        text = (self.path / "etc" / table).read_text()
        return [line.split(":") for line in text.splitlines() if line]

    def uid(self, user: str) -> int:
        return next(int(row[2]) for row in self._rows("passwd") if row[0] == user)

    def gid(self, group: str) -> int:
        return next(int(row[2]) for row in self._rows("group") if row[0] == group)

    def primary_gid(self, user: str) -> int:
        return next(int(row[3]) for row in self._rows("passwd") if row[0] == user)

    def shell(self, user: str) -> str:
        return next(row[6] for row in self._rows("passwd") if row[0] == user)

    def member_of(self, user: str) -> set[str]:
        """Groups that list ``user`` as a member (not its primary group)."""
        return {row[0] for row in self._rows("group") if user in row[3].split(",")}

    def credentials(self, user: str) -> Credentials:
        """uid, gid and supplementary gids, as initgroups() would give them."""
        return (
            self.uid(user),
            self.primary_gid(user),
            sorted(self.gid(group) for group in self.member_of(user)),
        )
