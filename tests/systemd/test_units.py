"""The units in systemd/system: systemd's own verdict on them, and the shared template.

``systemd-analyze verify`` and ``systemd-analyze security --offline`` run on a scratch root
(see conftest.sysroot) where the units are installed as on the device. verify exits 0 on
unknown settings and only warns, so any output on stderr fails the test too.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess

import pytest

from tests.systemd.helpers import (
    DAEMONS,
    HOST_UNITS,
    MAX_EXPOSURE,
    SPOOL,
    TARGET,
    UNIT_DIR,
    VENV_PYTHON,
    X_SESSION_CAPS,
    Daemon,
    HostUnit,
    SysRoot,
    describe,
    parse_unit,
    run,
    sysusers_lines,
    tool,
)

ALL_UNITS = [*(d.unit for d in DAEMONS), *(u.unit for u in HOST_UNITS), TARGET]
EXPOSURE = re.compile(r"Overall exposure level for (\S+): (\d+\.\d+)")

# The sandbox every lucid-*.service has, word for word (one value per setting).
HARDENING: dict[str, str] = {
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "DevicePolicy": "closed",
    "PrivateMounts": "yes",
    "PrivateNetwork": "yes",
    "RestrictAddressFamilies": "AF_UNIX",
    "IPAddressDeny": "any",
    "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectProc": "invisible",
    "ProcSubset": "pid",
    "KeyringMode": "private",
    "RemoveIPC": "yes",
    "SystemCallArchitectures": "native",
    "SystemCallErrorNumber": "EPERM",
    "LimitCORE": "0",
}
# The only template settings a daemon may replace (through unit_extras): those of a daemon
# that serves the network, such as helpers.LAN_WEB_PAGE (IPAddressDeny=any always stays);
# those of a daemon that must act on other users' sessions, helpers.X_SESSIONS (ambient
# capabilities, read-only homes); and the system call filter, only ever narrowed.
NETWORK_SETTINGS = {"PrivateNetwork", "RestrictAddressFamilies"}
PRIVILEGE_SETTINGS = {"CapabilityBoundingSet", "AmbientCapabilities", "ProtectHome"}
INET_FAMILIES = {"AF_UNIX", "AF_INET", "AF_INET6"}
# Capabilities a Lucid daemon may hold at all (rdp_gate's; see systemd/README.md). Never
# CAP_SYS_ADMIN, CAP_DAC_OVERRIDE, CAP_SETUID, CAP_CHOWN and the like.
ALLOWED_CAPS = set(X_SESSION_CAPS.split())


def expected_service(daemon: Daemon) -> dict[str, list[str]]:
    """The complete [Service] section of a daemon's unit: template plus its own extras."""
    expected = {
        "Type": ["notify"],
        "NotifyAccess": ["main"],
        "ExecStart": [f"{VENV_PYTHON} -m lucid.{daemon.name}"],
        "SyslogIdentifier": [daemon.user],
        "WatchdogSec": ["30"],
        "Restart": ["on-failure"],
        "RestartSec": ["5"],
        "User": [daemon.user],
        "Group": [daemon.user],
        "SupplementaryGroups": [" ".join(daemon.groups)],
        "StateDirectory": [f"lucid/{daemon.name}"],
        "StateDirectoryMode": ["0700"],
        "RuntimeDirectory": [f"lucid/{daemon.name}"],
        "RuntimeDirectoryMode": ["0700"],
        "ConfigurationDirectory": ["lucid"],
        "UMask": [daemon.umask],
        "SystemCallFilter": ["@system-service", "~@privileged @resources"],
        **{key: [value] for key, value in HARDENING.items()},
        **{key: list(values) for key, values in daemon.unit_extras.items()},
    }
    if daemon.read_write:
        expected["ReadWritePaths"] = list(daemon.read_write)
    return expected


