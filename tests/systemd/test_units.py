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
    MAX_EXPOSURE,
    TARGET,
    UNIT_DIR,
    VENV_PYTHON,
    Daemon,
    SysRoot,
    describe,
    parse_unit,
    run,
    sysusers_lines,
    tool,
)

ALL_UNITS = [*(d.unit for d in DAEMONS), TARGET]
EXPOSURE = re.compile(r"Overall exposure level for (\S+): (\d+\.\d+)")
THRESHOLD = round(MAX_EXPOSURE * 10)  # --threshold= counts in tenths of the printed score

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
# that serves the network, such as helpers.LAN_WEB_PAGE. IPAddressDeny=any always stays.
NETWORK_SETTINGS = {"PrivateNetwork", "RestrictAddressFamilies"}
INET_FAMILIES = {"AF_UNIX", "AF_INET", "AF_INET6"}


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


def security(sysroot: SysRoot, unit: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Offline exposure score of ``unit`` as installed in the scratch root, and the run."""
    result = run(
        [
            tool("systemd-analyze"), f"--root={sysroot.path}", "--no-pager",
            "security", "--offline=true", f"--threshold={THRESHOLD}", unit,
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


@pytest.mark.parametrize("daemon", DAEMONS, ids=lambda d: d.name)
def test_security_exposure(sysroot: SysRoot, daemon: Daemon) -> None:
    exposure, result = security(sysroot, daemon.unit)
    print(f"{daemon.unit}: exposure {exposure}")
    assert exposure <= MAX_EXPOSURE, describe(result)
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
    replaced = set(daemon.unit_extras) & set(template)
    assert replaced <= NETWORK_SETTINGS, f"replaces template settings {replaced - NETWORK_SETTINGS}"
    if not replaced:
        return
    # Leaving the private network namespace takes an address allow-list; the deny stays any.
    extras = daemon.unit_extras
    assert extras["PrivateNetwork"] == ("no",)
    (families,) = extras["RestrictAddressFamilies"]
    assert "AF_UNIX" in families.split() and set(families.split()) <= INET_FAMILIES, families
    allowed = " ".join(extras.get("IPAddressAllow", ())).split()
    assert allowed and "any" not in allowed, "a networked daemon lists whom it may talk to"
    assert "IPAddressDeny" not in extras


def test_target_wants_every_daemon() -> None:
    target = parse_unit(UNIT_DIR / TARGET)
    wanted = " ".join(target["Unit"]["Wants"]).split()
    assert sorted(wanted) == sorted(d.unit for d in DAEMONS)
    assert target["Install"] == {"WantedBy": ["multi-user.target"]}


@pytest.mark.parametrize("daemon", DAEMONS, ids=lambda d: d.name)
def test_unit_groups_match_sysusers(daemon: Daemon) -> None:
    """SupplementaryGroups= repeats the sysusers.d memberships, no more, no fewer."""
    members = {fields[2] for fields in sysusers_lines() if fields[:2] == ["m", daemon.user]}
    (groups,) = parse_unit(UNIT_DIR / daemon.unit)["Service"]["SupplementaryGroups"]
    assert set(groups.split()) == members