def security(
    sysroot: SysRoot, unit: str, limit: float = MAX_EXPOSURE
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Offline exposure score of ``unit`` as installed in the scratch root, and the run.

    ``--threshold=`` counts in tenths of the printed score: the run fails above ``limit``.
    """
    result = run(
        [
            tool("systemd-analyze"), f"--root={sysroot.path}", "--no-pager",
            "security", "--offline=true", f"--threshold={round(limit * 10)}", unit,
        ]
    )  # fmt: skip
    match = EXPOSURE.search(result.stdout)
    assert match and match[1] == unit, describe(result)
    return float(match[2]), result


def test_units_are_the_daemons_and_the_target() -> None:
    assert sorted(p.name for p in UNIT_DIR.iterdir()) == sorted(ALL_UNITS)


@pytest.mark.parametrize("unit", ALL_UNITS)
def test_verify(sysroot: SysRoot, unit: str) -> None:
    result = run([tool("systemd-analyze"), f"--root={sysroot.path}", "verify", unit])
    assert result.returncode == 0 and not result.stderr and not result.stdout, describe(result)


def test_verify_reports_an_unknown_setting(sysroot: SysRoot) -> None:
    """The harness notices a bad unit: verify still exits 0, stderr names the setting."""
    bad = sysroot.path / "etc/systemd/system/lucid-selftest-bad.service"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text((UNIT_DIR / DAEMONS[0].unit).read_text() + "NoSuchSetting=yes\n")
    try:
        result = run([tool("systemd-analyze"), f"--root={sysroot.path}", "verify", bad.name])
    finally:
        bad.unlink()
    assert "NoSuchSetting" in result.stderr, describe(result)


@pytest.mark.parametrize("unit", [*DAEMONS, *HOST_UNITS], ids=lambda u: u.unit)
def test_security_exposure(sysroot: SysRoot, unit: Daemon | HostUnit) -> None:
    """2.0 at most, but for the units whose limit systemd/README.md explains."""
    exposure, result = security(sysroot, unit.unit, unit.max_exposure)
    print(f"{unit.unit}: exposure {exposure}")
    assert exposure <= unit.max_exposure, describe(result)
    assert result.returncode == 0 and not result.stderr, describe(result)


def test_security_fails_an_unhardened_unit(sysroot: SysRoot) -> None:
    """The harness notices a weak unit: the threshold makes systemd-analyze exit non-zero."""
    plain = sysroot.path / "etc/systemd/system/lucid-selftest-plain.service"
    plain.parent.mkdir(parents=True, exist_ok=True)
    plain.write_text(f"[Service]\nType=notify\nExecStart={VENV_PYTHON} -m lucid.walletd\n")
    try:
        exposure, result = security(sysroot, plain.name)
    finally:
        plain.unlink()
    assert exposure > MAX_EXPOSURE, describe(result)
    assert result.returncode != 0, describe(result)


@pytest.mark.parametrize("daemon", DAEMONS, ids=lambda d: d.name)
def test_service_follows_the_template(daemon: Daemon) -> None:
    unit = parse_unit(UNIT_DIR / daemon.unit)
    assert set(unit) == {"Unit", "Service"}, "no [Install]: lucid.target pulls the services in"
    assert unit["Service"] == expected_service(daemon)
    head = unit["Unit"]
    assert set(head) <= {"Description", "Requires", "Wants", "After", "PartOf"}
    assert head["Requires"] == ["dbus.service"]
    assert "dbus.service" in " ".join(head["After"]).split()
    assert head["PartOf"] == [TARGET]
    for key in ("Wants", "After"):
        for name in " ".join(head.get(key, [])).split():
            assert name == "dbus.service" or name in ALL_UNITS, f"{key}={name}: not a Lucid unit"


@pytest.mark.parametrize("daemon", DAEMONS, ids=lambda d: d.name)
def test_only_the_network_settings_leave_the_template(daemon: Daemon) -> None:
    template = expected_service(dataclasses.replace(daemon, unit_extras={}))
    extras = daemon.unit_extras
    replaced = set(extras) & set(template)
    allowed = NETWORK_SETTINGS | PRIVILEGE_SETTINGS | {"SystemCallFilter"}
    assert replaced <= allowed, f"replaces template settings {replaced - allowed}"
    if "SystemCallFilter" in extras:
        # Only narrowed: the template's lines first, then deny lists.
        lines = extras["SystemCallFilter"]
        n = len(template["SystemCallFilter"])
        assert list(lines[:n]) == template["SystemCallFilter"], lines
        assert all(line.startswith("~") for line in lines[n:]), lines
    if replaced & PRIVILEGE_SETTINGS:
        # Capabilities only as a daemon's own user, ambient, and the bounding set no wider.
        (ambient,) = extras.get("AmbientCapabilities", ("",))
        assert extras.get("CapabilityBoundingSet", ("",)) == (ambient,)
        assert set(ambient.split()) <= ALLOWED_CAPS, ambient
        assert extras.get("ProtectHome", ("read-only",)) == ("read-only",)
    if not replaced & NETWORK_SETTINGS:
        return
    # Leaving the private network namespace takes an address allow-list; the deny stays any.
    assert extras["PrivateNetwork"] == ("no",)
    (families,) = extras["RestrictAddressFamilies"]
    assert "AF_UNIX" in families.split() and set(families.split()) <= INET_FAMILIES, families
    allowed = " ".join(extras.get("IPAddressAllow", ())).split()
    assert allowed and "any" not in allowed, "a networked daemon lists whom it may talk to"
    assert "IPAddressDeny" not in extras


def test_target_wants_every_daemon() -> None:
    target = parse_unit(UNIT_DIR / TARGET)
    wanted = " ".join(target["Unit"]["Wants"]).split()
    assert sorted(wanted) == sorted([*(d.unit for d in DAEMONS), *(u.unit for u in HOST_UNITS)])
    assert target["Install"] == {"WantedBy": ["multi-user.target"]}


@pytest.mark.parametrize("daemon", DAEMONS, ids=lambda d: d.name)
def test_unit_groups_match_sysusers(daemon: Daemon) -> None:
    """SupplementaryGroups= repeats the sysusers.d memberships, no more, no fewer."""
    members = {fields[2] for fields in sysusers_lines() if fields[:2] == ["m", daemon.user]}
    (groups,) = parse_unit(UNIT_DIR / daemon.unit)["Service"]["SupplementaryGroups"]
    assert set(groups.split()) == members


def test_rdp_gate_hides_what_it_could_read() -> None:
    """CAP_DAC_READ_SEARCH reads any file it sees: every other daemon's state directory and
    the plaintext spool are out of its namespace (a new daemon must be added there too)."""
    (gate,) = (d for d in DAEMONS if d.name == "rdp_gate")
    hidden = set(" ".join(parse_unit(UNIT_DIR / gate.unit)["Service"]["InaccessiblePaths"]).split())
    others = {f"-/var/lib/lucid/{d.name}" for d in DAEMONS if d is not gate}
    assert others | {f"-{SPOOL}", "-/etc/shadow", "-/etc/ssh"} <= hidden
    # ... and it starts after them, so that those directories exist when it does.
    after = set(" ".join(parse_unit(UNIT_DIR / gate.unit)["Unit"]["After"]).split())
    assert {d.unit for d in DAEMONS if d is not gate} <= after
